import Autodiff
import Curvature
import Foundation
import Networks
import TensorCore
import TraceIO

/// The sums behind a recorded step's signal statistics (`TraceRecorder.signalSums`): five
/// moment sums per block output and per merge input, and per block the c-value (the first
/// shard's, 0 on the others, so that they too add) or, when the compared examples span
/// several shards, the count of those with a direction and their direction sum.
public struct SignalSums: Equatable, Sendable {
  public var moments: [Double] = []
  public var cValues: [Float] = []
  public var directions: [[Float]] = []
  /// Values per example of each merge input.
  public var exampleSizes: [Double] = []
  public init() {}

  /// The five sums of entry `index` (blocks first, then merge inputs).
  func moments(_ index: Int) -> ArraySlice<Double> { moments[(index * 5)..<(index * 5 + 5)] }

  /// These sums and another shard's.
  public func adding(_ other: SignalSums) -> SignalSums {
    var result = self
    result.moments = zip(moments, other.moments).map(+)
    result.cValues = zip(cValues, other.cValues).map(+)
    result.directions = zip(directions, other.directions).map { zip($0, $1).map(+) }
    return result
  }

  /// Summed over the ranks of `collective`.
  public func summed(over collective: (any Collective)?) -> SignalSums {
    guard let collective, collective.size > 1 else { return self }
    var result = self
    let all = collective.sum(moments + cValues.map(Double.init))
    result.moments = Array(all[..<moments.count])
    result.cValues = all[moments.count...].map { Float($0) }
    if !directions.isEmpty {
      var flat = directions.flatMap { $0 }
      flat.withUnsafeMutableBufferPointer { collective.sum($0) }
      var start = 0
      for block in directions.indices {
        result.directions[block] = Array(flat[start..<start + directions[block].count])
        start += directions[block].count
      }
    }
    return result
  }
}

/// What a traced run records, and how often.
public struct RecordingOptions: Codable, Equatable, Sendable {
  public var gradients = true
  public var activations = true
  public var curvature = false
  /// Record the step statistics every k steps (the last step of each epoch always).
  public var every = 1
  /// Measure gᵀHg, dᵀHd, α and the actual change every K steps (K ≥ 1).
  public var curvatureEvery = 10
  /// The arithmetic of those measurements: float32 like training, or float64 throughout (the
  /// gradient recomputed, gᵀHg, dᵀHd and the actual change from the same weights, batch and
  /// dropout mask), which tells float32 rounding from real higher-order effects.
  public var curvaturePrecision = CurvaturePrecision.float
  /// Per-layer contributions g_lᵀ(Hg)_l every this many curvature measurements (0: never).
  /// They need the whole vector H g (one Hessian-vector product, ~2.4 gradients); gᵀHg alone
  /// comes from a Taylor-mode pass (~1.6 gradients), which is what keeps curvature every 10th
  /// step affordable. Measurements without them store NaN.
  public var layerCurvatureEvery = 10
  /// Hutchinson probes for the trace every this many curvature measurements (0: never).
  public var traceEvery = 0
  public var traceProbes = 4
  /// Dominant eigenvalue every this many curvature measurements (0: never).
  public var eigenvalueEvery = 0
  /// The Hessian's spectrum every this many steps (0: never): Lanczos eigenvalues, the density,
  /// the overlaps, the outliers and the edge of stability (`SpectrumReport`).
  public var spectrumEvery = 0
  public var spectrum = SpectrumOptions()
  /// Log-magnitude histograms of gradients, updates, weights and block outputs every this many
  /// steps (0: never).
  public var histogramEvery = 0
  public var histogramBins = LogHistogramBins()
  /// Gradient noise (`GradientNoise`): every `noiseEvery` steps, the gradients of `noiseGroups`
  /// groups of the batch's loss terms (m − 1 backward passes more on the step's tape); with
  /// curvature recorded also tr(HΣ), B_noise and ε_opt (m Taylor-mode passes more).
  public var noise = false
  public var noiseEvery = 20
  public var noiseGroups = 4
  public var flushEvery = 100
  public init() {}

  /// Whether the trace holds spectra.
  public var recordsSpectrum: Bool { spectrumEvery > 0 }
  /// Whether the trace holds histograms.
  public var recordsHistograms: Bool { histogramEvery > 0 }
}

/// The arithmetic of the curvature measurements during training.
public enum CurvaturePrecision: String, Codable, CaseIterable, Sendable {
  case float, double
}

