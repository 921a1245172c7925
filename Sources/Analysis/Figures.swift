import Foundation
import TraceIO

/// The paper's figures, drawn from traces as SVG.
public enum FigureKind: String, CaseIterable, Sendable {
  /// Figures 1-3: mean |∂f/∂W| per layer at the last step of each epoch, one translucent line
  /// per epoch (one panel per run).
  case gradientFlow = "gradient-flow"
  /// Figures 4-5: train (solid) and validation (dashed) loss per epoch, one colour per run.
  case loss
  /// Train and validation accuracy per epoch.
  case accuracy
  /// Predicted against actual loss change per curvature measurement (one panel per run).
  case taylor
  /// ε/ε* and gᵀHg over training.
  case curvature
  /// The Hessian's spectrum over training (`train --spectrum-every`): the density as a heatmap
  /// and the extreme eigenvalues (one pair of panels per run), the sharpness against the edge
  /// of stability, the gradient's share in the top eigenvectors.
  case spectrum
  /// Depth × time heatmaps from the log-magnitude histograms (`train --histogram-every`): a
  /// statistic of log10 |∂f/∂W| per layer and of log10 |output| per block over training, NaN
  /// and infinities flagged (per run).
  case histograms
  /// Signal propagation per block: q-value and c-value at the first and last recorded step, one
  /// colour per run, and each residual add's ‖F(x)‖/‖x‖.
  case signal
}

/// What the figures and the report need from one trace, read once (the gradient flow is
/// streamed by `TraceAnalysis`; epochs and curvature are small).
public struct FigureData: Sendable {
  public var analysis: TraceAnalysis
  /// /epochs columns in schema order (epoch, train_loss, train_accuracy, valid_loss, valid_accuracy, seconds).
  public var epochs: [[Double]]
  /// /curvature columns by name (step, gTg, gHg, gTd, dHd, predicted_first, predicted_second,
  /// actual_delta, …); nil when curvature was not recorded.
  public var curvature: [String: [Double]]?
  /// The recorded spectra; nil when there are none.
  public var spectra: SpectrumHistory?
  /// The gradients' and the block outputs' histograms reduced to `histogramStatistic` (empty
  /// when none were recorded).
  public var histograms: [HistogramSummary] = []
  /// q- and c-values per block at the first and last recorded step; nil without activations.
  var signal: SignalProfile?

  public init(
    path: String, thresholds: VerdictThresholds = .init(), histogramStatistic: HistogramStatistic = .quantile(0.5)
  ) throws {
    analysis = try TraceAnalysis.analyze(path: path, thresholds: thresholds)
    let reader = try TraceReader(path: path)
    epochs = try reader.columns(TraceSchema.datasets(following: .epochs))
    if reader.recordsCurvature {
      let datasets = TraceSchema.datasets(following: .curvature)
      let values = try reader.columns(datasets)
      curvature = Dictionary(
        uniqueKeysWithValues: zip(datasets.map { $0 == .curvatureStep ? "step" : $0.name }, values))
    }
    spectra = try SpectrumHistory(reader: reader)
    signal = try SignalProfile(reader: reader, merges: analysis.merges)
    for tensor in [HistogramTensor.gradients, .activations] {
      if let summary = try HistogramSummary(reader: reader, tensor: tensor, statistic: histogramStatistic) {
        histograms.append(summary)
      }
    }
  }

  var name: String { analysis.run.name }
}

extension FigureKind {
  /// The figure as a standalone SVG document. `logarithmic` sets the gradient-flow axis.
  public func svg(_ runs: [FigureData], logarithmic: Bool = true) -> String {
    renderFigure(panels(runs, logarithmic: logarithmic)).document
  }

  /// The figure as an `<svg>` element to inline in HTML.
  public func inlineSVG(_ runs: [FigureData], logarithmic: Bool = true) -> String {
    renderFigure(panels(runs, logarithmic: logarithmic)).inline
  }

  func panels(_ runs: [FigureData], logarithmic: Bool) -> [any FigurePanel] {
    switch self {
    case .gradientFlow: runs.map { gradientFlowPanel($0, logarithmic: logarithmic) }
    case .loss: [epochPanel(runs, train: 1, valid: 3, title: "Loss", unit: "cross-entropy loss", percent: false)]
    case .accuracy: [epochPanel(runs, train: 2, valid: 4, title: "Accuracy", unit: "accuracy (%)", percent: true)]
    case .taylor: runs.map(taylorPanel)
    case .curvature: curvaturePanels(runs)
    case .spectrum: spectrumPanels(runs)
    case .histograms: histogramPanels(runs)
    case .signal: signalPanels(runs)
    }
  }

