import TensorCore

/// A model description checked and compiled: every layer's input indices and output shape,
/// the parameter and buffer tensors in application order, and when each output is last read.
/// Built once from a `ModelGraph`; the forward pass (`Model+Forward.swift`) is a loop over it.
public struct Model: Sendable {
  public let graph: ModelGraph
  /// Per layer, the indices of the layers it reads (`Model.networkInput` for the input).
  public let inputIndices: [[Int]]
  /// Per layer, the output shape of one example.
  public let shapes: [[Int]]
  /// Per layer, the engine operation it lowers to.
  public let operations: [Operation]
  /// Every parameter tensor, in application order (the order `Initialization` draws them in).
  public let specifications: [ParameterSpecification]
  /// Every buffer (BatchNorm running statistics) with its starting value.
  public let bufferSpecifications: [(name: String, shape: [Int], initialValue: Double)]
  /// Per layer, the index of the last layer that reads its output (the network input's is
  /// `lastReadOfInput`); the final layer's is `nodes.count`.
  public let lastRead: [Int]
  public let lastReadOfInput: Int

  /// Per layer, whether a BatchNorm layer reads its output: a convolution then hands dual
  /// numbers and jets (H·v, Taylor mode) over in NCHW, which their BatchNorm runs in, instead
  /// of oneDNN's blocked layout (`Tape.conv2d`'s `blockedSeriesOutput`).
  public let feedsBatchNorm: [Bool]

  /// Per layer, whether it runs alone or fused with the activation that reads it
  /// (`ElementwiseFusion`).
  public let fusion: [ElementwiseFusion.Step]

  /// Each input of each add and concat layer, in application order: (layer, its kind, the
  /// layer it reads or `ModelGraph.inputName`). `ModelForward.mergeInputs` follows this order.
  public var merges: [(layer: String, kind: String, input: String)] {
    graph.nodes.enumerated().flatMap { position, node in
      type(of: node.layer).takesSeveralInputs
        ? inputIndices[position].map { source in
          (
            node.name, type(of: node.layer).kind,
            source == Self.networkInput ? ModelGraph.inputName : graph.nodes[source].name
          )
        } : []
    }
  }

  /// The index standing for the network's input in `inputIndices`.
  public static let networkInput = -1

  /// Checks and compiles `graph`.
  /// - Throws: `ModelError` naming the first layer that does not fit: a duplicate or unknown
  ///   name, an input that is not an earlier layer, shapes that do not connect, an output that
  ///   is not a vector of class scores.
  public init(_ graph: ModelGraph) throws(ModelError) {
    self.graph = graph
    guard graph.input.count == 3, graph.input.allSatisfy({ $0 >= 1 }) else {
      throw ModelError("input must be [channels, height, width] with every size at least 1, got \(graph.input)")
    }
    guard !graph.nodes.isEmpty else { throw ModelError("has no layers") }
    var index: [String: Int] = [ModelGraph.inputName: Self.networkInput]
    var inputIndices: [[Int]] = []
    var shapes: [[Int]] = []
    var specifications: [ParameterSpecification] = []
    var buffers: [(name: String, shape: [Int], initialValue: Double)] = []
    var blocks: Set<String> = []
    for (position, node) in graph.nodes.enumerated() {
      func fail(_ message: String) -> ModelError { ModelError("layer '\(node.name)' (#\(position)): \(message)") }
      guard !node.name.isEmpty, index[node.name] == nil else {
        throw fail(node.name.isEmpty ? "has an empty name" : "the name is already taken")
      }
      let reads =
        node.inputs.isEmpty ? [position == 0 ? ModelGraph.inputName : graph.nodes[position - 1].name] : node.inputs
      var indices: [Int] = []
      for name in reads {
        guard let source = index[name] else {
          throw fail("its input '\(name)' is not an earlier layer (or 'input')")
        }
        indices.append(source)
      }
      let kind = type(of: node.layer)
      if kind.takesSeveralInputs {
        guard indices.count >= 2 else { throw fail("\(kind.kind) needs at least two inputs, got \(indices.count)") }
      } else if indices.count != 1 {
        throw fail("\(kind.kind) takes one input, got \(indices.count)")
      }
      let inputShapes = indices.map { $0 == Self.networkInput ? graph.input : shapes[$0] }
      let shape: [Int]
      do {
        shape = try node.layer.outputShape(for: inputShapes)
      } catch {
        throw fail("\(error.message) (inputs \(inputShapes.map { "\($0)" }.joined(separator: ", ")))")
      }
      guard shape.allSatisfy({ $0 >= 1 }) else { throw fail("its output \(shape) is empty") }
      if let block = node.block {
        guard blocks.insert(block).inserted else { throw fail("block '\(block)' already ends at an earlier layer") }
      }
      for parameter in node.layer.parameters(for: inputShapes) {
        specifications.append(
          ParameterSpecification(
            name: "\(node.name).\(parameter.suffix)", shape: parameter.shape, role: parameter.role,
            fanIn: parameter.fanIn, fanOut: parameter.fanOut))
      }
      for buffer in node.layer.buffers(for: inputShapes) {
        buffers.append(("\(node.name).\(buffer.suffix)", buffer.shape, buffer.initialValue))
      }
      index[node.name] = position
      inputIndices.append(indices)
      shapes.append(shape)
    }
    guard let output = shapes.last, output.count == 1, output[0] >= 2 else {
      throw ModelError(
        "the last layer '\(graph.nodes.last!.name)' must give a vector of at least 2 class scores, gives \(shapes.last!)"
      )
    }
    var lastRead = Array(0..<graph.nodes.count)
    var lastReadOfInput = 0
    for (position, indices) in inputIndices.enumerated() {
      for source in indices {
        if source == Self.networkInput { lastReadOfInput = position } else { lastRead[source] = position }
      }
    }
    lastRead[graph.nodes.count - 1] = graph.nodes.count
    self.inputIndices = inputIndices
    self.shapes = shapes
    let operations = graph.nodes.map { $0.layer.operation }
    self.operations = operations
    self.specifications = specifications
    self.bufferSpecifications = buffers
    self.lastRead = lastRead
    self.lastReadOfInput = lastReadOfInput
    var feedsBatchNorm = [Bool](repeating: false, count: operations.count)
    for (position, operation) in operations.enumerated() {
      guard case .batchNorm = operation else { continue }
      for source in inputIndices[position] where source != Self.networkInput { feedsBatchNorm[source] = true }
    }
    self.feedsBatchNorm = feedsBatchNorm
    self.fusion = ElementwiseFusion.plan(
      operations: operations, inputIndices: inputIndices, endsBlock: graph.nodes.map { $0.block != nil })
  }