/// Turns training steps into trace rows: per-layer gradient statistics (reduced where the
/// gradients are, no copies), update and weight norms, per-block activation statistics, and on
/// its own schedule exact curvature along g and along the update d with the actual change.
public final class TraceRecorder {
  /// The trace file; nil on the ranks other than 0 of a data-parallel run, which measure
  /// (their shares of every global quantity) but do not write.
  public let writer: TraceWriter?
  private let layout: TraceLayout
  public let options: RecordingOptions
  private let weightNames: [String]
  private let saturates: Bool
  private let histogramCounter: LogHistogramCounter?

  public init<S: TensorScalar>(path: String, network: Network<S>, configuration: String, options: RecordingOptions)
    throws
  {
    self.options = options
    weightNames = network.weightTensors.map(\.name)
    saturates = network.model.saturates
    histogramCounter = options.recordsHistograms ? LogHistogramCounter(bins: options.histogramBins) : nil
    layout = Self.layout(network, options)
    writer = try TraceWriter(
      path: path, configuration: configuration, model: ModelDescription(network: network).json,
      toolVersion: GradTraceVersion.current, layout: layout, flushEvery: options.flushEvery)
  }

  /// A recorder that measures without writing: a rank other than 0 of a data-parallel run
  /// takes part in every measurement's sums over the ranks, rank 0 writes the rows.
  public init<S: TensorScalar>(measuringFor network: Network<S>, options: RecordingOptions) {
    self.options = options
    weightNames = network.weightTensors.map(\.name)
    saturates = network.model.saturates
    histogramCounter = options.recordsHistograms ? LogHistogramCounter(bins: options.histogramBins) : nil
    layout = Self.layout(network, options)
    writer = nil
  }

  /// Continues the trace of a run resumed by `trainer` (from its last checkpoint): the steps
  /// and epochs recorded after that checkpoint are dropped, recording goes on from there.
  public init<S: TensorScalar>(continuing path: String, trainer: TrainerOf<S>, options: RecordingOptions) throws {
    self.options = options
    weightNames = trainer.network.weightTensors.map(\.name)
    saturates = trainer.network.model.saturates
    histogramCounter = options.recordsHistograms ? LogHistogramCounter(bins: options.histogramBins) : nil
    layout = Self.layout(trainer.network, options)
    writer = try TraceWriter.continuing(
      path, layout: layout, beforeStep: trainer.completedSteps, epochs: trainer.history.count,
      flushEvery: options.flushEvery)
  }

  static func layout<S: TensorScalar>(_ network: Network<S>, _ options: RecordingOptions) -> TraceLayout {
    let weights = network.weightTensors
    return TraceLayout(
      layerNames: weights.map(\.label), layerKinds: weights.map(\.role.rawValue),
      layerParameters: weights.map(\.elementCount),
      activationNames: options.activations ? network.blockNames : nil,
      recordsCurvature: options.curvature,
      spectrum: options.recordsSpectrum
        ? TraceLayout.SpectrumShape(
          topK: options.spectrum.topK, probes: options.spectrum.probes, steps: options.spectrum.steps,
          gridPoints: options.spectrum.gridPoints) : nil,
      histogramBins: options.recordsHistograms ? options.histogramBins : nil, recordsNoise: options.noise,
      merges: options.activations
        ? network.model.merges.map { TraceLayout.MergeColumn(layer: $0.layer, kind: $0.kind, input: $0.input) } : nil)
  }

  /// Whether step `step` (from 0) of an epoch with `steps` steps is recorded.
  public func records(step: Int, of steps: Int) -> Bool {
    step % options.every == 0 || step == steps - 1
  }

  /// Whether the global step `globalStep` gets a curvature measurement.
  public func measuresCurvature(globalStep: Int) -> Bool {
    options.curvature && globalStep % options.curvatureEvery == 0
  }

  /// What a recorded step holds about a forward pass's signal, read where the tape keeps it
  /// (either layout: each example's values are contiguous in both). `blocks`: per block output
  /// the mean, std, fraction negative, fraction saturated (sigmoid outputs below 0.01 or above
  /// 0.99; NaN for leaky ReLU, where saturation does not apply), q-value and c-value.
  /// `mergeNorms`: per add and concat input (`ModelForward.mergeInputs`) ‖x‖ = √(mean over the
  /// batch of ‖x_n‖²), from the same one-pass moments (q·D = mean ‖x_n‖²), each distinct tensor
  /// read once (a shortcut is usually the previous block's output); at a residual add the
  /// ratio of the branch's to the shortcut's is ‖F(x)‖/‖x‖. Empty when activations are not
  /// recorded.
  public func signalStatistics(
    _ forward: ModelForward<Float>, on tape: Tape<Float>
  ) -> (blocks: [[Float]], mergeNorms: [Double]) {
    signalStatistics(signalSums(forward, on: tape))
  }

