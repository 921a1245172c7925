import ArgumentParser
import Foundation
import Networks
import Training

struct Describe: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Print a model's layers, output shapes and parameter counts.",
    discussion: """
      Output shapes are for one image (batch axis shown as N). Weight tensors are
      the conv weights, BatchNorm scales (γ) and the linear weight: the layers of
      the gradient-flow figure.

      The shape is CIFAR-100's by default (3x32x32, 100 classes: the paper's, so the
      parameter counts are Table 1's); --dataset gives another dataset's shape.

      Examples:
        gradtrace describe --model vgg38 --batchnorm --residual --json
        gradtrace describe --model vgg08 --dataset fashion-mnist
      """)

  @OptionGroup var modelOptions: ModelOptions

  @Option(help: "Describe the model for this dataset's shape (default: CIFAR-100's, the paper's).")
  var dataset: TrainingConfiguration.DatasetName?

  @Flag(help: "Print JSON (model, configuration, layers, parameter_count, weight_tensors).")
  var json = false

  func validate() throws { _ = try model() }

  func model() throws -> NetworkConfiguration {
    if let dataset { return try modelOptions.configuration(for: dataset.shape(), source: dataset.rawValue) }
    return try modelOptions.configuration(for: nil, source: "", fallback: .paper)
  }

  func run() throws {
    let configuration = try model()
    let network = try Network<Float>(configuration)
    let layers = network.layers()
    let weightLabels = network.weightTensors.map(\.label)
    if json {
      print(try LayerTable(network: network, layers: layers, weightLabels: weightLabels).json())
    } else {
      print(LayerTable(network: network, layers: layers, weightLabels: weightLabels).text)
      if dataset == nil && modelOptions.input == nil && modelOptions.classes == nil && modelOptions.modelFile == nil {
        print("shape: CIFAR-100's (the paper's); --dataset fashion-mnist|cifar10|cifar100 for another")
      }
      switch ReproductionPlan.paperLabel(of: configuration) {
      case let label?: print("the paper's \(label) (Table 1)")
      case nil: print("not one of the paper's models (Table 1 has no \(configuration.shortName))")
      }
    }
  }
}

/// The printed form of `describe`.
struct LayerTable: Encodable {
  struct Row: Encodable {
    var name: String
    var kind: String
    var outputShape: [Int]
    var parameters: Int
    enum CodingKeys: String, CodingKey {
      case name, kind, parameters
      case outputShape = "output_shape"
    }
  }
  var model: String
  var configuration: NetworkConfiguration
  var layers: [Row]
  var parameterCount: Int
  var weightTensors: [String]

  enum CodingKeys: String, CodingKey {
    case model, configuration, layers
    case parameterCount = "parameter_count"
    case weightTensors = "weight_tensors"
  }

  init(network: Network<Float>, layers: [LayerRecord], weightLabels: [String]) {
    model = network.configuration.shortName
    configuration = network.configuration
    self.layers = layers.map {
      Row(name: $0.name, kind: $0.kind, outputShape: Array($0.outputShape.dropFirst()), parameters: $0.parameters)
    }
    parameterCount = network.parameterCount
    weightTensors = weightLabels
  }

  func json() throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return String(decoding: try encoder.encode(self), as: UTF8.self)
  }

  /// ", activation leaky" for the VGG family, whose activation is an option.
  private var activationNote: String {
    guard case .vgg(let vgg) = configuration else { return "" }
    return ", activation \(vgg.activation.rawValue)"
  }

  var text: String {
    let shapes = layers.map { "N×" + $0.outputShape.map(String.init).joined(separator: "×") }
    let nameWidth = max(5, layers.map(\.name.count).max() ?? 0)
    let kindWidth = max(4, layers.map(\.kind.count).max() ?? 0)
    let shapeWidth = max(12, shapes.map(\.count).max() ?? 0)
    func pad(_ s: String, _ width: Int) -> String { s + String(repeating: " ", count: max(0, width - s.count)) }
    func padLeft(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }
    var lines = [
      "\(model): \(configuration.inputShape.map(String.init).joined(separator: "×")) input, \(configuration.classes) classes\(activationNote)",
      "",
    ]
    lines.append(
      "\(pad("layer", nameWidth))  \(pad("kind", kindWidth))  \(pad("output shape", shapeWidth))  \(padLeft("parameters", 10))"
    )
    lines.append(String(repeating: "-", count: nameWidth + kindWidth + shapeWidth + 16))
    for (row, shape) in zip(layers, shapes) {
      lines.append(
        "\(pad(row.name, nameWidth))  \(pad(row.kind, kindWidth))  \(pad(shape, shapeWidth))  \(padLeft(row.parameters.formatted(), 10))"
      )
    }
    lines.append(String(repeating: "-", count: nameWidth + kindWidth + shapeWidth + 16))
    lines.append("total parameters: \(parameterCount.formatted())")
    lines.append("weight tensors (gradient-flow layers): \(weightTensors.count)")
    return lines.joined(separator: "\n")
  }
}

extension Int {
  /// Thousands separated by commas (59,716).
  fileprivate func formatted() -> String {
    let digits = String(self)
    var result = ""
    for (index, character) in digits.reversed().enumerated() {
      if index > 0 && index % 3 == 0 { result.append(",") }
      result.append(character)
    }
    return String(result.reversed())
  }
}