  public var name: String { graph.name }
  /// [channels, height, width] of one example.
  public var inputShape: [Int] { graph.input }
  /// The number of classes (the length of the last layer's output).
  public var classes: Int { shapes.last![0] }
  /// The blocks whose outputs traces record, in order, with the layer that ends each.
  public var blocks: [(name: String, layer: Int)] {
    graph.nodes.enumerated().compactMap { position, node in node.block.map { ($0, position) } }
  }
  /// The parameters of each block: those of the layers after the previous block's last layer up
  /// to its own (layers after the last block, the head, form a block named "head").
  public var blockParameters: [(name: String, parameters: [String])] {
    var result: [(name: String, parameters: [String])] = []
    var current: [String] = []
    for node in graph.nodes {
      current += specifications.filter { $0.name.hasPrefix(node.name + ".") }.map(\.name)
      if let block = node.block {
        result.append((block, current))
        current = []
      }
    }
    if !current.isEmpty { result.append(("head", current)) }
    return result.filter { !$0.parameters.isEmpty }
  }
  /// The total number of trainable scalars.
  public var parameterCount: Int { specifications.reduce(0) { $0 + $1.elementCount } }
  /// The weight tensors of the gradient-flow figure (conv weights, BatchNorm γ, linear
  /// weights), in application order.
  public var weightTensors: [ParameterSpecification] { specifications.filter(\.role.isWeightTensor) }
  /// Whether any activation saturates (sigmoid, tanh): traces then count saturated units.
  public var saturates: Bool { graph.nodes.contains { $0.layer is Sigmoid || $0.layer is Tanh } }

  /// Parameters drawn by `initialization` from `seed`, in application order.
  public func initialParameters<Scalar: TensorScalar>(
    _ initialization: Initialization, seed: UInt64, as _: Scalar.Type = Scalar.self
  ) -> NamedTensors<Scalar> {
    var generator = SeededGenerator(seed: seed)
    var parameters = NamedTensors<Scalar>()
    for specification in specifications {
      parameters.append(initialization.draw(specification, using: &generator), named: specification.name)
    }
    return parameters
  }

  /// Buffers at their starting values (running mean 0, running variance 1).
  public func initialBuffers<Scalar: TensorScalar>(as _: Scalar.Type = Scalar.self) -> NamedTensors<Scalar> {
    var buffers = NamedTensors<Scalar>()
    for buffer in bufferSpecifications {
      buffers.append(Tensor(repeating: Scalar(buffer.initialValue), shape: buffer.shape), named: buffer.name)
    }
    return buffers
  }
}

/// A model description that cannot be built, with a message naming the layer.
public struct ModelError: Error, CustomStringConvertible, Sendable {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}