  /// The sums a step's signal statistics come from, on one shard of the batch (rows `shard` of
  /// a global batch of `batchRows`): they add over shards and ranks (`SignalSums.adding`,
  /// `SignalSums.summed(over:)`) to the global batch's. The c-value compares the global batch's
  /// first `cosineExamples` examples: when the first shard holds them all it computes the
  /// value; otherwise every shard holding some adds its direction sums (one vector per block).
  public func signalSums<S: TensorScalar>(
    _ forward: ModelForward<S>, on tape: Tape<S>, shard: Range<Int>? = nil, firstShardRows: Int? = nil,
    batchRows: Int? = nil
  ) -> SignalSums {
    // The statistics are taken in Float (a float64 run's activations rounded: the trace
    // stores float32).
    func stored(_ variable: Variable) -> Tensor<Float> {
      let value = tape.storedValue(variable)
      return S.self == Float.self ? unsafeBitCast(value, to: Tensor<Float>.self) : value.converted(to: Float.self)
    }
    guard options.activations else { return SignalSums() }
    var known: [Int: [Double]] = [:]
    func sums(_ variable: Variable) -> [Double] {
      if let seen = known[variable.id] { return seen }
      let measured = Self.momentSums(stored(variable))
      known[variable.id] = measured
      return measured
    }
    var result = SignalSums()
    let compared = min(Self.cosineExamples, batchRows ?? Int.max)
    let offset = shard?.lowerBound ?? 0
    let firstHoldsAll = (firstShardRows ?? compared) >= compared
    let mine = max(0, compared - offset)  // of this shard's rows, the compared ones
    for block in forward.blockOutputs {
      result.moments += sums(block.output)
      let output = stored(block.output)
      if firstHoldsAll {
        result.cValues.append(offset == 0 ? Self.cosineSimilarity(output) : 0)
      } else {
        let (sum, used) = Self.directionSums(output, examples: mine)
        result.cValues.append(Float(used))
        result.directions.append(sum)
      }
    }
    if layout.merges != nil {
      for variable in forward.mergeInputs {
        result.moments += sums(variable)
        result.exampleSizes.append(Double(tape.shape(variable).dropFirst().reduce(1, *)))
      }
    }
    return result
  }

  /// The recorded statistics from (pooled) sums: per block [mean, std, fraction negative,
  /// fraction saturated, q-value, c-value], per merge input its norm.
  public func signalStatistics(_ sums: SignalSums) -> (blocks: [[Float]], mergeNorms: [Double]) {
    guard options.activations else { return ([], []) }
    let blocks = sums.cValues.indices.map { block -> [Float] in
      let (mean, std, negative, saturated, meanSquare) = Self.moments(fromSums: sums.moments(block))
      let cValue =
        sums.directions.isEmpty
        ? sums.cValues[block]
        : Self.cosineSimilarity(directionSum: sums.directions[block], used: Int(sums.cValues[block]))
      return [mean, std, negative, saturates ? saturated : .nan, meanSquare, cValue]
    }
    let norms = sums.exampleSizes.indices.map { input in
      (Double(Self.moments(fromSums: sums.moments(sums.cValues.count + input)).4) * sums.exampleSizes[input])
        .squareRoot()
    }
    return (blocks, norms)
  }

  /// Examples of the batch the c-value compares.
  public static let cosineExamples = 32

  /// The c-value: the mean of cos(x_i, x_j) over pairs i ≠ j of the first `examples` examples
  /// of a batch [N, …]. With u_i = x_i/‖x_i‖, Σ_{i≠j} u_i·u_j = ‖Σ_i u_i‖² − n, so it costs one
  /// pass over the examples (norms in Double, the sum of the u_i in Float: n ≤ 32 terms) instead
  /// of n² dot products. Examples whose output is 0 have no direction and are left out; NaN
  /// when fewer than two remain.
  public static func cosineSimilarity(_ tensor: Tensor<Float>, examples: Int = cosineExamples) -> Float {
    guard tensor.rank >= 1, tensor.shape[0] > 0 else { return .nan }
    let sums = directionSums(tensor, examples: examples)
    return cosineSimilarity(directionSum: sums.sum, used: sums.used)
  }

