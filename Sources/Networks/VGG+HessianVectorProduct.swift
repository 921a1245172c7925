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
