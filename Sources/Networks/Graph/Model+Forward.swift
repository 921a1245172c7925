import Autodiff
import TensorCore

/// What one forward pass left on the tape.
public struct ModelForward<Scalar: TensorScalar> {
  /// [N, classes] logits.
  public var logits: Variable
  /// Each block's output, in order: read them with `tape.value(_:)`, no copy is made.
  public var blockOutputs: [(name: String, output: Variable)]
  /// What each input of each add and concat layer read, in `Model.merges` order.
  public var mergeInputs: [Variable]
  /// The tape variable of every parameter, by name.
  public var parameters: [String: Variable]
  /// The images' variable.
  public var images: Variable
  /// Per BatchNorm layer that normalised with batch statistics (training mode): the batch mean
  /// and biased variance, for the caller to fold into its running averages.
  public var batchStatistics: [BatchStatistics<Scalar>]
}

/// How a forward pass runs.
public struct ForwardOptions: Sendable {
  /// `.training`: BatchNorm with batch statistics, dropout on; `.evaluation`: running
  /// averages, dropout off.
  public var mode: NetworkMode
  /// Seeds the pass's random draws (dropout masks): passes that must see one function (a
  /// step's gradient, curvature and actual change) share it.
  public var seed: UInt64 = 0
  /// Record pullbacks for the parameters (false for a pass that only needs the loss).
  public var parametersRequireGradient = true
  /// Also compute the gradient with respect to the images.
  public var inputRequiresGradient = false
  /// Keep every output on the tape. A pass with no gradient may pass false: each output is
  /// then released once the last layer that reads it has run, and only the logits stay.
  public var keepsIntermediates = true

  public init(
    mode: NetworkMode, seed: UInt64 = 0, parametersRequireGradient: Bool = true, inputRequiresGradient: Bool = false,
    keepsIntermediates: Bool = true
  ) {
    self.mode = mode
    self.seed = seed
    self.parametersRequireGradient = parametersRequireGradient
    self.inputRequiresGradient = inputRequiresGradient
    self.keepsIntermediates = keepsIntermediates
  }
}

extension Model {
  /// Runs the network with `parameters` and `buffers` on `images` [N, C, H, W], recording every
  /// operation on `tape`. Nothing is changed: batch statistics come back in the result.
  ///
  /// - Parameter log: receives each layer as it is applied (for `describe`).
  public func forward<Scalar: TensorScalar>(
    _ images: Tensor<Scalar>, parameters: NamedTensors<Scalar>, buffers: NamedTensors<Scalar>, on tape: Tape<Scalar>,
    options: ForwardOptions, log: ((LayerRecord) -> Void)? = nil
  ) -> ModelForward<Scalar> {
    precondition(
      options.keepsIntermediates || !(options.parametersRequireGradient || options.inputRequiresGradient),
      "Model.forward: only a pass without gradients can release its intermediates")
    precondition(
      images.rank == 4 && Array(images.shape[1...]) == inputShape,
      "Model.forward: images \(images.shape) do not match the model's input [N, \(inputShape.map(String.init).joined(separator: ", "))]"
    )
    var bound: [String: Variable] = [:]
    for (name, tensor) in parameters.entries {
      bound[name] = options.parametersRequireGradient ? tape.parameter(tensor) : tape.input(tensor)
    }
    let input = tape.input(images, requiresGradient: options.inputRequiresGradient)
    let releases = !options.keepsIntermediates
    var outputs: [Variable] = []
    outputs.reserveCapacity(graph.nodes.count)
    var blockOutputs: [(name: String, output: Variable)] = []
    var mergeInputs: [Variable] = []
    var statistics: [BatchStatistics<Scalar>] = []
    let fuses = ElementwiseFusion.isEnabled
    for (position, node) in graph.nodes.enumerated() {
      let reads = inputIndices[position].map { $0 == Self.networkInput ? input : outputs[$0] }
      let context = LayerContext(
        tape: tape, name: node.name, mode: options.mode, seed: Self.layerSeed(options.seed, position),
        parameters: bound, buffers: buffers, feedsBatchNorm: feedsBatchNorm[position])
      let output: Variable
      switch fuses ? fusion[position] : .alone {
      case .alone: output = operations[position].apply(reads, leakyReLUSlope: nil, in: context)
      case .withLeakyReLU(let slope): output = operations[position].apply(reads, leakyReLUSlope: slope, in: context)
      case .applied: output = reads[0]
      }
      outputs.append(output)
      if let kept = context.batchStatistics { statistics.append(kept) }
      if let block = node.block { blockOutputs.append((block, output)) }
      if type(of: node.layer).takesSeveralInputs { mergeInputs += reads }
      if let log {
        let count = node.layer.parameters(for: reads.map { Array(tape.shape($0).dropFirst()) })
          .reduce(0) { $0 + $1.shape.reduce(1, *) }
        log(
          LayerRecord(
            name: node.name, kind: type(of: node.layer).kind, outputShape: tape.shape(output), parameters: count))
      }
      if releases {
        for source in Set(inputIndices[position]) {
          if source == Self.networkInput {
            if lastReadOfInput == position { tape.release(input) }
          } else if lastRead[source] == position && outputs[source] != output {  // identity layers pass it on
            tape.release(outputs[source])
          }
        }
      }
    }
    return ModelForward(
      logits: outputs.last!, blockOutputs: blockOutputs, mergeInputs: mergeInputs, parameters: bound, images: input,
      batchStatistics: statistics)
  }

  /// Every layer with its output shape for one image (batch axis 1) and its parameter count:
  /// the table `gradtrace describe` prints, found by running the network once on a zero image.
  public func layers() -> [LayerRecord] {
    var records: [LayerRecord] = []
    let image = Tensor<Float>(zeros: [1] + inputShape)
    _ = forward(
      image, parameters: initialParameters(.pytorchDefault, seed: 0), buffers: initialBuffers(), on: Tape(),
      options: ForwardOptions(mode: .evaluation)
    ) { records.append($0) }
    return records
  }

  /// The seed of layer `position`'s draws in a pass seeded with `seed` (SplitMix64's mixing).
  static func layerSeed(_ seed: UInt64, _ position: Int) -> UInt64 {
    var z = seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(position + 1)
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
