import Autodiff
import TensorCore

extension VGG {
  /// Runs the network on `images` [N, C, H, W], recording every operation on `tape`.
  ///
  /// - Parameters:
  ///   - mode: `.training` normalises with batch statistics (and, when
  ///     `updateRunningStatistics`, folds them into the running averages as PyTorch does);
  ///     `.evaluation` uses the running averages.
  ///   - parametersRequireGradient: record pullbacks for the parameters (false for a forward
  ///     pass that only needs the loss).
  ///   - inputRequiresGradient: also compute the gradient with respect to the images.
  ///   - keepsIntermediates: keep every activation on the tape (recorders read block outputs).
  ///     A forward-only pass (no gradient asked for) may pass false: each activation is then
  ///     released once the next layer has consumed it, and only the logits stay readable.
  ///   - log: receives each layer as it is applied (for `describe`).
  public func forward(
    _ images: Tensor<Scalar>, on tape: Tape<Scalar>, mode: NetworkMode,
    updateRunningStatistics: Bool = true, parametersRequireGradient: Bool = true,
    inputRequiresGradient: Bool = false, keepsIntermediates: Bool = true, log: ((LayerRecord) -> Void)? = nil
  ) -> (forward: VGGForward, images: Variable) {
    precondition(
      keepsIntermediates || !(parametersRequireGradient || inputRequiresGradient),
      "VGG.forward: only a pass without gradients can release its intermediates")
    let c = configuration
    precondition(
      images.shape.count == 4
        && Array(images.shape[1...]) == [c.inputChannels, c.inputHeight, c.inputWidth],
      "VGG.forward: images \(images.shape) do not match the model's input [N, \(c.inputChannels), \(c.inputHeight), \(c.inputWidth)]"
    )
    var bound: [String: Variable] = [:]
    for (name, tensor) in parameters.entries {
      bound[name] = parametersRequireGradient ? tape.parameter(tensor) : tape.input(tensor)
    }
    let input = tape.input(images, requiresGradient: inputRequiresGradient)
    var pass = ForwardPass(
      network: self, tape: tape, parameters: bound, mode: mode,
      updateRunningStatistics: updateRunningStatistics, releasesIntermediates: !keepsIntermediates, log: log)

    var x = input
    var blockOutputs: [(String, Variable)] = []
    for block in blocks {
      x = pass.apply(block, to: x)
      blockOutputs.append((block.name, x))
    }
    x = pass.consuming(x) { tape.globalAveragePool($0) }
    x = pass.layer("global_pool", kind: "global_avgpool", x)
    let logits = pass.layer(
      "logit_linear_layer", kind: "linear",
      pass.consuming(x) {
        tape.linear($0, weight: bound["logit_linear_layer.weight"]!, bias: bound["logit_linear_layer.bias"]!)
      },
      parameters: ["logit_linear_layer.weight", "logit_linear_layer.bias"])
    return (VGGForward(logits: logits, blockOutputs: blockOutputs, parameters: bound), input)
  }

  /// The mean cross-entropy of the network on a batch, recorded on `tape`.
  public func loss(
    images: Tensor<Scalar>, labels: [Int], on tape: Tape<Scalar>, mode: NetworkMode,
    updateRunningStatistics: Bool = true, inputRequiresGradient: Bool = false
  ) -> (loss: Variable, accuracy: Double, forward: VGGForward, images: Variable) {
    let (forward, input) = self.forward(
      images, on: tape, mode: mode, updateRunningStatistics: updateRunningStatistics,
      inputRequiresGradient: inputRequiresGradient)
    let (loss, accuracy) = tape.softmaxCrossEntropy(logits: forward.logits, labels: labels)
    return (loss, accuracy, forward, input)
  }

  /// The mean cross-entropy and accuracy on a batch, without recording any gradient: the
  /// function value f_B(w) of the definitions.
  public func evaluate(
    images: Tensor<Scalar>, labels: [Int], mode: NetworkMode, updateRunningStatistics: Bool = false
  ) -> (loss: Scalar, accuracy: Double) {
    let tape = Tape<Scalar>()
    let (forward, _) = self.forward(
      images, on: tape, mode: mode, updateRunningStatistics: updateRunningStatistics,
      parametersRequireGradient: false, keepsIntermediates: false)
    let (loss, accuracy) = tape.softmaxCrossEntropy(logits: forward.logits, labels: labels)
    return (tape.value(loss).scalars[0], accuracy)
  }

