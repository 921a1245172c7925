import Networks
import TensorCore

/// Curvature of the loss f_B(w) of one network on one fixed batch, measured with exact
/// Hessian-vector products (BatchNorm in training mode, the same mode as the gradient).
///
/// Definitions (docs/design.md): g = ∇f(w); along −g the quadratic model is
/// f(w − εg) ≈ f(w) − ε gᵀg + ½ ε² gᵀHg, minimised at ε* = gᵀg / gᵀHg when gᵀHg > 0; with
/// u = Hg, the per-layer contributions g_lᵀu_l sum to gᵀHg.
///
/// In a data-parallel run (`BatchShard.current` bound with a collective) the probe holds this
/// rank's shard of the batch, and every primitive (the loss, the gradient, H·v, vᵀHv) sums
/// the ranks' shares: every number it returns is the global batch's, exactly, on every rank.
/// Everything built on them (the estimators, Lanczos) is then global too.
///
/// Generic over the scalar: `Float` as training runs, or `Double` for deep networks whose
/// float32 rounding is amplified (PyTorch's own float32 H·v differs from float64 by 0.7% on
/// vgg38 BN+residual; `gradtrace probe --precision double`).
public final class CurvatureProbe<Scalar: TensorScalar> {
  /// The network's description; the probe evaluates it at `weights`, never changing them.
  public let model: Model
  public let weights: NamedTensors<Scalar>
  public let buffers: NamedTensors<Scalar>
  public let images: Tensor<Scalar>
  public let labels: [Int]
  /// The seed of every pass (dropout masks): the training step's, so the probe differentiates
  /// the function that step took.
  public let seed: UInt64
  public let layers: LayerGroups
  /// Hessian-vector products computed so far.
  public private(set) var productCount = 0
  /// Taylor-mode passes (vᵀHv without the vector H·v) computed so far.
  public private(set) var jetPassCount = 0

  /// The weights, buffers and images in Double, for loss values (see `init`).
  private let exact: (weights: NamedTensors<Double>, buffers: NamedTensors<Double>, images: Tensor<Double>)?

  /// - Parameter exactLoss: evaluate loss values (the Taylor table's actual change) in Double:
  ///   a prediction at ε = 0.01·ε* is a change of ~1e-3 in a loss of ~2, which float32
  ///   rounding (~1e-7 relative per operation) would blur to a few tenths of a percent. A
  ///   training recorder, which needs speed more, passes false.
  /// - Parameter seed: the passes' seed (dropout masks).
  public init(
    model: Model, weights: NamedTensors<Scalar>, buffers: NamedTensors<Scalar>, images: Tensor<Scalar>,
    labels: [Int], exactLoss: Bool = true, seed: UInt64 = 0
  ) {
    self.model = model
    self.seed = seed
    self.weights = weights
    self.buffers = buffers
    self.images = images
    self.labels = labels
    self.layers = LayerGroups(model.specifications)
    exact =
      exactLoss ? (weights.converted(to: Double.self), buffers.converted(to: Double.self), images.converted()) : nil
  }

  /// A probe at `network`'s current weights.
  public convenience init(network: Network<Scalar>, images: Tensor<Scalar>, labels: [Int], exactLoss: Bool = true) {
    self.init(
      model: network.model, weights: network.parameters, buffers: network.buffers, images: images, labels: labels,
      exactLoss: exactLoss)
  }

  /// f_B(w) and its accuracy at the probe's weights.
  public func loss() -> (loss: Double, accuracy: Double) {
    let result =
      if let exact {
        model.loss(
          parameters: exact.weights, buffers: exact.buffers, images: exact.images, labels: labels, mode: .training,
          seed: seed)
      } else {
        {
          let result = model.loss(
            parameters: weights, buffers: buffers, images: images, labels: labels, mode: .training, seed: seed)
          return (loss: result.loss.doubleValue, accuracy: result.accuracy)
        }()
      }
    return (global(result.loss), globalAccuracy(result.accuracy))
  }

  /// The sum over the ranks of a share, when the probe holds a shard of a global batch.
  private func global(_ share: Double) -> Double { BatchShard.current?.collective?.sum(share) ?? share }

  private func global(_ shares: NamedTensors<Scalar>) -> NamedTensors<Scalar> {
    BatchShard.current?.collective?.sum(shares) ?? shares
  }

  /// The global batch's accuracy from this shard's.
  private func globalAccuracy(_ accuracy: Double) -> Double {
    guard let shard = BatchShard.current, let collective = shard.collective else { return accuracy }
    return collective.sum(accuracy * Double(labels.count)) / Double(shard.batchRows)
  }