  /// Σ_i u_i over the first `examples` examples with a direction (u_i = x_i/‖x_i‖, ‖x_i‖ in
  /// Double) and how many there were: sums that add over the shards of a batch.
  static func directionSums(_ tensor: Tensor<Float>, examples: Int) -> (sum: [Float], used: Int) {
    let size = tensor.count / max(tensor.shape[0], 1)
    let n = min(examples, tensor.shape[0])
    var sum = [Float](repeating: 0, count: size)
    var used = 0
    tensor.scalars.withUnsafeBufferPointer { x in
      sum.withUnsafeMutableBufferPointer { s in
        for i in 0..<n {
          let example = UnsafeBufferPointer(rebasing: x[(i * size)..<((i + 1) * size)])
          var squares = 0.0
          for value in example { squares += Double(value) * Double(value) }
          guard squares > 0, squares.isFinite else { continue }
          used += 1
          let scale = Float(1 / squares.squareRoot())
          for k in 0..<size { s[k] += example[k] * scale }
        }
      }
    }
    return (sum, used)
  }

  /// The c-value (‖Σ u_i‖² − n) / (n(n − 1)) from the direction sums; NaN when n < 2.
  static func cosineSimilarity(directionSum sum: [Float], used: Int) -> Float {
    guard used >= 2 else { return .nan }
    let squaredNorm = sum.reduce(0.0) { $0 + Double($1) * Double($1) }
    return Float((squaredNorm - Double(used)) / Double(used * (used - 1)))
  }

  /// Mean, standard deviation, fraction < 0, fraction outside [0.01, 0.99] and mean square of
  /// a tensor, in one pass: sixteen lanes at a time in Float over blocks of 1,024 values, the
  /// block sums then added in Double (this runs on every block output of every recorded step).
  public static func moments(_ tensor: Tensor<Float>) -> (Float, Float, Float, Float, Float) {
    moments(fromSums: momentSums(tensor)[...])
  }

  /// The statistics of `moments` from the sums [count, Σx, Σx², #(x < 0), #(x ∉ [0.01, 0.99])],
  /// which add over the shards of a batch.
  public static func moments(fromSums sums: ArraySlice<Double>) -> (Float, Float, Float, Float, Float) {
    let s = Array(sums)
    let count = max(s[0], 1)
    let mean = s[1] / count
    return (
      Float(mean), Float(max(0, s[2] / count - mean * mean).squareRoot()), Float(s[3] / count), Float(s[4] / count),
      Float(s[2] / count)
    )
  }

  /// [count, Σx, Σx², #(x < 0), #(x ∉ [0.01, 0.99])] of a tensor, in one pass (see `moments`).
  public static func momentSums(_ tensor: Tensor<Float>) -> [Double] {
    tensor.scalars.withUnsafeBufferPointer { x in
      let n = x.count
      var (sum, squares) = (0.0, 0.0)
      var (negative, saturated) = (0, 0)
      let raw = UnsafeRawPointer(x.baseAddress!)
      var start = 0
      while start + 16 <= n {
        let end = min(n - (n - start) % 16, start + 1024)
        var (blockSum, blockSquares) = (SIMD16<Float>(), SIMD16<Float>())
        var (blockNegative, blockSaturated) = (SIMD16<Int32>(), SIMD16<Int32>())
        var i = start
        while i < end {
          let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
          blockSum += v
          blockSquares += v * v
          blockNegative &+= SIMD16<Int32>(repeating: 0).replacing(with: 1, where: v .< 0)
          blockSaturated &+= SIMD16<Int32>(repeating: 0).replacing(with: 1, where: (v .< 0.01) .| (v .> 0.99))
          i += 16
        }
        sum += Double(blockSum.sum())
        squares += Double(blockSquares.sum())
        negative += Int(blockNegative.wrappedSum())
        saturated += Int(blockSaturated.wrappedSum())
        start = end
      }
      for i in start..<n {
        let v = x[i]
        sum += Double(v)
        squares += Double(v) * Double(v)
        if v < 0 { negative += 1 }
        if v < 0.01 || v > 0.99 { saturated += 1 }
      }
      return [Double(n), sum, squares, Double(negative), Double(saturated)]
    }
  }

