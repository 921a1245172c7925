import TraceIO

/// The signal-propagation figure: per block the q-value (mean squared output, log) and the
/// c-value (mean cosine similarity between examples' outputs) at the first recorded step (solid,
/// the initial weights when recording starts at step 0) and the last (dashed), one colour per
/// run; and each residual add's ‖F(x)‖/‖x‖ where the model has them.
struct SignalProfile: Sendable {
  var blocks: [String]
  var steps: (first: Int, last: Int)
  var q: (first: [Double], last: [Double])
  var c: (first: [Double], last: [Double])
  /// Residual adds in application order with ‖F(x)‖/‖x‖ at the first and last step.
  var adds: [TraceAnalysis.Merges.Ratio]

  init?(reader: TraceReader, merges: TraceAnalysis.Merges?) throws {
    guard let blocks = try reader.activationNames(), reader.holds(.activationQValue), reader.holds(.activationCValue)
    else { return nil }
    let rows = try reader.rowCount(.steps)
    guard rows > 0 else { return nil }
    func row(_ dataset: TraceDataset, _ r: Int) throws -> [Double] { try reader.values(dataset, start: r, count: 1) }
    self.blocks = blocks
    steps = (Int(try row(.step, 0).first ?? 0), Int(try row(.step, rows - 1).first ?? 0))
    q = (try row(.activationQValue, 0), try row(.activationQValue, rows - 1))
    c = (try row(.activationCValue, 0), try row(.activationCValue, rows - 1))
    adds = merges?.residualRatios ?? []
  }
}

extension FigureKind {
  func signalPanels(_ runs: [FigureData]) -> [PlotPanel] {
    let profiled = runs.enumerated().compactMap { index, run in run.signal.map { (index, run, $0) } }
    var q = PlotPanel(
      title: "Signal propagation: q-value per block (solid: first recorded step, dashed: last)",
      xLabel: "block (input → output)", yLabel: "q = mean squared output (log)")
    q.logarithmicY = true
    var c = PlotPanel(
      title: "Rank collapse: c-value per block (1: every example's output points the same way)",
      xLabel: "block (input → output)", yLabel: "c = mean cos(x_i, x_j)")
    c.includeZeroY = true
    c.references = [(0.99, "c = 0.99")]
    var adds = PlotPanel(
      title: "Residual branches: ‖F(x)‖/‖x‖ at each add (solid: first recorded step, dashed: last)",
      xLabel: "residual add (input → output)", yLabel: "‖F(x)‖ / ‖x‖ (log)")
    adds.logarithmicY = true
    adds.references = [(1, "branch as large as its shortcut")]
    for (index, run, profile) in profiled {
      let color = Palette.run(index)
      q.categories = q.categories ?? profile.blocks
      c.categories = c.categories ?? profile.blocks
      for (panel, values) in [(0, profile.q), (1, profile.c)] {
        let first = PlotSeries(
          label: "\(run.name) step \(profile.steps.first)",
          points: values.first.enumerated().map { (Double($0.offset), $0.element) }, color: color,
          style: .lineAndMarkers)
        let last = PlotSeries(
          label: "\(run.name) step \(profile.steps.last)",
          points: values.last.enumerated().map { (Double($0.offset), $0.element) }, color: color, style: .dashed)
        // One recorded step: the first is the last.
        let both = profile.steps.first == profile.steps.last ? [first] : [first, last]
        if panel == 0 { q.series += both } else { c.series += both }
      }
      if !profile.adds.isEmpty {
        adds.categories = adds.categories ?? profile.adds.map(\.layer)
        adds.series.append(
          PlotSeries(
            label: "\(run.name) step \(profile.steps.first)",
            points: profile.adds.enumerated().map { (Double($0.offset), $0.element.first) }, color: color,
            style: .lineAndMarkers))
        if profile.steps.first != profile.steps.last {
          adds.series.append(
            PlotSeries(
              label: "\(run.name) step \(profile.steps.last)",
              points: profile.adds.enumerated().map { (Double($0.offset), $0.element.last) }, color: color,
              style: .dashed))
        }
      }
    }
    if profiled.isEmpty { q.note = "no trace recorded activations (train with --record gradients,activations)" }
    return adds.series.isEmpty ? [q, c] : [q, c, adds]
  }
}
