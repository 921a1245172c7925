/// Schema version 1 of the gradtrace trace file (docs/trace-format.md): the paths below are the
/// contract; more may be added, none renamed without bumping `formatVersion`.
public enum TraceSchema {
  public static let format = "gradtrace"
  public static let formatVersion: Int64 = 1

  public static let layerName = "/layers/name"
  public static let layerKind = "/layers/kind"
  public static let layerParameters = "/layers/parameters"

  public static let step = "/steps/step"
  public static let epoch = "/steps/epoch"
  public static let loss = "/steps/loss"
  public static let accuracy = "/steps/accuracy"
  public static let learningRate = "/steps/learning_rate"

  public static let gradientMeanAbs = "/gradients/mean_abs"
  public static let gradientL2Norm = "/gradients/l2_norm"
  public static let gradientMaxAbs = "/gradients/max_abs"
  public static let updateL2Norm = "/updates/l2_norm"
  public static let weightL2Norm = "/weights/l2_norm"

  public static let activationName = "/activations/name"
  public static let activationStatistics = [
    "/activations/mean", "/activations/std", "/activations/fraction_negative", "/activations/fraction_saturated",
  ]

  public static let curvatureStep = "/curvature/step"
  /// Scalar curvature quantities, one value per measured step, in `CurvatureRecord` order.
  public static let curvatureScalars = [
    "gTg", "gHg", "gTd", "dHd", "predicted_first", "predicted_second", "actual_delta", "epsilon_star",
    "alpha", "hessian_trace", "hessian_top_eigenvalue",
  ].map { "/curvature/\($0)" }
  public static let curvatureLayerGHg = "/curvature/layer_gHg"
  public static let curvatureLayerTrace = "/curvature/layer_trace"

  public static let epochColumns = ["epoch", "train_loss", "train_accuracy", "valid_loss", "valid_accuracy", "seconds"]
    .map { "/epochs/\($0)" }

  public static let summary = "/summary"

  /// The appendable datasets, grouped by the index whose rows they share: the first path of
  /// each group is the index, and every dataset of a group has one row per index entry.
  public static let appendableGroups: [[String]] = [
    [
      step, epoch, loss, accuracy, learningRate, gradientMeanAbs, gradientL2Norm, gradientMaxAbs, updateL2Norm,
      weightL2Norm,
    ] + activationStatistics,
    [curvatureStep] + curvatureScalars + [curvatureLayerGHg, curvatureLayerTrace],
    epochColumns,
  ]
}

/// The layers (weight tensors) and block activations a trace records. One kind and one
/// parameter count per layer name: `TraceWriter` refuses (throws) a layout that has not.
public struct TraceLayout: Sendable {
  public var layerNames: [String]
  public var layerKinds: [String]
  public var layerParameters: [Int]
  /// Block names whose activations are recorded; nil when activations are not recorded.
  public var activationNames: [String]?
  public var recordsCurvature: Bool

  public init(
    layerNames: [String], layerKinds: [String], layerParameters: [Int], activationNames: [String]?,
    recordsCurvature: Bool
  ) {
    self.layerNames = layerNames
    self.layerKinds = layerKinds
    self.layerParameters = layerParameters
    self.activationNames = activationNames
    self.recordsCurvature = recordsCurvature
  }
}

/// One recorded training step: scalars and per-layer (per-block) statistics.
public struct StepRecord: Sendable {
  public var step: Int
  public var epoch: Int
  public var loss: Float
  public var accuracy: Float
  public var learningRate: Float
  /// Per layer, in `TraceLayout.layerNames` order.
  public var gradientMeanAbs: [Float]
  public var gradientL2Norm: [Float]
  public var gradientMaxAbs: [Float]
  public var updateL2Norm: [Float]
  public var weightL2Norm: [Float]
  /// Per block: mean, std, fraction negative, fraction saturated (empty when not recorded).
  public var activations: [[Float]]

  public init(
    step: Int, epoch: Int, loss: Float, accuracy: Float, learningRate: Float, gradientMeanAbs: [Float],
    gradientL2Norm: [Float], gradientMaxAbs: [Float], updateL2Norm: [Float], weightL2Norm: [Float],
    activations: [[Float]]
  ) {
    self.step = step
    self.epoch = epoch
    self.loss = loss
    self.accuracy = accuracy
    self.learningRate = learningRate
    self.gradientMeanAbs = gradientMeanAbs
    self.gradientL2Norm = gradientL2Norm
    self.gradientMaxAbs = gradientMaxAbs
    self.updateL2Norm = updateL2Norm
    self.weightL2Norm = weightL2Norm
    self.activations = activations
  }
}

/// Curvature measured at one step (docs/design.md's definitions; NaN where undefined or not measured).
public struct CurvatureRecord: Sendable {
  public var step: Int
  /// gTg, gHg, gTd, dHd, predicted_first, predicted_second, actual_delta, epsilon_star, alpha,
  /// hessian_trace, hessian_top_eigenvalue.
  public var scalars: [Double]
  public var layerGHg: [Float]
  public var layerTrace: [Float]

  /// Lengths are checked where the record is appended (`TraceWriter.append(_:)` throws).
  public init(step: Int, scalars: [Double], layerGHg: [Float], layerTrace: [Float]) {
    self.step = step
    self.scalars = scalars
    self.layerGHg = layerGHg
    self.layerTrace = layerTrace
  }
}

/// One epoch: epoch, train loss, train accuracy, valid loss, valid accuracy, seconds.
public struct EpochRow: Sendable {
  public var values: [Double]
  public init(
    epoch: Int, trainLoss: Double, trainAccuracy: Double, validLoss: Double, validAccuracy: Double, seconds: Double
  ) {
    values = [Double(epoch), trainLoss, trainAccuracy, validLoss, validAccuracy, seconds]
  }
}