  /// Writes one step's row. `before` and `after` are the weights around the update.
  public func recordStep(
    step: Int, epoch: Int, loss: Float, accuracy: Double, learningRate: Double, gradients: NamedTensors<Float>,
    before: NamedTensors<Float>, after: NamedTensors<Float>, activations: [[Float]], mergeNorms: [Double] = []
  ) throws {
    var row = TraceRow(.steps, at: step)
    row[.epoch] = Double(epoch)
    row[.loss] = Double(loss)
    row[.accuracy] = Double(Float(accuracy))
    row[.learningRate] = Double(Float(learningRate))
    var meanAbs = [Double](), l2 = [Double](), maxAbs = [Double](), update = [Double](), cosine = [Double]()
    var weight = [Double]()
    for name in weightNames {
      let (m, n, x) = Self.statistics(gradients[name]!)
      meanAbs.append(Double(m))
      l2.append(Double(n))
      maxAbs.append(Double(x))
      let (distance, gradientDotUpdate) = Self.update(gradients[name]!, before[name]!, after[name]!)
      update.append(Double(Float(distance)))
      cosine.append(Double(Float(gradientDotUpdate / (Double(n) * distance))))
      weight.append(Double(Float(after[name]!.squaredNorm.squareRoot())))
    }
    row[values: .gradientMeanAbs] = meanAbs
    row[values: .gradientL2Norm] = l2
    row[values: .gradientMaxAbs] = maxAbs
    row[values: .updateL2Norm] = update
    row[values: .updateGradientCosine] = cosine
    row[values: .weightL2Norm] = weight
    if options.activations {
      for (statistic, dataset) in [
        TraceDataset.activationMean, .activationStd, .activationFractionNegative, .activationFractionSaturated,
        .activationQValue, .activationCValue,
      ].enumerated() {
        row[values: dataset] = activations.map { Double($0[statistic]) }
      }
      if layout.merges != nil { row[values: .mergeInputNorm] = mergeNorms }
    }
    try writer?.append(row)
  }

  /// Writes one epoch's row.
  public func recordEpoch(_ record: EpochRecord) throws(HDF5Error) {
    var row = TraceRow(.epochs, at: record.epoch)
    row[.trainLoss] = record.trainLoss
    row[.trainAccuracy] = record.trainAccuracy
    row[.validLoss] = record.validLoss
    row[.validAccuracy] = record.validAccuracy
    row[.epochSeconds] = record.seconds
    try writer?.append(row)
  }

  /// Measures curvature at the weights `before` on the step's batch: gᵀg, gᵀHg, gᵀd and dᵀHd
  /// for the update d = after − before (the curvatures by Taylor mode), the predictions, the
  /// actual change f(w + d) − f(w) and α; the per-layer split of gᵀHg (an H·v), the trace and
  /// the eigenvalue on their sparser schedules. `seed` is the step's pass seed (its dropout
  /// masks), so every measurement differentiates the function the step took.
  /// - Returns: gᵀHg, for a noise measurement at the same step.
  @discardableResult public func recordCurvature<S: TensorScalar>(
    step: Int, network: Network<S>, images: Tensor<S>, labels: [Int], seed: UInt64, loss: S,
    gradients g: NamedTensors<S>, before: NamedTensors<S>, after: NamedTensors<S>, measurementIndex: Int
  ) throws(HDF5Error) -> Double where S.Accumulator: TensorScalar {
    // The curvature of the loss at the weights the step started from: the probe takes them as
    // an argument, the network's own weights (already updated) are not touched.
    let probe = CurvatureProbe(
      model: network.model, weights: before, buffers: network.buffers, images: images, labels: labels,
      exactLoss: false, seed: seed)
    let d = after.adding(before, scaledBy: -1)
    let measured =
      switch options.curvaturePrecision {
      case .float: measure(probe, gradient: g, update: d, loss: loss.doubleValue, step: step, index: measurementIndex)
      case .double:
        // The same weights, batch and mask in float64; the float32 update d is exact in it.
        measure(
          CurvatureProbe(
            model: network.model, weights: before.converted(to: Double.self),
            buffers: network.buffers.converted(to: Double.self), images: images.converted(), labels: labels,
            exactLoss: false, seed: seed),
          gradient: nil, update: d.converted(to: Double.self), loss: nil, step: step, index: measurementIndex)
      }
    try write(measured, step: step, layerGroups: probe.layers)
    return measured.along.gHg
  }

  /// What one curvature measurement found.
  struct CurvatureMeasurement {
    var along: AlongGradient
    var update: AlongUpdate
    var trace: TraceEstimate?
    var eigenvalue: Double?
    var measuresLayers: Bool
  }

