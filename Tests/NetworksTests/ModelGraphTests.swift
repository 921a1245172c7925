import Autodiff
import Foundation
import Networks
import TensorCore
import Testing

/// Networks as data: model files, their errors, and the derivatives of networks built from
/// every layer kind (max pooling, concatenation, dropout with its mask fixed, ReLU, tanh) against
/// central differences in Double.
@Suite("Model descriptions")
struct ModelGraphTests {
  static func decode(_ json: String) throws -> ModelGraph {
    try JSONDecoder().decode(ModelGraph.self, from: Data(json.utf8))
  }

  /// The example model file of the repository (a small CNN with max pooling, dropout and a
  /// concatenation of three branches).
  static func exampleModel() throws -> Model {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
      "../../examples/models/small-cnn.json")
    return try Model(decode(String(contentsOf: url, encoding: .utf8)))
  }

  /// A residual network with identity and projection shortcuts (BatchNorm, ReLU).
  static func residualModel() throws -> Model {
    var graph = ModelGraphBuilder(name: "tiny-resnet", input: [2, 8, 8])
    graph.add("stem.conv", Conv2d(outChannels: 4, kernel: 3, padding: 1, bias: false))
    graph.add("stem.bn", BatchNorm())
    let stem = graph.add("stem.relu", ReLU(), block: "stem")
    graph.add("block.conv_0", Conv2d(outChannels: 4, kernel: 3, padding: 1, bias: false))
    graph.add("block.bn_0", BatchNorm())
    graph.add("block.relu_0", ReLU())
    graph.add("block.conv_1", Conv2d(outChannels: 4, kernel: 3, padding: 1, bias: false))
    let main = graph.add("block.bn_1", BatchNorm())
    graph.add("block.add", Add(), inputs: [main, stem])
    let block = graph.add("block.relu_1", ReLU(), block: "block")
    graph.add("down.conv", Conv2d(outChannels: 6, kernel: 3, stride: 2, padding: 1))
    let down = graph.add("down.tanh", Tanh())
    let shortcut = graph.add(
      "down.shortcut", Conv2d(outChannels: 6, kernel: 1, stride: 2, bias: false), inputs: [block])
    graph.add("down.add", Add(), inputs: [down, shortcut], block: "down")
    graph.add("pool", GlobalAveragePool())
    graph.add("fc", Linear(outFeatures: 5))
    return try Model(graph.graph)
  }

  /// A dense block of two bottleneck layers and a transition (DenseNet-BC's pattern).
  static func denseModel() throws -> Model {
    var graph = ModelGraphBuilder(name: "tiny-densenet", input: [2, 8, 8])
    var features = graph.add("conv0", Conv2d(outChannels: 4, kernel: 3, padding: 1, bias: false))
    for layer in 0..<2 {
      let name = "dense.layer_\(layer)"
      graph.add("\(name).bn_0", BatchNorm(), inputs: [features])
      graph.add("\(name).relu_0", ReLU())
      graph.add("\(name).conv_0", Conv2d(outChannels: 6, kernel: 1, bias: false))
      graph.add("\(name).bn_1", BatchNorm())
      graph.add("\(name).relu_1", ReLU())
      let new = graph.add("\(name).conv_1", Conv2d(outChannels: 3, kernel: 3, padding: 1, bias: false))
      features = graph.add("\(name).concat", Concat(), inputs: [features, new], block: name)
    }
    graph.add("transition.bn", BatchNorm())
    graph.add("transition.relu", ReLU())
    graph.add("transition.conv", Conv2d(outChannels: 5, kernel: 1, bias: false))
    graph.add("transition.pool", AveragePool(window: 2), block: "transition")
    graph.add("pool", GlobalAveragePool())
    graph.add("fc", Linear(outFeatures: 3))
    return try Model(graph.graph)
  }

  /// A CIFAR ResNet with its option-A shortcut (He et al. 2016), at the smallest depth and size.
  static func cifarResNetModel() throws -> Model {
    try Model(ResNetConfiguration(depth: 8, inputChannels: 2, inputHeight: 8, inputWidth: 8, classes: 3).graph)
  }

  static let models: [(String, @Sendable () throws -> Model)] = [
    ("example model file", exampleModel), ("residual", residualModel), ("dense", denseModel),
    ("cifar resnet (option A shortcuts)", cifarResNetModel),
  ]

  @Test func exampleFileDescribesItsNetwork() throws {
    let model = try Self.exampleModel()
    #expect(model.classes == 10 && model.inputShape == [1, 16, 16])
    #expect(model.blocks.map(\.name) == ["stem", "merge", "head"])
    // The concatenation holds 8 + 4 + 4 channels; max pooling halves 16×16; the stride-2 head 4×4.
    #expect(model.shapes[7] == [16, 16, 16] && model.shapes[8] == [16, 8, 8] && model.shapes[9] == [8, 4, 4])
    #expect(
      model.specifications.map(\.name).prefix(4) == [
        "stem.conv.weight", "stem.bn.weight", "stem.bn.bias", "branch_a.conv.weight",
      ])
    #expect(model.specifications.last!.shape == [10] && model.specifications.dropLast().last!.shape == [10, 128])
    // Written back, the description reads as the same network.
    #expect(try Self.decode(model.graph.json) == model.graph)
  }

  @Test func theVGGFamilyIsADescriptionToo() throws {
    let configuration = VGGConfiguration.preset(.vgg38, batchNorm: true, residual: true)
    let model = try Model(Self.decode(configuration.graph.json))
    #expect(model.parameterCount == 341_572)
    #expect(try model.specifications.map(\.name) == Network<Float>(configuration).specifications.map(\.name))
  }

  @Test(arguments: [
    (#"{"name":"x","kind":"conv3d"}"#, "layer 'x': unknown kind 'conv3d'"),
    (#"{"name":"c","kind":"conv2d","out_channels":4,"kernal":3}"#, "layer 'c': unknown attribute 'kernal'"),
    (#"{"name":"c","kind":"conv2d","out_channels":4}"#, "layer 'c': conv2d needs the attribute 'kernel'"),
    (#"{"name":"p","kind":"maxpool","window":"2"}"#, "layer 'p': attribute 'window' has the wrong type"),
    (#"{"kind":"relu"}"#, "has no name"),
  ])
  func badEntriesNameTheLayer(entry: String, message: String) throws {
    let json = #"{"name":"bad","input":[1,8,8],"layers":[\#(entry)]}"#
    do {
      _ = try Self.decode(json)
      Issue.record("\(entry) was accepted")
    } catch {
      #expect("\(error)".contains(message), "\(error)")
    }
  }

  @Test(arguments: [
    (#"[{"name":"a","kind":"relu","inputs":["b"]}]"#, "layer 'a' (#0): its input 'b' is not an earlier layer"),
    (#"[{"name":"a","kind":"linear","out_features":3}]"#, "layer 'a' (#0): needs a flat [features] input"),
    (#"[{"name":"a","kind":"maxpool","window":16}]"#, "layer 'a' (#0): a 16×16 window does not fit a 8×8 input"),
    (
      #"[{"name":"a","kind":"conv2d","out_channels":2,"kernel":1},{"name":"b","kind":"add","inputs":["a","input"]}]"#,
      "layer 'b' (#1): adds inputs of one shape"
    ),
    (#"[{"name":"a","kind":"relu"},{"name":"a","kind":"relu"}]"#, "layer 'a' (#1): the name is already taken"),
    (#"[{"name":"a","kind":"global_avgpool"}]"#, "must give a vector of at least 2 class scores"),
  ])
  func descriptionsThatDoNotConnectNameTheLayer(layers: String, message: String) throws {
    let graph = try Self.decode(#"{"name":"bad","input":[1,8,8],"layers":\#(layers)}"#)
    #expect(throws: ModelError.self) { try Model(graph) }
    do {
      _ = try Model(graph)
    } catch {
      #expect(error.message.contains(message), "\(error.message)")
    }
  }

  /// gᵀv against (f(w + hv) − f(w − hv)) / 2h, and vᵀHv by H·v and by Taylor mode against
  /// (g(w + hv) − g(w − hv))ᵀv / 2h, in training mode with the dropout mask fixed by the seed.
  @Test(arguments: 0..<4)
  func derivativesMatchCentralDifferences(index: Int) throws {
    let model = try Self.models[index].1()
    let parameters: NamedTensors<Double> = model.initialParameters(.pytorchDefault, seed: 3)
    let buffers: NamedTensors<Double> = model.initialBuffers()
    let images = Self.random([4] + model.inputShape, seed: 5)
    let labels = (0..<4).map { $0 % model.classes }
    var generator = SeededGenerator(seed: 7)
    let v = parameters.filled { _, _ in generator.nextUniform(-1, 1) }
    let seed: UInt64 = 11
    func loss(_ s: Double) -> Double {
      model.loss(
        parameters: parameters.adding(v, scaledBy: s), buffers: buffers, images: images, labels: labels,
        mode: .training, seed: seed
      ).loss
    }
    func slope(_ s: Double) -> Double {
      model.gradient(
        parameters: parameters.adding(v, scaledBy: s), buffers: buffers, images: images, labels: labels, seed: seed
      ).gradient.dot(v)
    }
    let g = model.gradient(parameters: parameters, buffers: buffers, images: images, labels: labels, seed: seed)
    let h = 1e-6
    let numericSlope = (loss(h) - loss(-h)) / (2 * h)
    #expect(abs(g.gradient.dot(v) - numericSlope) <= 1e-6 * max(1, abs(numericSlope)), "\(Self.models[index].0)")

    let hv = model.hessianVectorProduct(
      parameters: parameters, buffers: buffers, images: images, labels: labels, direction: v, seed: seed)
    let jets = model.curvature(
      parameters: parameters, buffers: buffers, images: images, labels: labels, along: v, seed: seed)
    let numericCurvature = (slope(h) - slope(-h)) / (2 * h)
    let vHv = hv.product.dot(v)
    #expect(abs(vHv - numericCurvature) <= 1e-5 * max(1, abs(numericCurvature)), "H·v \(vHv) vs \(numericCurvature)")
    #expect(abs(jets.curvature - vHv) <= 1e-9 * max(1, abs(vHv)), "jets \(jets.curvature) vs H·v \(vHv)")
    #expect(abs(jets.slope - g.gradient.dot(v)) <= 1e-9 * max(1, abs(jets.slope)))
  }

  /// One seed, one mask: every pass of a step sees the same dropout; another seed another.
  @Test func dropoutFollowsTheSeed() throws {
    let model = try Self.exampleModel()
    let parameters: NamedTensors<Double> = model.initialParameters(.pytorchDefault, seed: 1)
    let buffers: NamedTensors<Double> = model.initialBuffers()
    let images = Self.random([4, 1, 16, 16], seed: 2)
    let labels = [1, 2, 3, 4]
    func loss(_ seed: UInt64, _ mode: NetworkMode = .training) -> Double {
      model.loss(parameters: parameters, buffers: buffers, images: images, labels: labels, mode: mode, seed: seed).loss
    }
    #expect(loss(5) == loss(5))
    #expect(loss(5) != loss(6))
    #expect(loss(5, .evaluation) == loss(6, .evaluation), "no dropout in evaluation mode")
  }

  static func random(_ shape: [Int], seed: UInt64) -> Tensor<Double> {
    var generator = SeededGenerator(seed: seed)
    return Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in generator.nextUniform(-1, 1) })
  }
}
