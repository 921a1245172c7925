import Curvature
import Networks
import TensorCore
import Testing

/// `probe --skip-analysis`: a block replaced by the identity is the network built without it,
/// and the reported loss change and flow ratios are those of that network against the whole.
@Suite("Skip analysis")
struct SkipAnalysisTests {
  /// stem (conv, BatchNorm, ReLU) → middle (conv, ReLU, same shape) → shortcut-reading tail.
  static func graph(withMiddle: Bool) -> ModelGraph {
    var graph = ModelGraphBuilder(name: "skip", input: [2, 6, 6])
    graph.add("stem.conv", Conv2d(outChannels: 3, kernel: 3, padding: 1))
    graph.add("stem.bn", BatchNorm())
    graph.add("stem.relu", ReLU(), block: "stem")
    if withMiddle {
      graph.add("middle.conv", Conv2d(outChannels: 3, kernel: 3, padding: 1))
      graph.add("middle.tanh", Tanh(), block: "middle")
    }
    graph.add("down.conv", Conv2d(outChannels: 4, kernel: 3, stride: 2, padding: 1))
    graph.add("down.add", Add(), inputs: ["down.conv", "down.conv"], block: "down")
    graph.add("pool", GlobalAveragePool())
    graph.add("fc", Linear(outFeatures: 3))
    return graph.graph
  }

  @Test func aSkippedBlockIsTheNetworkWithoutIt() throws {
    let whole = try Network<Double>(.graph(Self.graph(withMiddle: true)), initialization: .he, seed: 2)
    let skipped = try whole.model.skipping(block: "middle")
    #expect(skipped.nodes.map(\.name) == Self.graph(withMiddle: false).nodes.map(\.name))
    #expect(skipped.nodes.first { $0.name == "down.conv" }?.inputs == ["stem.relu"])

    // The same network built without the block, with the whole network's remaining weights.
    let without = try Model(Self.graph(withMiddle: false))
    let parameters = whole.parameters.filter { !$0.hasPrefix("middle.") }
    var generator = SeededGenerator(seed: 4)
    let images = Tensor<Double>(shape: [5, 2, 6, 6], scalars: (0..<360).map { _ in generator.nextNormal() })
    let labels = [0, 2, 1, 1, 0]
    let reference = without.gradient(parameters: parameters, buffers: whole.buffers, images: images, labels: labels)
    let intact = whole.model.gradient(
      parameters: whole.parameters, buffers: whole.buffers, images: images, labels: labels)
    let analysis = SkipAnalysis.measure(
      model: whole.model, parameters: whole.parameters, buffers: whole.buffers, images: images, labels: labels)
    let middle = try #require(analysis.blocks.first { $0.block == "middle" })
    func meanAbs(_ t: Tensor<Double>) -> Double { t.scalars.reduce(0) { $0 + abs($1) } / Double(t.count) }
    let expectedRatio =
      meanAbs(reference.gradient["stem.conv.weight"]!) / meanAbs(intact.gradient["stem.conv.weight"]!)
    #expect(abs(middle.lossChange! - (reference.loss - intact.loss)) <= 1e-12)
    #expect(abs(middle.firstLayerFlowRatio! - expectedRatio) <= 1e-12 * expectedRatio)
    #expect(abs(middle.firstLayerFlowRatio! - 1) > 1e-3, "skipping a block changes the flow below it")
    // The stem changes the shape, "down" halves it: neither can be replaced by the identity.
    #expect(analysis.blocks.first { $0.block == "stem" }?.notSkippable?.contains("no identity") == true)
    #expect(analysis.blocks.first { $0.block == "down" }?.notSkippable != nil)
  }

  @Test func aBlockReadFromOutsideCannotBeSkipped() throws {
    var graph = ModelGraphBuilder(name: "inner-read", input: [2, 4, 4])
    graph.add("a.conv", Conv2d(outChannels: 2, kernel: 3, padding: 1))
    graph.add("a.tanh", Tanh(), block: "a")
    graph.add("b.add", Add(), inputs: ["a.conv", "a.tanh"], block: "b")
    graph.add("pool", GlobalAveragePool())
    graph.add("fc", Linear(outFeatures: 2))
    let model = try Model(graph.graph)
    #expect(throws: ModelError.self) { try model.skipping(block: "a") }
    #expect(throws: ModelError.self) { try model.skipping(block: "nothing") }
  }
}
