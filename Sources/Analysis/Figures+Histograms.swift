import Foundation
import TraceIO

extension FigureKind {
  /// Per run, depth × time heatmaps of the gradients' and the block outputs' magnitudes: one
  /// row per layer (block) in application order from the bottom, one column per histogram
  /// row, colour a statistic of log10 |x| read from the histograms; red where the tensor held
  /// NaN or ±Inf, grey where it held nothing finite.
  func histogramPanels(_ runs: [FigureData]) -> [any FigurePanel] {
    let pictures = runs.flatMap { run in run.histograms.map { (run, $0) } }
    guard !pictures.isEmpty else {
      var panel = PlotPanel(title: "Magnitudes by depth over training", xLabel: "training step", yLabel: "layer")
      panel.note = "no histograms recorded (train with --histogram-every N)"
      return [panel]
    }
    return pictures.map { run, summary in depthTimeHeatmap(run, summary) }
  }

  private func depthTimeHeatmap(_ run: FigureData, _ summary: HistogramSummary) -> HeatmapPanel {
    // The colour range: the statistic's finite values, widened to whole decades.
    let finite = summary.values.flatMap { $0 }.filter(\.isFinite)
    let low = (finite.min() ?? summary.bins.edge(0)).rounded(.down)
    let high = max((finite.max() ?? summary.bins.edge(summary.bins.count)).rounded(.up), low + 1)
    // −∞ (zeros) takes the bottom colour; values[column][row] with the first layer at the bottom.
    let values = summary.values.map { row in row.map { $0 == -.infinity ? low : $0 } }
    let what = summary.tensor == .activations ? "block" : "layer"
    var panel = HeatmapPanel(
      title:
        "\(summary.statistic.description.capitalized) log10 \(summary.tensor.magnitude) by \(what): \(run.name) (\(run.analysis.run.model))",
      yLabel: "\(what): input ↑ output", columns: summary.steps, values: values,
      scale: SymmetricLogScale(linearWidth: 1), low: 0, high: 1)
    panel.rowLabels = summary.entries
    panel.linearColours = (low, high, "log10 \(summary.tensor.magnitude)")
    panel.flagged = summary.nonFinite.map { $0.map { $0 > 0 } }
    panel.flagLabel = "NaN or ±Inf"
    panel.emptyLabel = "nothing finite"
    let nonFinite = summary.nonFinite.flatMap { $0 }.reduce(0, +)
    panel.note =
      "\(summary.statistic) of log10 \(summary.tensor.magnitude) from the histograms (\(summary.bins.binsPerDecade) bins per decade, 1e\(summary.bins.lowDecade) to 1e\(summary.bins.highDecade))"
      + (nonFinite > 0 ? "; red: NaN or ±Inf present" : "")
    return panel
  }
}
