import Autodiff
import TensorCore

/// The loss as a pure function of the weights: f(w; batch, mode, seed), its gradient, H·v and
/// vᵀHv. Each takes the parameters and buffers as arguments and changes nothing: a caller that
/// wants f(w + d) passes w + d; BatchNorm's batch statistics come back for the caller to fold.
extension Model {
  /// The mean cross-entropy and accuracy on a batch, without recording any gradient.
  public func loss<Scalar: TensorScalar>(
    parameters: NamedTensors<Scalar>, buffers: NamedTensors<Scalar>, images: Tensor<Scalar>, labels: [Int],
    mode: NetworkMode, seed: UInt64 = 0
  ) -> (loss: Scalar, accuracy: Double) {
    let tape = Tape<Scalar>()
    let forward = self.forward(
      images, parameters: parameters, buffers: buffers, on: tape,
      options: ForwardOptions(mode: mode, seed: seed, parametersRequireGradient: false, keepsIntermediates: false))
    let (loss, accuracy) = tape.softmaxCrossEntropy(logits: forward.logits, labels: labels)
    return (tape.value(loss).scalars[0], accuracy)
  }

  /// Loss, accuracy, the gradient with respect to every parameter, and the batch statistics
  /// of a training pass.
  public func gradient<Scalar: TensorScalar>(
    parameters: NamedTensors<Scalar>, buffers: NamedTensors<Scalar>, images: Tensor<Scalar>, labels: [Int],
    mode: NetworkMode = .training, seed: UInt64 = 0
  ) -> (loss: Scalar, accuracy: Double, gradient: NamedTensors<Scalar>, batchStatistics: [BatchStatistics<Scalar>]) {
    let pass = backwardPass(
      parameters: parameters, buffers: buffers, images: images, labels: labels, mode: mode, seed: seed)
    return (pass.tape.value(pass.loss).scalars[0], pass.accuracy, pass.gradient, pass.forward.batchStatistics)
  }

  /// A forward pass, the mean cross-entropy and a backward pass from it, with the tape (every
  /// value still on it) for a caller that runs more backward passes (`groupGradients`).
  func backwardPass<Scalar: TensorScalar>(
    parameters: NamedTensors<Scalar>, buffers: NamedTensors<Scalar>, images: Tensor<Scalar>, labels: [Int],
    mode: NetworkMode, seed: UInt64
  ) -> (
    tape: Tape<Scalar>, forward: ModelForward<Scalar>, loss: Variable, accuracy: Double,
    gradient: NamedTensors<Scalar>
  ) {
    let tape = Tape<Scalar>()
    let forward = self.forward(
      images, parameters: parameters, buffers: buffers, on: tape, options: ForwardOptions(mode: mode, seed: seed))
    let (loss, accuracy) = tape.softmaxCrossEntropy(logits: forward.logits, labels: labels)
    tape.backward(from: loss)
    return (tape, forward, loss, accuracy, forward.gradients(on: tape, names: parameters.names))
  }

  /// The loss, its gradient g and the exact Hessian-vector product H·v, by forward-over-reverse:
  /// the gradient computation runs on dual numbers whose tangents start as v on the parameters
  /// and 0 on buffers and images (see `Dual`). BatchNorm is in the same mode as the gradient.
  ///
  /// - Parameter direction: one tensor per parameter, same names and shapes.
  public func hessianVectorProduct<Scalar: TensorScalar>(
    parameters: NamedTensors<Scalar>, buffers: NamedTensors<Scalar>, images: Tensor<Scalar>, labels: [Int],
    direction: NamedTensors<Scalar>, mode: NetworkMode = .training, seed: UInt64 = 0
  ) -> (loss: Scalar, gradient: NamedTensors<Scalar>, product: NamedTensors<Scalar>)
  where Scalar.Accumulator: TensorScalar {
    let lifted = Self.seeded(parameters, buffers, images, along: direction) { Dual($0, tangent: $1) }
    let result = gradient(
      parameters: lifted.parameters, buffers: lifted.buffers, images: lifted.images, labels: labels, mode: mode,
      seed: seed)
    var gradient = NamedTensors<Scalar>()
    var product = NamedTensors<Scalar>()
    for (name, pair) in result.gradient.entries {
      gradient.append(Tensor(shape: pair.shape, scalars: pair.scalars.map(\.value)), named: name)
      product.append(Tensor(shape: pair.shape, scalars: pair.scalars.map(\.tangent)), named: name)
    }
    return (result.loss.value, gradient, product)
  }

  /// The loss f_B(w), the slope gᵀv and the curvature vᵀHv along one direction, by one forward
  /// pass on second-order jets (Taylor mode, see `Jet`): f(w + t v) = f + (gᵀv) t + ½ (vᵀHv) t².
  public func curvature<Scalar: TensorScalar>(
    parameters: NamedTensors<Scalar>, buffers: NamedTensors<Scalar>, images: Tensor<Scalar>, labels: [Int],
    along direction: NamedTensors<Scalar>, mode: NetworkMode = .training, seed: UInt64 = 0
  ) -> (loss: Scalar, slope: Scalar, curvature: Scalar) where Scalar.Accumulator: TensorScalar {
    let lifted = Self.seeded(parameters, buffers, images, along: direction) { Jet($0, first: $1, second: 0) }
    let loss = self.loss(
      parameters: lifted.parameters, buffers: lifted.buffers, images: lifted.images, labels: labels, mode: mode,
      seed: seed
    ).loss
    return (loss.value, loss.first, 2 * loss.second)
  }

  /// Parameters, buffers and images on scalars that carry derivatives along `direction`: each
  /// parameter w becomes `seed(w, v)` with its v, each buffer and image x `seed(x, 0)`.
  static func seeded<Scalar: TensorScalar, Carrier: TensorScalar>(
    _ parameters: NamedTensors<Scalar>, _ buffers: NamedTensors<Scalar>, _ images: Tensor<Scalar>,
    along direction: NamedTensors<Scalar>, _ seed: (Scalar, Scalar) -> Carrier
  ) -> (parameters: NamedTensors<Carrier>, buffers: NamedTensors<Carrier>, images: Tensor<Carrier>) {
    precondition(direction.names == parameters.names, "the direction must name every parameter in order")
    func constant(_ tensor: Tensor<Scalar>) -> Tensor<Carrier> {
      Tensor(shape: tensor.shape, scalars: tensor.scalars.map { seed($0, 0) })
    }
    var lifted = NamedTensors<Carrier>()
    for (name, weights) in parameters.entries {
      let v = direction[name]!
      precondition(v.shape == weights.shape, "\(name): direction \(v.shape) ≠ \(weights.shape)")
      lifted.append(Tensor(shape: weights.shape, scalars: zip(weights.scalars, v.scalars).map(seed)), named: name)
    }
    var constants = NamedTensors<Carrier>()
    for (name, buffer) in buffers.entries { constants.append(constant(buffer), named: name) }
    return (lifted, constants, constant(images))
  }
}
