import Autodiff
import TensorCore

extension Network {
  /// The loss, its gradient g and the exact Hessian-vector product H·v on one batch at the
  /// network's weights (`Model.hessianVectorProduct`); running statistics are not updated.
  ///
  /// - Parameter direction: one tensor per parameter, same names and shapes.
  public func hessianVectorProduct(
    images: Tensor<Scalar>, labels: [Int], direction: NamedTensors<Scalar>, mode: NetworkMode = .training
  ) -> (loss: Scalar, gradient: NamedTensors<Scalar>, product: NamedTensors<Scalar>)
  where Scalar.Accumulator: TensorScalar {
    model.hessianVectorProduct(
      parameters: parameters, buffers: buffers, images: images, labels: labels, direction: direction, mode: mode)
  }

  /// The loss f_B(w), the slope gᵀv and the curvature vᵀHv along one direction by Taylor mode
  /// (`Model.curvature`): exact, and cheaper than `hessianVectorProduct` when only the number
  /// vᵀHv is wanted (no backward pass, 5 real products per convolution instead of 9).
  public func curvature(
    images: Tensor<Scalar>, labels: [Int], along direction: NamedTensors<Scalar>, mode: NetworkMode = .training
  ) -> (loss: Scalar, slope: Scalar, curvature: Scalar) where Scalar.Accumulator: TensorScalar {
    model.curvature(
      parameters: parameters, buffers: buffers, images: images, labels: labels, along: direction, mode: mode)
  }
}
