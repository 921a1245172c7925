/// A block replaced by the identity, for the skip analysis (`gradtrace probe --skip-analysis`).
extension Model {
  /// The layers of block `block`: from the layer after the previous block's end (or the first
  /// layer) to the layer that ends it, and the name of what it reads (the previous block's
  /// output or `ModelGraph.inputName`); nil when no layer ends that block.
  public func layers(ofBlock block: String) -> (positions: ClosedRange<Int>, input: String)? {
    guard let end = graph.nodes.firstIndex(where: { $0.block == block }) else { return nil }
    let previous = graph.nodes[..<end].lastIndex { $0.block != nil }
    return ((previous.map { $0 + 1 } ?? 0)...end, previous.map { graph.nodes[$0].name } ?? ModelGraph.inputName)
  }

  /// The description with block `block` replaced by the identity: its layers removed and every
  /// later read of its output redirected to its input. Throws (with the reason) when that is
  /// not a network: the block's output shape differs from its input's, or a later layer reads
  /// one of its inner layers.
  public func skipping(block: String) throws(ModelError) -> ModelGraph {
    guard let (positions, input) = layers(ofBlock: block) else { throw ModelError("no block '\(block)'") }
    let end = positions.upperBound
    let inputShape = positions.lowerBound == 0 ? graph.input : shapes[positions.lowerBound - 1]
    guard shapes[end] == inputShape else {
      throw ModelError("block '\(block)' maps \(inputShape) to \(shapes[end]): no identity can replace it")
    }
    var nodes: [ModelGraph.Node] = []
    for (position, node) in graph.nodes.enumerated() where !positions.contains(position) {
      var node = node
      if position > end {
        if let inner = inputIndices[position].first(where: { positions.contains($0) && $0 != end }) {
          throw ModelError("layer '\(node.name)' reads '\(graph.nodes[inner].name)' inside block '\(block)'")
        }
        // An implicit read of the block's last layer becomes an explicit read of its input.
        if node.inputs.isEmpty && position == end + 1 { node.inputs = [input] }
        node.inputs = node.inputs.map { $0 == graph.nodes[end].name ? input : $0 }
      }
      nodes.append(node)
    }
    return ModelGraph(name: "\(graph.name) without \(block)", input: graph.input, nodes: nodes)
  }
}