  /// Measures along g and d with `probe`, in its arithmetic; a nil `gradient` (and `loss`) is
  /// recomputed by the probe at its weights.
  private func measure<S: TensorScalar>(
    _ probe: CurvatureProbe<S>, gradient: NamedTensors<S>?, update d: NamedTensors<S>, loss: Double?, step: Int,
    index measurementIndex: Int
  ) -> CurvatureMeasurement {
    func due(_ every: Int) -> Bool { every > 0 && measurementIndex % every == 0 }
    let measuresLayers = due(options.layerCurvatureEvery)
    var (g, f) = (gradient, loss)
    if g == nil || f == nil {
      let recomputed = probe.gradient()
      (g, f) = (recomputed.gradient, recomputed.loss)
    }
    let along = probe.alongGradient(g!, perLayer: measuresLayers)
    let update = probe.alongUpdate(d, gradient: g!, loss: f!)
    let trace = due(options.traceEvery) ? probe.hutchinsonTrace(probes: options.traceProbes, seed: UInt64(step)) : nil
    let eigenvalue =
      due(options.eigenvalueEvery)
      ? probe.dominantEigenvalue(tolerance: 1e-2, maximumProducts: 20, seed: UInt64(step)).eigenvalue : nil
    return CurvatureMeasurement(
      along: along, update: update, trace: trace, eigenvalue: eigenvalue, measuresLayers: measuresLayers)
  }

  private func write(_ measured: CurvatureMeasurement, step: Int, layerGroups: LayerGroups) throws(HDF5Error) {
    let (along, update, trace, eigenvalue) = (measured.along, measured.update, measured.trace, measured.eigenvalue)
    var row = TraceRow(.curvature, at: step)
    row[.gTg] = along.gTg
    row[.gHg] = along.gHg
    row[.gTd] = update.gTd
    row[.dHd] = update.dHd
    row[.predictedFirst] = update.predictedFirst
    row[.predictedSecond] = update.predictedSecond
    row[.actualDelta] = update.actual
    row[.epsilonStar] = along.epsilonStar ?? .nan
    row[.alpha] = update.alpha
    try writer?.append(row)
    // Per-layer values for the trace's layers (weight tensors): each layer group's total.
    if measured.measuresLayers {
      var layers = TraceRow(.layerCurvature, at: step)
      layers[values: .layerGHg] = traceLayers(along.layerGHg, layerGroups)
      try writer?.append(layers)
    }
    if let trace {
      var row = TraceRow(.hessianTrace, at: step)
      row[.hessianTrace] = trace.trace
      row[values: .layerHessianTrace] = traceLayers(trace.layerTraces, layerGroups)
      try writer?.append(row)
    }
    if let eigenvalue {
      var row = TraceRow(.eigenvalue, at: step)
      row[.topEigenvalue] = eigenvalue
      try writer?.append(row)
    }
  }

  /// Per-layer-group values (`LayerGroups` order) for the trace's layers: each weight tensor
  /// gets the total of the group it heads.
  private func traceLayers(_ values: [Double], _ layerGroups: LayerGroups) -> [Double] {
    let groupIndex = Dictionary(uniqueKeysWithValues: layerGroups.groups.enumerated().map { ($1.parameters[0], $0) })
    return weightNames.map { values[groupIndex[$0]!] }
  }

  /// Whether the global step `globalStep` gets a gradient-noise measurement.
  public func measuresNoise(globalStep: Int) -> Bool {
    options.noise && globalStep % options.noiseEvery == 0
  }

