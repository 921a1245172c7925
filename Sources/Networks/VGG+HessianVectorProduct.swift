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
    precondition(
      direction.names == parameters.names, "hessianVectorProduct: the direction must name every parameter in order")
    var dualParameters = NamedTensors<Dual<Scalar>>()
    for (name, weights) in parameters.entries {
      let tangent = direction[name]!
      precondition(
        tangent.shape == weights.shape, "hessianVectorProduct: \(name) direction \(tangent.shape) ≠ \(weights.shape)")
      dualParameters.append(weights.zippedToDual(tangent), named: name)
    }
    var dualBuffers = NamedTensors<Dual<Scalar>>()
    for (name, buffer) in buffers.entries { dualBuffers.append(buffer.liftedToDual(), named: name) }
    // The dual network shares this one's architecture; building it cannot fail.
    let dual = try! VGG<Dual<Scalar>>(configuration, parameters: dualParameters, buffers: dualBuffers)
    let result = dual.gradients(
      images: images.liftedToDual(), labels: labels, mode: mode, updateRunningStatistics: false)
    var gradient = NamedTensors<Scalar>()
    var product = NamedTensors<Scalar>()
    for (name, pair) in result.gradients.entries {
      gradient.append(Tensor(shape: pair.shape, scalars: pair.scalars.map(\.value)), named: name)
      product.append(Tensor(shape: pair.shape, scalars: pair.scalars.map(\.tangent)), named: name)
    }
    return (result.loss.value, gradient, product)
  }
}

extension Tensor {
  /// Dual numbers with these values and zero tangents.
  func liftedToDual() -> Tensor<Dual<Scalar>> where Scalar.Accumulator: TensorScalar {
    Tensor<Dual<Scalar>>(shape: shape, scalars: scalars.map { Dual($0, tangent: 0) })
  }

  /// Dual numbers with these values and the given tangents.
  func zippedToDual(_ tangent: Tensor) -> Tensor<Dual<Scalar>> where Scalar.Accumulator: TensorScalar {
    Tensor<Dual<Scalar>>(shape: shape, scalars: zip(scalars, tangent.scalars).map { Dual($0, tangent: $1) })
  }
}

extension VGG {
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
    precondition(
      direction.names == parameters.names, "curvature(along:): the direction must name every parameter in order")
    var jetParameters = NamedTensors<Jet<Scalar>>()
    for (name, weights) in parameters.entries {
      let v = direction[name]!
      precondition(v.shape == weights.shape, "curvature(along:): \(name) direction \(v.shape) ≠ \(weights.shape)")
      jetParameters.append(
        Tensor(shape: weights.shape, scalars: zip(weights.scalars, v.scalars).map { Jet($0, first: $1, second: 0) }),
        named: name)
    }
    var jetBuffers = NamedTensors<Jet<Scalar>>()
    for (name, buffer) in buffers.entries { jetBuffers.append(buffer.liftedToJet(), named: name) }
    // The jet network shares this one's architecture; building it cannot fail.
    let jet = try! VGG<Jet<Scalar>>(configuration, parameters: jetParameters, buffers: jetBuffers)
    let loss = jet.evaluate(images: images.liftedToJet(), labels: labels, mode: mode).loss
    return (loss.value, loss.first, 2 * loss.second)
  }
}

extension Tensor {
  /// Jets with these values and zero higher coefficients (constants along the direction).
  func liftedToJet() -> Tensor<Jet<Scalar>> where Scalar.Accumulator: TensorScalar {
    Tensor<Jet<Scalar>>(shape: shape, scalars: scalars.map { Jet($0, first: 0, second: 0) })
  }
}