  /// Loss, accuracy and the gradient of the loss with respect to every parameter, on one batch.
  public func gradients(
    images: Tensor<Scalar>, labels: [Int], mode: NetworkMode = .training,
    updateRunningStatistics: Bool = true
  ) -> (loss: Scalar, accuracy: Double, gradients: NamedTensors<Scalar>) {
    let tape = Tape<Scalar>()
    let result = loss(
      images: images, labels: labels, on: tape, mode: mode,
      updateRunningStatistics: updateRunningStatistics)
    tape.backward(from: result.loss)
    var gradients = NamedTensors<Scalar>()
    for name in parameters.names {
      let variable = result.forward.parameters[name]!
      gradients.append(tape.gradient(variable) ?? Tensor(zeros: tape.shape(variable)), named: name)
    }
    return (tape.value(result.loss).scalars[0], result.accuracy, gradients)
  }
}

/// The state of one forward pass: the tape, the bound parameters and the layer log.
private struct ForwardPass<Scalar: TensorScalar> {
  let network: VGG<Scalar>
  let tape: Tape<Scalar>
  let parameters: [String: Variable]
  let mode: NetworkMode
  let updateRunningStatistics: Bool
  /// Drop each activation from the tape once the layer after it has consumed it (see
  /// `VGG.forward(keepsIntermediates:)`).
  let releasesIntermediates: Bool
  let log: ((LayerRecord) -> Void)?

  var configuration: VGGConfiguration { network.configuration }

  /// Logs a layer's output and returns it unchanged.
  func layer(_ name: String, kind: String, _ output: Variable, parameters names: [String] = []) -> Variable {
    if let log {
      let count = names.reduce(0) { $0 + (network.parameters[$1]?.count ?? 0) }
      log(LayerRecord(name: name, kind: kind, outputShape: tape.shape(output), parameters: count))
    }
    return output
  }

  /// `layer(x)`, then, in a pass that releases its intermediates, drops x: for values that
  /// only this layer reads (every activation inside a block; the block's input is read again
  /// by the residual path and is dropped when the block is done).
  func consuming(_ x: Variable, _ layer: (Variable) -> Variable) -> Variable {
    let y = layer(x)
    if releasesIntermediates { tape.release(x) }
    return y
  }

  /// One block: stem, processing or reduction (docs/design.md and the paper give the wiring).
  mutating func apply(_ block: VGG<Scalar>.Block, to input: Variable) -> Variable {
    let name = block.name
    var x: Variable
    switch block.kind {
    case .stem:
      // conv (no bias) → BatchNorm (always, even without --batchnorm) → activation
      x = convolution("\(name).conv_0", input, stride: 1, padding: 1)
      x = consuming(x) { batchNorm("\(name).bn_0", $0) }
      x = consuming(x) { activation("\(name).activation_0", $0) }
    case .processing:
      // conv_0 → [bn_0] → act → conv_1 → [bn_1] → (+ x) → act
      x = convolution("\(name).conv_0", input, stride: 1, padding: 1)
      if configuration.batchNorm { x = consuming(x) { batchNorm("\(name).bn_0", $0) } }
      x = consuming(x) { activation("\(name).activation_0", $0) }
      x = consuming(x) { convolution("\(name).conv_1", $0, stride: 1, padding: 1) }
      if configuration.batchNorm { x = consuming(x) { batchNorm("\(name).bn_1", $0) } }
      if configuration.residual {
        x = consuming(x) { layer("\(name).residual_add", kind: "add", tape.add($0, input)) }
      }
      x = consuming(x) { activation("\(name).activation_1", $0) }
    case .reduction:
      // conv_0 (bias) → [bn_0] → act → avgpool 2×2 → conv_1 (bias) → [bn_1] → (+ shortcut) → act
      x = convolution("\(name).conv_0", input, stride: 1, padding: 1)
      if configuration.batchNorm { x = consuming(x) { batchNorm("\(name).bn_0", $0) } }
      x = consuming(x) { activation("\(name).activation_0", $0) }
      x = consuming(x) { layer("\(name).pool", kind: "avgpool", tape.averagePool($0, window: 2)) }
      x = consuming(x) { convolution("\(name).conv_1", $0, stride: 1, padding: 1) }
      if configuration.batchNorm { x = consuming(x) { batchNorm("\(name).bn_1", $0) } }
      if configuration.residual {
        let shortcut = convolution("\(name).shortcut", input, stride: 2, padding: 0)
        x = consuming(x) { x in consuming(shortcut) { layer("\(name).residual_add", kind: "add", tape.add(x, $0)) } }
      }
      x = consuming(x) { activation("\(name).activation_1", $0) }
    }
    if releasesIntermediates { tape.release(input) }
    return x
  }