  private func gradientFlowPanel(_ run: FigureData, logarithmic: Bool) -> PlotPanel {
    let analysis = run.analysis
    let count = analysis.epochNumbers.count
    var panel = PlotPanel(
      title: "Gradient flow: \(run.name) (\(analysis.run.model)), verdict \(analysis.verdict)",
      xLabel: "layer (weight tensor, input → output)",
      yLabel: "mean |∂f/∂W| at the epoch's last step" + (logarithmic ? " (log)" : ""))
    panel.logarithmicY = logarithmic
    panel.categories = analysis.layers.map(\.name)
    for (e, epoch) in analysis.epochNumbers.enumerated() {
      let isEnd = e == 0 || e == count - 1
      panel.series.append(
        PlotSeries(
          label: isEnd || count <= 6 ? "epoch \(epoch)" : nil,
          points: analysis.layers.enumerated().map { (Double($0.offset), $0.element.epochLastStep[e]) },
          color: Palette.epoch(e, of: count), style: .lineAndMarkers, opacity: e == count - 1 ? 1 : 0.45,
          width: e == count - 1 ? 2 : 1.3))
    }
    if count > 6 { panel.note = "\(count) epochs, light (first) to dark (last)" }
    if logarithmic,
      analysis.layers.contains(where: { $0.epochLastStep.contains { !($0 > 0) } })
    {
      panel.note = (panel.note.map { $0 + "; " } ?? "") + "zero or non-finite values are gaps"
    }
    return panel
  }

  private func epochPanel(
    _ runs: [FigureData], train: Int, valid: Int, title: String, unit: String, percent: Bool
  ) -> PlotPanel {
    var panel = PlotPanel(
      title: "\(title) per epoch (solid: train, dashed: validation)", xLabel: "epoch", yLabel: unit)
    panel.integralX = true
    let scale = percent ? 100.0 : 1
    for (index, run) in runs.enumerated() {
      let epochs = run.epochs[0]
      panel.series.append(
        PlotSeries(
          label: "\(run.name) train", points: zip(epochs, run.epochs[train]).map { ($0, $1 * scale) },
          color: Palette.run(index), style: .lineAndMarkers))
      panel.series.append(
        PlotSeries(
          label: "\(run.name) valid", points: zip(epochs, run.epochs[valid]).map { ($0, $1 * scale) },
          color: Palette.run(index), style: .dashed))
    }
    if runs.allSatisfy({ $0.epochs[0].isEmpty }) { panel.note = "no finished epoch recorded" }
    return panel
  }

  private func taylorPanel(_ run: FigureData) -> PlotPanel {
    var panel = PlotPanel(
      title: "Taylor: \(run.name), predicted against actual loss change", xLabel: "actual change f(w + d) − f(w)",
      yLabel: "predicted change")
    panel.diagonal = true
    guard let curvature = run.curvature, let actual = curvature["actual_delta"] else {
      panel.note = "curvature not recorded (train with --record …,curvature)"
      return panel
    }
    panel.series = [
      PlotSeries(
        label: "first order gᵀd", points: zip(actual, curvature["predicted_first"] ?? []).map { ($0, $1) },
        color: "#9c9c9c", style: .hollowMarkers),
      PlotSeries(
        label: "second order gᵀd + ½dᵀHd", points: zip(actual, curvature["predicted_second"] ?? []).map { ($0, $1) },
        color: "#4e79a7", style: .markers),
      PlotSeries(label: "y = x (exact)", points: [], color: "#888888", style: .dashed),
    ]
    if let taylor = run.analysis.taylor {
      panel.note = String(
        format: "correlation %.3f, median relative error %.1f%%", taylor.correlation,
        taylor.medianRelativeError * 100)
    }
    return panel
  }

  private func curvaturePanels(_ runs: [FigureData]) -> [PlotPanel] {
    var ratio = PlotPanel(
      title: "Step length against the curvature's optimum", xLabel: "training step",
      yLabel: "ε / ε*  (ε = −gᵀd / gᵀg, ε* = gᵀg / gᵀHg; log)")
    ratio.logarithmicY = true
    ratio.integralX = true
    ratio.references = [(1, "ε = ε* (minimum of the quadratic model)"), (2, "ε = 2ε*: curvature term outweighs gᵀg")]
    var curvature = PlotPanel(
      title: "Curvature along the gradient", xLabel: "training step", yLabel: "gᵀHg (negative: no ε*)")
    curvature.includeZeroY = true
    curvature.integralX = true
    for (index, run) in runs.enumerated() {
      guard let columns = run.curvature, let steps = columns["step"], let gTg = columns["gTg"],
        let gHg = columns["gHg"], let gTd = columns["gTd"]
      else { continue }
      let ratios = steps.indices.map { i in
        (steps[i], gHg[i] > 0 && gTg[i] > 0 ? -gTd[i] * gHg[i] / (gTg[i] * gTg[i]) : .nan)
      }
      ratio.series.append(
        PlotSeries(label: run.name, points: ratios, color: Palette.run(index), style: .lineAndMarkers))
      curvature.series.append(
        PlotSeries(label: run.name, points: Array(zip(steps, gHg)), color: Palette.run(index), style: .lineAndMarkers))
    }
    if ratio.series.isEmpty {
      ratio.note = "curvature not recorded (train with --record …,curvature)"
      curvature.note = ratio.note
    }
    return [ratio, curvature]
  }
}