  /// Writes one `/noise` row from the step's batch gradient g and its group gradients g_j
  /// (`ModelForward.groupGradients`): per layer and for the model |G|², tr(Σ), B_simple and the
  /// SNR, the step taken along −g, and with curvature recorded tr(HΣ), GᵀHG, B_noise, ε_max and
  /// ε_opt, by Taylor mode at the weights `before` on the step's batch and pass seed. `gHg` is
  /// the step's curvature measurement's, when it had one. `backwardSeconds`: the time the group
  /// gradients took, which the row's seconds include.
  public func recordNoise<S: TensorScalar>(
    step: Int, network: Network<S>, images: Tensor<S>, labels: [Int], seed: UInt64,
    gradients g: NamedTensors<S>, groups: [NamedTensors<S>], before: NamedTensors<S>,
    after: NamedTensors<S>, gHg: Double?, backwardSeconds: Double
  ) throws(HDF5Error) where S.Accumulator: TensorScalar {
    let started = DispatchTime.now().uptimeNanoseconds
    let layerGroups = LayerGroups(network.model.specifications)
    // The groups cut the global batch (on a shard of it, its rows are the shard's).
    let sizes = LossGroups(batch: BatchShard.current?.batchRows ?? labels.count, count: groups.count).sizes
    let noise = GradientNoise(gradient: g, groups: groups, sizes: sizes, layers: layerGroups)
    var row = TraceRow(.noise, at: step)
    row[.noiseBatch] = Double(noise.batch)
    row[.noiseGroups] = Double(noise.groups)
    row[.noiseGradientNormSquared] = noise.gradientNormSquared
    row[.noiseCovarianceTrace] = noise.covarianceTrace
    row[.noiseSimpleScale] = noise.simpleNoiseScale
    row[.noiseSignalToNoise] = noise.signalToNoise
    row[values: .layerNoiseGradientNormSquared] = traceLayers(noise.layerGradientNormSquared, layerGroups)
    row[values: .layerNoiseCovarianceTrace] = traceLayers(noise.layerCovarianceTrace, layerGroups)
    row[values: .layerNoiseSimpleScale] = traceLayers(noise.layerSimpleNoiseScale, layerGroups)
    row[values: .layerNoiseSignalToNoise] = traceLayers(noise.layerSignalToNoise, layerGroups)
    row[.noiseStepTaken] = -g.dot(after.adding(before, scaledBy: -1)) / g.dot(g)
    if options.curvature {
      let probe = CurvatureProbe(
        model: network.model, weights: before, buffers: network.buffers, images: images, labels: labels,
        exactLoss: false, seed: seed)
      let curvature = probe.noiseCurvature(
        noise, gradient: g, groups: groups, gHg: gHg ?? probe.curvature(along: g).curvature)
      row[.noiseHessianCovarianceTrace] = curvature.hessianCovarianceTrace
      row[.noiseExpectedCurvature] = curvature.expectedCurvature
      row[.noiseCurvatureScale] = curvature.noiseScale
      row[.noiseEpsilonMax] = curvature.epsilonMax
      row[.noiseEpsilonOptimal] = curvature.epsilonOptimal
    }
    row[.noiseSeconds] = backwardSeconds + Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
    try writer?.append(row)
  }

  /// Whether the global step `globalStep` gets a spectrum.
  public func measuresSpectrum(globalStep: Int) -> Bool {
    options.recordsSpectrum && globalStep % options.spectrumEvery == 0
  }

  /// Measures the Hessian's spectrum at the weights `before` on the step's batch (its pass seed
  /// `seed`), the overlaps of g and of the update d = after − before with the top-k
  /// eigenvectors and, with `optimizer` (the state after the step: the preconditioner the step
  /// used), the edge of stability; writes one `/spectrum` row.
  public func recordSpectrum<S: TensorScalar>(
    step: Int, network: Network<S>, images: Tensor<S>, labels: [Int], seed: UInt64,
    gradients g: NamedTensors<S>, before: NamedTensors<S>, after: NamedTensors<S>,
    optimizer: CurvatureReport.OptimizerState?
  ) throws(HDF5Error) where S.Accumulator: TensorScalar {
    let probe = CurvatureProbe(
      model: network.model, weights: before, buffers: network.buffers, images: images, labels: labels,
      exactLoss: false, seed: seed)
    let shape = options.spectrum
    let started = DispatchTime.now().uptimeNanoseconds
    let (spectrum, stability) = SpectrumReport.measure(
      probe, gradient: g, update: after.adding(before, scaledBy: -1), gradientCurvature: .nan, options: shape,
      optimizer: optimizer, seed: UInt64(step))
    func padded(_ values: [Double], to count: Int) -> [Double] {
      Array(values.prefix(count)) + Array(repeating: .nan, count: max(0, count - values.count))
    }
    var row = TraceRow(.spectrum, at: step)
    row[.spectrumLanczosSteps] = Double(spectrum.eigenpairs.steps)
    row[values: .spectrumTop] = padded(spectrum.eigenpairs.top, to: shape.topK)
    row[values: .spectrumBottom] = padded(spectrum.eigenpairs.bottom, to: shape.topK)
    row[.spectrumGradientOverlap] = spectrum.gradientOverlap
    row[.spectrumUpdateOverlap] = spectrum.updateOverlap ?? .nan
    row[.spectrumOutliers] = Double(spectrum.outliers)
    row[.spectrumBulkEdge] = spectrum.bulkEdge
    row[.spectrumNegativeMass] = spectrum.negativeMass
    row[.spectrumSharpness] = stability?.sharpness ?? .nan
    row[.spectrumThreshold] = stability?.threshold ?? .nan
    let density = spectrum.density
    row[values: .spectrumNodes] = (0..<shape.probes).flatMap { padded(density.nodes[$0], to: shape.steps) }
    row[values: .spectrumWeights] = (0..<shape.probes).flatMap { padded(density.weights[$0], to: shape.steps) }
    row[.spectrumSigma] = density.sigma
    row[.spectrumGridLow] = density.grid.first ?? .nan
    row[.spectrumGridHigh] = density.grid.last ?? .nan
    row[values: .spectrumDensity] = density.density
    row[.spectrumSeconds] = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
    try writer?.append(row)
  }

