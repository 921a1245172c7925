import Foundation
import Networks
import TensorCore

/// Everything `gradtrace probe` measures at fixed weights on a fixed batch.
public struct CurvatureReport: Codable, Sendable {
  public struct Layer: Codable, Sendable {
    public var label: String
    /// Parameter names in the layer (weight first).
    public var parameters: [String]
    /// Statistics of the weight tensor's gradient (the gradient-flow quantities).
    public var gradientMeanAbs: Double
    public var gradientL2Norm: Double
    public var gradientMaxAbs: Double
    /// g_lᵀ(Hg)_l over the layer's parameters.
    public var gHg: Double
    /// Hutchinson estimate of the trace of the layer's diagonal Hessian block.
    public var trace: Double
  }

  public var model: String
  public var examples: Int
  public var loss: Double
  public var accuracy: Double
  public var gTg: Double
  public var gHg: Double
  /// ε* = gᵀg / gᵀHg; nil (absent in JSON) where gᵀHg ≤ 0: no minimum along −g.
  public var epsilonStar: Double?
  /// gᵀHg ≤ 0: the quadratic model along −g has no minimum.
  public var negativeCurvature: Bool
  public var layers: [Layer]
  public var trace: TraceEstimate
  public var dominantEigenvalue: EigenvalueEstimate
  public var taylor: [TaylorRow]
  /// The extreme eigenpairs and the spectral density, when asked for (`Options.spectrum`).
  public var spectrum: SpectrumReport?
  /// The sharpness against the optimizer's edge of stability, when the spectrum was asked for
  /// and the optimizer is known (`Options.optimizer`).
  public var stability: StabilityReport?
  public var hessianVectorProducts: Int

  /// λ_max of H (SGD) or of P^(−1/2) H P^(−1/2) (Adam) against its threshold, and the
  /// directional curvature gᵀHg/gᵀg against the same.
  public struct StabilityReport: Codable, Sendable {
    public var optimizer: String
    public var learningRate: Double
    public var threshold: Double
    /// "lambda_max" (SGD) or "preconditioned_lambda_max" (Adam).
    public var sharpnessKind: String
    public var sharpness: Double
    public var gradientCurvature: Double
    /// sharpness / threshold: 1 is the edge of stability.
    public var ratio: Double
  }

  /// The optimizer the weights were trained with, for the edge of stability.
  public enum OptimizerState: Equatable, Sendable {
    case sgd(learningRate: Double, momentum: Double)
    /// Adam with its scaling P^(−1/2) (`StabilityThreshold.adamScaling`), flattened in the
    /// weights' order.
    case adam(learningRate: Double, beta1: Double, scaling: [String: [Double]])
  }

  /// What the probe computes and how.
  public struct Options: Sendable {
    public var probes = 10
    public var seed: UInt64 = 0
    public var eigenvalueTolerance = 1e-3
    public var maximumEigenvalueProducts = 100
    /// Multiples k of ε* for the Taylor table.
    public var multiples = [0.01, 0.1, 0.5, 1, 2]
    /// Step sizes used instead when ε* does not exist.
    public var epsilonGrid = [1e-4, 1e-3, 1e-2, 1e-1, 1]
    /// Lanczos and SLQ, when asked for (nil: off).
    public var spectrum: SpectrumOptions?
    /// The optimizer at these weights (with the spectrum: the stability report).
    public var optimizer: OptimizerState?
    public init() {}
  }

  /// Runs every measurement of the report.
  public static func measure<Scalar: TensorScalar>(_ probe: CurvatureProbe<Scalar>, options: Options) -> CurvatureReport
  {
    let (_, accuracy, g) = probe.gradient()
    let loss = probe.loss().loss
    let along = probe.alongGradient(g)
    let steps: [TaylorStep]
    if let epsilonStar = along.epsilonStar {
      steps = options.multiples.map { TaylorStep(epsilon: $0 * epsilonStar, multipleOfEpsilonStar: $0) }
    } else {
      steps = options.epsilonGrid.map { TaylorStep(epsilon: $0) }
    }
    let taylor = probe.taylorTable(gradient: g, along: along, loss: loss, steps: steps)
    let trace = probe.hutchinsonTrace(probes: options.probes, seed: options.seed)
    let eigenvalue = probe.dominantEigenvalue(
      tolerance: options.eigenvalueTolerance, maximumProducts: options.maximumEigenvalueProducts,
      seed: options.seed &+ 1)
    let layers = probe.layers.groups.enumerated().map { index, group in
      let weight = g[group.parameters[0]]!
      return Layer(
        label: group.label, parameters: group.parameters, gradientMeanAbs: weight.meanAbsolute,
        gradientL2Norm: weight.squaredNorm.squareRoot(),
        gradientMaxAbs: weight.scalars.reduce(0) { max($0, abs($1.doubleValue)) },
        gHg: along.layerGHg[index], trace: trace.layerTraces[index])
    }
    let measured = options.spectrum.map {
      SpectrumReport.measure(
        probe, gradient: g, update: nil, gradientCurvature: along.gTg > 0 ? along.gHg / along.gTg : .nan, options: $0,
        optimizer: options.optimizer, seed: options.seed &+ 2)
    }
    let spectrum = measured?.spectrum
    let stability = measured?.stability
    return CurvatureReport(
      model: probe.model.name, examples: BatchShard.current?.batchRows ?? probe.labels.count, loss: loss,
      accuracy: accuracy, gTg: along.gTg, gHg: along.gHg, epsilonStar: along.epsilonStar,
      negativeCurvature: along.gHg <= 0,
      layers: layers, trace: trace, dominantEigenvalue: eigenvalue, taylor: taylor, spectrum: spectrum,
      stability: stability, hessianVectorProducts: probe.productCount)
  }

  /// Pretty, key-sorted JSON; NaN and infinities as the strings "NaN", "Infinity".
  public func json() throws -> String { try ReportJSON.encode(self) }
}

/// How probe's reports are written as JSON: key-sorted, snake_case keys, NaN and the infinities
/// as the strings "NaN", "Infinity", "-Infinity".
public enum ReportJSON {
  public static func encode(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    return String(decoding: try encoder.encode(value), as: UTF8.self)
  }
}
