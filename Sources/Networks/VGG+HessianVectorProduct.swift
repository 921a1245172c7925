import Autodiff
import TensorCore

extension VGG {
  /// The loss, its gradient g and the exact Hessian-vector product H·v on one batch, at the
  /// current weights, by forward-over-reverse: the gradient computation runs on dual numbers
  /// whose tangents start as v on the parameters and 0 on the images (see `Dual`).
  ///
  /// BatchNorm is in the same mode as the gradient (training mode: batch statistics, which
  /// are differentiated through); running statistics are not updated.
  ///
  /// - Parameter direction: one tensor per parameter, same names and shapes.
  public func hessianVectorProduct(
    images: Tensor<Scalar>, labels: [Int], direction: NamedTensors<Scalar>, mode: NetworkMode = .training
  ) -> (loss: Scalar, gradient: NamedTensors<Scalar>, product: NamedTensors<Scalar>)
  where Scalar.Accumulator: TensorScalar {
    let (dual, dualImages) = seeded(images: images, along: direction, for: "hessianVectorProduct") {
      Dual($0, tangent: $1)
    }
    let result = dual.gradients(images: dualImages, labels: labels, mode: mode, updateRunningStatistics: false)
    var gradient = NamedTensors<Scalar>()
    var product = NamedTensors<Scalar>()
    for (name, pair) in result.gradients.entries {
      gradient.append(Tensor(shape: pair.shape, scalars: pair.scalars.map(\.value)), named: name)
      product.append(Tensor(shape: pair.shape, scalars: pair.scalars.map(\.tangent)), named: name)
    }
    return (result.loss.value, gradient, product)
  }

  /// The loss f_B(w), the slope gᵀv and the curvature vᵀHv along one direction, by one forward
  /// pass on second-order jets (Taylor mode, see `Jet`): f(w + t v) = f + (gᵀv) t + ½ (vᵀHv) t².
  /// Exact, and cheaper than `hessianVectorProduct` when only the number vᵀHv is wanted (dᵀHd
  /// along an update): no backward pass, and 5 real products per convolution instead of 9.
  ///
  /// BatchNorm is in the given mode (training: batch statistics, differentiated through, to
  /// second order); running statistics are not updated.
  public func curvature(
    images: Tensor<Scalar>, labels: [Int], along direction: NamedTensors<Scalar>, mode: NetworkMode = .training
  ) -> (loss: Scalar, slope: Scalar, curvature: Scalar) where Scalar.Accumulator: TensorScalar {
    let (jet, jetImages) = seeded(images: images, along: direction, for: "curvature(along:)") {
      Jet($0, first: $1, second: 0)
    }
    let loss = jet.evaluate(images: jetImages, labels: labels, mode: mode).loss
    return (loss.value, loss.first, 2 * loss.second)
  }

  /// This network and `images` on scalars that carry derivatives along `direction`: each
  /// parameter w becomes `seed(w, v)` with its v, each buffer and image x `seed(x, 0)` (a
  /// constant along the direction).
  func seeded<Carrier: TensorScalar>(
    images: Tensor<Scalar>, along direction: NamedTensors<Scalar>, for caller: String,
    _ seed: (Scalar, Scalar) -> Carrier
  ) -> (VGG<Carrier>, Tensor<Carrier>) {
    precondition(direction.names == parameters.names, "\(caller): the direction must name every parameter in order")
    func constant(_ tensor: Tensor<Scalar>) -> Tensor<Carrier> {
      Tensor(shape: tensor.shape, scalars: tensor.scalars.map { seed($0, 0) })
    }
    var seededParameters = NamedTensors<Carrier>()
    for (name, weights) in parameters.entries {
      let v = direction[name]!
      precondition(v.shape == weights.shape, "\(caller): \(name) direction \(v.shape) ≠ \(weights.shape)")
      seededParameters.append(
        Tensor(shape: weights.shape, scalars: zip(weights.scalars, v.scalars).map(seed)), named: name)
    }
    var constantBuffers = NamedTensors<Carrier>()
    for (name, buffer) in buffers.entries { constantBuffers.append(constant(buffer), named: name) }
    // The same architecture as a network that exists: building it cannot fail.
    let network = try! VGG<Carrier>(configuration, parameters: seededParameters, buffers: constantBuffers)
    return (network, constant(images))
  }
}