  /// Whether the global step `globalStep` gets histograms.
  public func measuresHistograms(globalStep: Int) -> Bool {
    options.recordsHistograms && globalStep % options.histogramEvery == 0
  }

  /// Writes one `/histograms` row: per layer the log-magnitude histograms of the gradient, the
  /// update after − before and the weights before the update, and (when activations are
  /// recorded) of each block output, in whatever layout the tape holds it.
  public func recordHistograms(
    step: Int, gradients: NamedTensors<Float>, before: NamedTensors<Float>, after: NamedTensors<Float>,
    blockOutputs: [Tensor<Float>]
  ) throws(HDF5Error) {
    guard let counter = histogramCounter else { return }
    let started = DispatchTime.now().uptimeNanoseconds
    var row = TraceRow(.histograms, at: step)
    func store(_ histograms: [LogHistogram], _ bins: TraceDataset, _ specials: TraceDataset) {
      row[values: bins] = histograms.flatMap { $0.counts.map(Double.init) }
      row[values: specials] = histograms.flatMap { $0.specials.map(Double.init) }
    }
    // The block outputs of a shard of a global batch: their counts add over the ranks (the
    // gradients, updates and weights are every rank's already).
    func pooled(_ histograms: [LogHistogram]) -> [LogHistogram] {
      guard let collective = BatchShard.current?.collective, collective.size > 1 else { return histograms }
      let counts = collective.sum(histograms.flatMap { $0.counts.map(Double.init) })
      let specials = collective.sum(histograms.flatMap { $0.specials.map(Double.init) })
      return LogHistogram.entries(counts: counts, specials: specials, bins: options.histogramBins)
    }
    store(weightNames.map { counter.histogram(of: gradients[$0]!) }, .gradientHistogram, .gradientSpecials)
    store(
      weightNames.map { counter.histogram(ofDifference: after[$0]!, before[$0]!) }, .updateHistogram, .updateSpecials)
    store(weightNames.map { counter.histogram(of: before[$0]!) }, .weightHistogram, .weightSpecials)
    if options.activations {
      store(pooled(blockOutputs.map { counter.histogram(of: $0) }), .activationHistogram, .activationSpecials)
    }
    row[.histogramSeconds] = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
    try writer?.append(row)
  }

  /// mean |x|, ‖x‖₂, max |x| in one pass (NaN propagates into all three).
  static func statistics(_ tensor: Tensor<Float>) -> (Float, Float, Float) {
    tensor.scalars.withUnsafeBufferPointer { x in
      var (sum, squares, maximum) = (0.0, 0.0, 0.0)
      var sawNaN = false
      for value in x {
        let a = abs(Double(value))
        sum += a
        squares += a * a
        if a > maximum { maximum = a }
        if value.isNaN { sawNaN = true }
      }
      return (Float(sum / Double(x.count)), Float(squares.squareRoot()), sawNaN ? .nan : Float(maximum))
    }
  }

  /// ‖d‖₂ and gᵀd for the update d = after − before, in one pass without forming d.
  static func update(_ g: Tensor<Float>, _ before: Tensor<Float>, _ after: Tensor<Float>) -> (Double, Double) {
    g.scalars.withUnsafeBufferPointer { g in
      before.scalars.withUnsafeBufferPointer { x in
        after.scalars.withUnsafeBufferPointer { y in
          var (squares, dot) = (0.0, 0.0)
          for i in 0..<x.count {
            let d = Double(y[i]) - Double(x[i])
            squares += d * d
            dot += Double(g[i]) * d
          }
          return (squares.squareRoot(), dot)
        }
      }
    }
  }
}

/// The version written into traces.
public enum GradTraceVersion {
  public static let current = "0.1.0"
}
