import Networks
import TensorCore

/// How much of a batch gradient is minibatch noise, per layer, from the gradients g_j of m
/// groups of the batch's loss terms taken through one training-mode forward pass
/// (`ModelForward.groupGradients`; docs/design.md, "Gradient noise").
///
/// Model: the loss terms' gradients have mean G and covariance Σ, so a group of b_j terms has
/// Cov(g_j) = Σ/b_j and the batch gradient g = Σ_j (b_j/N) g_j has E|g|² = |G|² + tr(Σ)/N.
/// Then E Σ_j b_j |g_j − g|² = (m − 1) tr(Σ) for any group sizes, and the unbiased estimates are
///
///     tr(Σ) ≈ Σ_j b_j |g_j − g|² / (m − 1),      |G|² ≈ |g|² − tr(Σ)/N,
///
/// the same sums restricted to a layer's parameters for tr(Σ_l) and |G_l|². From them McCandlish
/// et al.'s simple noise scale B_simple = tr(Σ)/|G|² and the signal-to-noise ratio of the batch
/// gradient SNR = |G|² / (tr(Σ)/N) = N / B_simple: below 1 the noise in g is longer than its
/// signal. Training-mode BatchNorm couples the groups through the batch statistics, so the
/// groups are not independent draws: the estimates describe the function being trained, under
/// that approximation.
public struct GradientNoise: Sendable, Equatable {
  /// N, the batch's loss terms, and b_j, each group's.
  public var batch: Int
  public var groupSizes: [Int]
  /// Per layer (`LayerGroups` order): |g_l|² of the batch gradient.
  public var layerBatchNormSquared: [Double]
  /// Per layer: tr(Σ_l), the summed variance of one loss term's gradient.
  public var layerCovarianceTrace: [Double]

  public var groups: Int { groupSizes.count }

  public init(
    gradient g: NamedTensors<some TensorScalar>, groups: [NamedTensors<some TensorScalar>], sizes: [Int],
    layers: LayerGroups
  ) {
    precondition(groups.count == sizes.count && groups.count >= 2, "GradientNoise: \(groups.count) groups")
    batch = sizes.reduce(0, +)
    groupSizes = sizes
    let names = g.names
    var spread = [Double](repeating: 0, count: names.count)
    for (member, size) in zip(groups, sizes) {
      for (position, name) in names.enumerated() {
        let (a, b) = (member[name]!.scalars, g[name]!.scalars)
        var sum = 0.0
        for i in a.indices {
          let difference = a[i].doubleValue - b[i].doubleValue
          sum += difference * difference
        }
        spread[position] += Double(size) * sum
      }
    }
    let m = Double(sizes.count)
    layerBatchNormSquared = layers.sum(g.entryDots(g), names: names)
    layerCovarianceTrace = layers.sum(spread.map { $0 / (m - 1) }, names: names)
  }

  /// |G_l|² per layer, unbiased (negative when the signal is below what the noise can resolve).
  public var layerGradientNormSquared: [Double] {
    zip(layerBatchNormSquared, layerCovarianceTrace).map { $0 - $1 / Double(batch) }
  }
  public var layerSimpleNoiseScale: [Double] {
    zip(layerCovarianceTrace, layerGradientNormSquared).map { $0 / $1 }
  }
  public var layerSignalToNoise: [Double] { layerSimpleNoiseScale.map { Double(batch) / $0 } }

  /// The whole model's: sums over the layers.
  public var covarianceTrace: Double { layerCovarianceTrace.reduce(0, +) }
  public var batchNormSquared: Double { layerBatchNormSquared.reduce(0, +) }
  public var gradientNormSquared: Double { batchNormSquared - covarianceTrace / Double(batch) }
  public var simpleNoiseScale: Double { covarianceTrace / gradientNormSquared }
  public var signalToNoise: Double { Double(batch) / simpleNoiseScale }
}

/// The curvature side of the noise (McCandlish et al. 2018, appendix A): with the group
/// gradients' spread along H,
///
///     tr(HΣ) ≈ Σ_j b_j (g_j − g)ᵀH(g_j − g) / (m − 1),      GᵀHG ≈ gᵀHg − tr(HΣ)/N,
///
/// (unbiased by the same argument as tr(Σ)), the noise scale B_noise = tr(HΣ)/GᵀHG, the
/// largest useful step ε_max = |G|²/GᵀHG (the paper's ε* for the expected gradient) and the
/// step that minimises the expected quadratic model at batch size B, ε_opt(B) = ε_max/(1 + B_noise/B).
public struct NoiseCurvature: Sendable, Equatable {
  public var hessianCovarianceTrace: Double
  public var expectedCurvature: Double
  public var noiseScale: Double
  public var epsilonMax: Double
  public var epsilonOptimal: Double

  /// From the batch's noise, its gᵀHg and the m values (g_j − g)ᵀH(g_j − g).
  public init(noise: GradientNoise, gHg: Double, spreadCurvatures: [Double]) {
    precondition(spreadCurvatures.count == noise.groups, "NoiseCurvature: one curvature per group")
    let n = Double(noise.batch)
    hessianCovarianceTrace =
      zip(noise.groupSizes, spreadCurvatures).reduce(0) { $0 + Double($1.0) * $1.1 } / Double(noise.groups - 1)
    expectedCurvature = gHg - hessianCovarianceTrace / n
    noiseScale = hessianCovarianceTrace / expectedCurvature
    // Without positive curvature along G there is no minimum: no ε_max.
    epsilonMax = expectedCurvature > 0 ? noise.gradientNormSquared / expectedCurvature : .nan
    epsilonOptimal = epsilonMax / (1 + noiseScale / n)
  }
}

extension CurvatureProbe {
  /// tr(HΣ) and what follows from it: one Taylor-mode pass along each g_j − g.
  public func noiseCurvature(
    _ noise: GradientNoise, gradient g: NamedTensors<Scalar>, groups: [NamedTensors<Scalar>], gHg: Double
  ) -> NoiseCurvature {
    let spread = groups.map { curvature(along: $0.adding(g, scaledBy: -1)).curvature }
    return NoiseCurvature(noise: noise, gHg: gHg, spreadCurvatures: spread)
  }
}