  func convolution(_ name: String, _ x: Variable, stride: Int, padding: Int) -> Variable {
    let weight = "\(name).weight"
    let bias = "\(name).bias"
    let hasBias = parameters[bias] != nil
    let y = tape.conv2d(
      x, filter: parameters[weight]!, bias: hasBias ? parameters[bias]! : nil,
      stride: stride, padding: padding)
    return layer(name, kind: "conv", y, parameters: hasBias ? [weight, bias] : [weight])
  }

  mutating func batchNorm(_ name: String, _ x: Variable) -> Variable {
    let statistics: BatchNormStatistics<Scalar>
    switch mode {
    case .training:
      statistics = .batch
    case .evaluation:
      statistics = .running(
        mean: network.buffers["\(name).running_mean"]!, variance: network.buffers["\(name).running_var"]!)
    }
    let (y, mean, variance) = tape.batchNorm(
      x, scale: parameters["\(name).weight"]!, shift: parameters["\(name).bias"]!,
      statistics: statistics, epsilon: VGG<Scalar>.batchNormEpsilon)
    if updateRunningStatistics, let mean, let variance {
      foldIntoRunningAverages(name, mean: mean, biasedVariance: variance, count: tape.shape(x))
    }
    return layer(name, kind: "batchnorm", y, parameters: ["\(name).weight", "\(name).bias"])
  }

  /// running ← (1 − m) · running + m · batch, with the variance made unbiased (× M / (M − 1))
  /// first, as PyTorch does.
  private func foldIntoRunningAverages(
    _ name: String, mean: Tensor<Scalar>, biasedVariance: Tensor<Scalar>, count shape: [Int]
  ) {
    let m = Scalar(VGG<Scalar>.batchNormMomentum)
    let values = shape[0] * shape[2] * shape[3]
    let unbias = values > 1 ? Scalar(Double(values) / Double(values - 1)) : 1
    let meanName = "\(name).running_mean"
    let varianceName = "\(name).running_var"
    network.buffers[meanName] = network.buffers[meanName]!.zipped(with: mean) { r, b in (1 - m) * r + m * b }
    network.buffers[varianceName] = network.buffers[varianceName]!.zipped(with: biasedVariance) { r, b in
      (1 - m) * r + m * (b * unbias)
    }
  }

  func activation(_ name: String, _ x: Variable) -> Variable {
    switch configuration.activation {
    case .leaky:
      return layer(name, kind: "leaky_relu", tape.leakyReLU(x, slope: Activation.leakySlope))
    case .sigmoid:
      return layer(name, kind: "sigmoid", tape.sigmoid(x))
    }
  }
}

extension VGG {
  /// Every layer with its output shape for one image (batch axis 1) and its parameter count:
  /// the table `gradtrace describe` prints. Found by running the network once on a zero image,
  /// so it cannot disagree with the forward pass.
  public func layers() -> [LayerRecord] {
    var records: [LayerRecord] = []
    let c = configuration
    let image = Tensor<Scalar>(zeros: [1, c.inputChannels, c.inputHeight, c.inputWidth])
    _ = forward(image, on: Tape(), mode: .evaluation, updateRunningStatistics: false) { records.append($0) }
    return records
  }
}
