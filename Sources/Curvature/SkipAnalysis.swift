import Foundation
import Networks
import TensorCore

/// Each block's effect on the loss and on the gradient flow, found by replacing it with the
/// identity at the same weights and batch (init2winit's skip analysis; BatchNorm in training
/// mode, as for every other probe number). A block whose removal multiplies the gradient that
/// reaches the layers below it is where the flow is lost; one whose removal barely changes the
/// loss does little to the function.
public struct SkipAnalysis: Codable, Sendable {
  public struct Block: Codable, Sendable {
    public var block: String
    /// Why no identity can replace it (its output shape differs from its input's, a later
    /// layer reads inside it); nil when it was measured.
    public var notSkippable: String?
    /// f_B with the block skipped, minus f_B of the whole network.
    public var lossChange: Double?
    /// mean |∂f/∂W| of the first layer with the block skipped over the same of the whole network.
    public var firstLayerFlowRatio: Double?
    /// The median of that ratio over the weight tensors before the block.
    public var upstreamFlowRatio: Double?
  }

  public var loss: Double
  public var firstLayer: String
  /// mean |∂f/∂W| of the first layer of the whole network.
  public var firstLayerFlow: Double
  public var blocks: [Block]

  /// Runs the whole network and each block-skipped one on `images` and `labels` (one gradient
  /// each) in the arithmetic of `Scalar`.
  public static func measure<Scalar: TensorScalar>(
    model: Model, parameters: NamedTensors<Scalar>, buffers: NamedTensors<Scalar>, images: Tensor<Scalar>,
    labels: [Int]
  ) -> SkipAnalysis {
    func flow(_ model: Model, _ gradient: NamedTensors<Scalar>) -> [String: Double] {
      Dictionary(
        uniqueKeysWithValues: model.weightTensors.map { weight in
          let scalars = gradient[weight.name]!.scalars
          return (weight.name, scalars.reduce(0.0) { $0 + abs($1.doubleValue) } / Double(max(scalars.count, 1)))
        })
    }
    let whole = model.gradient(parameters: parameters, buffers: buffers, images: images, labels: labels)
    let wholeFlow = flow(model, whole.gradient)
    let first = model.weightTensors[0].name
    let position = Dictionary(uniqueKeysWithValues: model.graph.nodes.enumerated().map { ($1.name, $0) })
    func layerPosition(_ parameter: String) -> Int {
      position[String(parameter.split(separator: ".").dropLast().joined(separator: "."))] ?? 0
    }
    var blocks: [Block] = []
    for block in model.graph.nodes.compactMap(\.block) {
      var entry = Block(block: block)
      do {
        let skipped = try Model(try model.skipping(block: block))
        let names = Set(skipped.specifications.map(\.name))
        let bufferNames = Set(skipped.bufferSpecifications.map(\.name))
        let result = skipped.gradient(
          parameters: parameters.filter(names.contains), buffers: buffers.filter(bufferNames.contains), images: images,
          labels: labels)
        let skippedFlow = flow(skipped, result.gradient)
        let start = model.layers(ofBlock: block)!.positions.lowerBound
        let upstream = model.weightTensors.filter { layerPosition($0.name) < start }.compactMap { weight in
          skippedFlow[weight.name].map { $0 / wholeFlow[weight.name]! }
        }.sorted()
        entry.lossChange = result.loss.doubleValue - whole.loss.doubleValue
        entry.firstLayerFlowRatio = skippedFlow[first].map { $0 / wholeFlow[first]! }
        entry.upstreamFlowRatio = upstream.isEmpty ? nil : upstream[upstream.count / 2]
      } catch {
        entry.notSkippable = error.message
      }
      blocks.append(entry)
    }
    return SkipAnalysis(
      loss: whole.loss.doubleValue, firstLayer: model.weightTensors[0].label, firstLayerFlow: wholeFlow[first]!,
      blocks: blocks)
  }

  /// The table `probe --skip-analysis` prints.
  public var text: String {
    func number(_ x: Double?) -> String { x.map { String(format: "%.3g", $0) } ?? "-" }
    let width = max(5, blocks.map(\.block.count).max() ?? 0)
    var lines = [
      "Skip analysis: each block replaced by the identity (same weights and batch, BatchNorm in training mode)",
      "  loss \(number(loss)); mean |∂f/∂W| of \(firstLayer) \(number(firstLayerFlow))",
      "  " + "block".padding(toLength: width, withPad: " ", startingAt: 0)
        + "  Δloss       first layer flow ×  upstream flow × (median)",
    ]
    for block in blocks {
      let name = block.block.padding(toLength: width, withPad: " ", startingAt: 0)
      if let reason = block.notSkippable {
        lines.append("  \(name)  not skippable: \(reason)")
      } else {
        lines.append(
          "  \(name)  " + number(block.lossChange).padding(toLength: 12, withPad: " ", startingAt: 0)
            + number(block.firstLayerFlowRatio).padding(toLength: 20, withPad: " ", startingAt: 0)
            + number(block.upstreamFlowRatio))
      }
    }
    return lines.joined(separator: "\n")
  }
}
