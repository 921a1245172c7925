import Autodiff
import TensorCore

extension Network {
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
  ///   - seed: the pass's seed (dropout masks); a step's passes share it.
  ///   - log: receives each layer as it is applied (for `describe`).
  public func forward(
    _ images: Tensor<Scalar>, on tape: Tape<Scalar>, mode: NetworkMode,
    updateRunningStatistics: Bool = true, parametersRequireGradient: Bool = true,
    inputRequiresGradient: Bool = false, keepsIntermediates: Bool = true, seed: UInt64 = 0,
    log: ((LayerRecord) -> Void)? = nil
  ) -> (forward: ModelForward<Scalar>, images: Variable) {
    let forward = model.forward(
      images, parameters: parameters, buffers: buffers, on: tape,
      options: ForwardOptions(
        mode: mode, seed: seed, parametersRequireGradient: parametersRequireGradient,
        inputRequiresGradient: inputRequiresGradient, keepsIntermediates: keepsIntermediates), log: log)
    if updateRunningStatistics {
      for statistics in forward.batchStatistics { statistics.fold(into: &buffers, momentum: Self.batchNormMomentum) }
    }
    return (forward, forward.images)
  }

  /// The mean cross-entropy of the network on a batch, recorded on `tape`.
  public func loss(
    images: Tensor<Scalar>, labels: [Int], on tape: Tape<Scalar>, mode: NetworkMode,
    updateRunningStatistics: Bool = true, inputRequiresGradient: Bool = false, seed: UInt64 = 0
  ) -> (loss: Variable, accuracy: Double, forward: ModelForward<Scalar>, images: Variable) {
    let (forward, input) = self.forward(
      images, on: tape, mode: mode, updateRunningStatistics: updateRunningStatistics,
      inputRequiresGradient: inputRequiresGradient, seed: seed)
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

  /// Loss, accuracy and the gradient of the loss with respect to every parameter, on one batch
  /// (`Model.gradient`); in training mode the batch statistics are folded into the running
  /// averages when `updateRunningStatistics`.
  public func gradients(
    images: Tensor<Scalar>, labels: [Int], mode: NetworkMode = .training,
    updateRunningStatistics: Bool = true
  ) -> (loss: Scalar, accuracy: Double, gradients: NamedTensors<Scalar>) {
    let result = model.gradient(parameters: parameters, buffers: buffers, images: images, labels: labels, mode: mode)
    if updateRunningStatistics {
      for statistics in result.batchStatistics { statistics.fold(into: &buffers, momentum: Self.batchNormMomentum) }
    }
    return (result.loss, result.accuracy, result.gradient)
  }
}

extension Network {
  /// Every layer with its output shape for one image (batch axis 1) and its parameter count:
  /// the table `gradtrace describe` prints.
  public func layers() -> [LayerRecord] { model.layers() }
}
