import Autodiff
import Networks
import TensorCore
import Testing

/// The group gradients of a gradient-noise measurement: m − 1 extra backward passes on the
/// training step's own tape, the last group by subtraction, must equal each group's gradient
/// taken on a fresh tape.
@Suite("Group gradients for gradient noise")
struct GroupGradientTests {
  static func network<Scalar: TensorScalar>(_: Scalar.Type, filters: Int = 4) throws -> Network<Scalar> {
    let configuration = VGGConfiguration(
      numFilters: filters, numStages: 2, blocksPerStage: 1, inputChannels: 2, inputHeight: 8, inputWidth: 8, classes: 5,
      batchNorm: true, residual: true, activation: .leaky)
    return try Network<Scalar>(configuration, initialization: .he, seed: 3)
  }

  /// One group's gradient from its own forward pass (the batch statistics still over all rows).
  static func freshGroupGradient<Scalar: TensorScalar>(
    _ network: Network<Scalar>, _ images: Tensor<Scalar>, _ labels: [Int], rows: Range<Int>
  ) -> NamedTensors<Scalar> {
    let tape = Tape<Scalar>()
    let forward = network.model.forward(
      images, parameters: network.parameters, buffers: network.buffers, on: tape,
      options: ForwardOptions(mode: .training))
    tape.backward(from: tape.groupCrossEntropy(logits: forward.logits, labels: labels, rows: rows))
    return forward.gradients(on: tape, names: network.parameters.names)
  }

  @Test func groupsOfUnequalSizeMatchFreshPassesInDouble() throws {
    let network = try Self.network(Double.self)
    let images = randomTensor([7, 2, 8, 8], seed: 21)
    let labels = [0, 3, 4, 1, 1, 2, 0]
    let measured = network.model.groupGradients(
      parameters: network.parameters, buffers: network.buffers, images: images, labels: labels, groups: 3)
    let groups = LossGroups(batch: 7, count: 3)
    #expect(groups.sizes == [2, 2, 3])
    for (j, rows) in groups.ranges.enumerated() {
      let fresh = Self.freshGroupGradient(network, images, labels, rows: rows)
      let error = measured.groups[j].adding(fresh, scaledBy: -1).norm / fresh.norm
      // The last group comes from (N g − Σ b_j g_j)/b_m: a few roundings of Double.
      #expect(error <= 1e-12, "group \(j): relative difference \(error)")
    }
    // Group gradients differ from the batch gradient (else the test could not fail).
    #expect(measured.groups[0].adding(measured.gradient, scaledBy: -1).norm > 1e-3 * measured.gradient.norm)
  }

  @Test func repeatedBackwardPassesOnOneFloatTapeAreExact() throws {
    // The float path: oneDNN's blocked layouts and BatchNorm's fused backward. A backward pass
    // must leave nothing behind that changes the next one. 16 filters: blocked activations.
    let network = try Self.network(Float.self, filters: 16)
    let images: Tensor<Float> = randomTensor([6, 2, 8, 8], seed: 22).converted()
    let labels = [4, 3, 0, 1, 2, 2]
    let measured = network.model.groupGradients(
      parameters: network.parameters, buffers: network.buffers, images: images, labels: labels, groups: 3)
    for (j, rows) in LossGroups(batch: 6, count: 3).ranges.enumerated().dropLast() {
      let fresh = Self.freshGroupGradient(network, images, labels, rows: rows)
      for name in fresh.names {
        #expect(measured.groups[j][name]!.scalars == fresh[name]!.scalars, "group \(j) \(name)")
      }
    }
  }
}