  /// f_B(w + step) at the probe's weights displaced by `step`.
  public func loss(displacedBy step: NamedTensors<Scalar>) -> Double {
    if let exact {
      let displaced = exact.weights.adding(step.converted(to: Double.self), scaledBy: 1)
      return global(
        model.loss(
          parameters: displaced, buffers: exact.buffers, images: exact.images, labels: labels, mode: .training,
          seed: seed
        ).loss)
    }
    let displaced = weights.adding(step, scaledBy: 1)
    return global(
      model.loss(
        parameters: displaced, buffers: buffers, images: images, labels: labels, mode: .training, seed: seed
      ).loss.doubleValue)
  }

  /// The data-loss gradient g.
  public func gradient() -> (loss: Double, accuracy: Double, gradient: NamedTensors<Scalar>) {
    let result = model.gradient(parameters: weights, buffers: buffers, images: images, labels: labels, seed: seed)
    return (global(result.loss.doubleValue), globalAccuracy(result.accuracy), global(result.gradient))
  }

  /// H v, exactly.
  public func hessianVectorProduct(_ v: NamedTensors<Scalar>) -> NamedTensors<Scalar> {
    productCount += 1
    return global(
      model.hessianVectorProduct(
        parameters: weights, buffers: buffers, images: images, labels: labels, direction: v, seed: seed
      ).product)
  }

  /// vᵀHv (and the slope gᵀv) exactly, by one forward pass on second-order jets: no vector
  /// H·v, and cheaper than `hessianVectorProduct` (see `VGG.curvature(images:labels:along:)`).
  public func curvature(along v: NamedTensors<Scalar>) -> (slope: Double, curvature: Double) {
    jetPassCount += 1
    let result = model.curvature(
      parameters: weights, buffers: buffers, images: images, labels: labels, along: v, seed: seed)
    guard let collective = BatchShard.current?.collective else {
      return (result.slope.doubleValue, result.curvature.doubleValue)
    }
    let sums = collective.sum([result.slope.doubleValue, result.curvature.doubleValue])
    return (sums[0], sums[1])
  }

  /// gᵀg, gᵀHg and, when `perLayer`, the contributions g_lᵀ(Hg)_l, which need the vector H g
  /// (one product); without them gᵀHg comes from one cheaper Taylor-mode pass and the
  /// contributions are NaN (not measured).
  public func alongGradient(_ g: NamedTensors<Scalar>, perLayer: Bool = true) -> AlongGradient {
    guard perLayer else {
      return AlongGradient(
        gTg: g.dot(g), gHg: curvature(along: g).curvature,
        layerGHg: Array(repeating: .nan, count: layers.groups.count))
    }
    let hg = hessianVectorProduct(g)
    let perParameter = g.entryDots(hg)
    return AlongGradient(
      gTg: g.dot(g), gHg: perParameter.reduce(0, +),
      layerGHg: layers.sum(perParameter, names: g.names))
  }

  /// Curvature along an update d (the step the optimizer took): gᵀd, dᵀHd, the first- and
  /// second-order predictions of the change, the actual change f(w + d) − f(w) on this batch,
  /// and the step quality α = 1/s* − 1 with s* = −gᵀd / dᵀHd (NaN when dᵀHd ≤ 0). dᵀHd comes
  /// from one Taylor-mode pass: only the number is needed, not H d.
  public func alongUpdate(_ d: NamedTensors<Scalar>, gradient g: NamedTensors<Scalar>, loss: Double) -> AlongUpdate {
    let gTd = g.dot(d)
    let dHd = curvature(along: d).curvature
    let actual = self.loss(displacedBy: d) - loss
    let sStar = -gTd / dHd
    return AlongUpdate(
      gTd: gTd, dHd: dHd, predictedFirst: gTd, predictedSecond: gTd + 0.5 * dHd, actual: actual,
      alpha: dHd > 0 ? 1 / sStar - 1 : .nan)
  }
}

/// Curvature along the gradient.
public struct AlongGradient: Codable, Sendable {
  public var gTg: Double
  public var gHg: Double
  /// g_lᵀ(Hg)_l per layer (`LayerGroups` order); they sum to gHg. NaN where they were not
  /// measured (`alongGradient(_:perLayer: false)`).
  public var layerGHg: [Double]

  /// ε* = gᵀg / gᵀHg, or nil where the curvature along −g is not positive (no minimum).
  public var epsilonStar: Double? { gHg > 0 ? gTg / gHg : nil }
}

/// Curvature along an update d.
public struct AlongUpdate: Codable, Sendable {
  public var gTd: Double
  public var dHd: Double
  public var predictedFirst: Double
  public var predictedSecond: Double
  public var actual: Double
  /// 1/s* − 1: −1 no progress, 0 the quadratic's minimum, 1 the far side at equal height.
  public var alpha: Double
}
