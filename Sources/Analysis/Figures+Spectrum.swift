import Foundation

extension FigureKind {
  /// Per run the density heatmap and the extreme eigenvalues over training; then, over all
  /// runs, sharpness / threshold (1: the edge of stability) and the gradient's share in the
  /// top-k span.
  func spectrumPanels(_ runs: [FigureData]) -> [any FigurePanel] {
    let recorded = runs.filter { $0.spectra != nil }
    guard !recorded.isEmpty else {
      var panel = PlotPanel(title: "Hessian spectrum", xLabel: "training step", yLabel: "eigenvalue")
      panel.note = "no spectrum recorded (train with --spectrum-every N)"
      return [panel]
    }
    var panels: [any FigurePanel] = []
    for run in recorded {
      panels.append(densityHeatmap(run))
      panels.append(eigenvaluePanel(run))
    }
    var stability = PlotPanel(
      title: "Edge of stability", xLabel: "training step",
      yLabel: "sharpness / threshold (log)")
    stability.logarithmicY = true
    stability.integralX = true
    stability.references = [(1, "edge of stability")]
    stability.note =
      "sharpness: λ_max (SGD, threshold 2(1 + β)/η) or λ_max of P^(−1/2) H P^(−1/2) (Adam, (2 + 2β₁)/((1 − β₁)η))"
    var overlap = PlotPanel(
      title: "Where the gradient lives", xLabel: "training step",
      yLabel: "share in the top-k eigenvectors' span")
    overlap.integralX = true
    overlap.includeZeroY = true
    overlap.note = "solid: ‖P_k g‖²/‖g‖² (the gradient), dashed: ‖P_k d‖²/‖d‖² (the update)"
    for (index, run) in recorded.enumerated() {
      let history = run.spectra!
      let steps = history.steps.map(Double.init)
      stability.series.append(
        PlotSeries(
          label: run.name, points: Array(zip(steps, history.ratios)), color: Palette.run(index),
          style: .lineAndMarkers))
      overlap.series.append(
        PlotSeries(
          label: "\(run.name) g", points: Array(zip(steps, history.gradientOverlap)), color: Palette.run(index),
          style: .lineAndMarkers))
      overlap.series.append(
        PlotSeries(
          label: "\(run.name) d", points: Array(zip(steps, history.updateOverlap)), color: Palette.run(index),
          style: .dashed))
    }
    return panels + [stability, overlap]
  }

  /// The density of each spectrum (recomputed from its quadrature) on a symmetric-log
  /// eigenvalue axis, linear near 0 (within the broadening σ); the top-k eigenvalues as markers.
  private func densityHeatmap(_ run: FigureData) -> HeatmapPanel {
    let history = run.spectra!
    let sigmas = history.sigma.filter { $0 > 0 }.sorted()
    // Linear within the median σ rounded down to a power of ten (ticks at ±10^k).
    let sigma = sigmas.isEmpty ? 1 : sigmas[sigmas.count / 2]
    let scale = SymmetricLogScale(linearWidth: pow(10, log10(sigma).rounded(.down)))
    let extremes = (history.top + history.bottom).flatMap { $0 }.filter(\.isFinite)
    let (lowest, highest) = (extremes.min() ?? -1, extremes.max() ?? 1)
    let margin = 4 * (sigmas.last ?? 0)
    let (low, high) = (scale.transform(lowest - margin), scale.transform(highest + margin))
    let rows = 120
    let values = (0..<history.count).map { q in
      (0..<rows).map { r in history.density(q, at: scale.inverse(low + (Double(r) + 0.5) / Double(rows) * (high - low)))
      }
    }
    var panel = HeatmapPanel(
      title: "Spectral density over training: \(run.name) (\(run.analysis.run.model))",
      yLabel: "eigenvalue of H (symmetric log)", columns: history.steps, values: values, scale: scale, low: low,
      high: high)
    panel.note = String(
      format: "stochastic Lanczos quadrature, %d probes; linear within ±%@; BatchNorm in training mode",
      history.nodes.first?.count ?? 0, PlotScale.label(scale.linearWidth))
    panel.markers = history.top.enumerated().flatMap { q, top in top.map { (column: q, y: $0) } }
    panel.markerLabel = "top-k"
    return panel
  }

  /// λ_1 … λ_k and λ_min per spectrum with the bulk edge; for SGD the threshold 2(1 + β)/η.
  private func eigenvaluePanel(_ run: FigureData) -> PlotPanel {
    let history = run.spectra!
    let steps = history.steps.map(Double.init)
    var panel = PlotPanel(
      title: "Extreme eigenvalues over training: \(run.name)", xLabel: "training step", yLabel: "eigenvalue of H")
    panel.integralX = true
    panel.includeZeroY = true
    let k = history.top.first?.count ?? 0
    for rank in 0..<k {
      panel.series.append(
        PlotSeries(
          label: rank == 0 ? "λ_1 (largest)" : rank == k - 1 ? "λ_\(k)" : nil,
          points: zip(steps, history.top).map { ($0, $1[rank]) }, color: Palette.epoch(rank, of: k),
          style: .lineAndMarkers, width: rank == 0 ? 2 : 1.2))
    }
    panel.series.append(
      PlotSeries(
        label: "λ_min", points: zip(steps, history.bottom).map { ($0, $1.first ?? .nan) }, color: "#e15759",
        style: .lineAndMarkers))
    panel.series.append(
      PlotSeries(
        label: "bulk edge (outliers above)", points: Array(zip(steps, history.bulkEdge)), color: "#888888",
        style: .dashed))
    if run.analysis.run.optimizer == "sgd" {
      panel.series.append(
        PlotSeries(
          label: "2(1 + β)/η (edge of stability)", points: Array(zip(steps, history.threshold)), color: "#c0392b",
          style: .dashed))
    }
    let outliers = history.outliers.last ?? 0
    panel.note = "\(outliers) of the top \(k) above the bulk at step \(history.steps.last ?? 0)"
    return panel
  }
}
