import Foundation

/// One self-contained HTML page (inline CSS and SVG, no scripts, nothing fetched) with the
/// comparison table, each run's verdict and gradient flow, the loss and accuracy curves and,
/// where recorded, the Taylor, curvature and spectrum figures.
public struct HTMLReport {
  public var runs: [FigureData]
  public var title = "gradtrace report"
  /// Traces that could not be read: named in the report, so a partial report says so.
  public var unreadable: [String] = []
  public var logarithmic = true

  public init(runs: [FigureData]) { self.runs = runs }

  public var html: String {
    var body: [String] = []
    body.append("<h1>\(escaped(title))</h1>")
    body.append(
      "<p class=\"meta\">\(runs.count) trace\(runs.count == 1 ? "" : "s"); generated \(escaped(ISO8601DateFormatter().string(from: Date())))</p>"
    )
    if !unreadable.isEmpty {
      body.append("<div class=\"warning\"><b>Not included</b> (could not be read):<ul>")
      body.append(unreadable.map { "<li><code>\(escaped($0))</code></li>" }.joined())
      body.append("</ul></div>")
    }
    body.append("<h2 id=\"runs\">Runs</h2>")
    let table = Table(columns: TraceTable.summary.columns, rows: runs.map { TraceTable.summaryRow($0.analysis) })
    body.append("<div class=\"wide\">" + htmlTable(table) + "</div>")

    body.append("<h2 id=\"verdicts\">Verdicts and gradient flow</h2>")
    for run in runs {
      let analysis = run.analysis
      body.append(
        "<section class=\"run\"><h3>\(escaped(run.name)) <span class=\"model\">\(escaped(analysis.run.model))</span></h3>"
      )
      body.append(
        "<p class=\"verdict \(escaped(analysis.verdict.replacingOccurrences(of: " ", with: "-")))\">verdict: \(escaped(analysis.verdict.uppercased()))</p>"
      )
      body.append("<ul>" + analysis.evidence.map { "<li>\(escaped($0))</li>" }.joined() + "</ul>")
      body.append("<p class=\"hint\">\(escaped(analysis.hint))</p>")
      for item in analysis.missing { body.append("<p class=\"missing\">not recorded: \(escaped(item))</p>") }
      body.append(figure(FigureKind.gradientFlow.inlineSVG([run], logarithmic: logarithmic)))
      body.append("<details><summary>full analysis</summary><pre>\(escaped(analysis.text))</pre></details>")
      body.append("</section>")
    }

    body.append("<h2 id=\"loss\">Loss and accuracy</h2>")
    body.append(figure(FigureKind.loss.inlineSVG(runs)))
    body.append(figure(FigureKind.accuracy.inlineSVG(runs)))
    let curvatureRuns = runs.filter { $0.curvature != nil }
    body.append("<h2 id=\"curvature\">Curvature and the Taylor prediction</h2>")
    if curvatureRuns.isEmpty {
      body.append(
        "<p class=\"missing\">No trace recorded curvature (train with <code>--record gradients,activations,curvature</code>).</p>"
      )
    } else {
      body.append(figure(FigureKind.taylor.inlineSVG(curvatureRuns)))
      body.append(figure(FigureKind.curvature.inlineSVG(curvatureRuns)))
    }
    body += optionalSection(
      "spectrum", "The Hessian's spectrum", .spectrum, runs.filter { $0.spectra != nil },
      missing: "No trace recorded the spectrum (train with <code>--spectrum-every N</code>).",
      statement: { $0.analysis.spectrum?.statement ?? "" })
    body += optionalSection(
      "signal", "Signal propagation", .signal, runs.filter { $0.signal != nil },
      missing: "No trace recorded activations (train with <code>--record gradients,activations</code>).",
      statement: { run in
        guard let signal = run.signal else { return "" }
        let collapsed = signal.c.last.filter { $0 >= 0.99 }.count
        return
          "q from \(String(format: "%.3g", signal.q.first.first ?? .nan)) (\(signal.blocks.first ?? "")) to \(String(format: "%.3g", signal.q.first.last ?? .nan)) (\(signal.blocks.last ?? "")) at step \(signal.steps.first); c ≥ 0.99 in \(collapsed) of \(signal.blocks.count) blocks at step \(signal.steps.last)"
      })
    body += optionalSection(
      "histograms", "Magnitudes by depth (histograms)", .histograms, runs.filter { !$0.histograms.isEmpty },
      missing: "No trace recorded histograms (train with <code>--histogram-every N</code>).",
      statement: { run in
        run.analysis.histograms?.firstNonFiniteStep.map { "NaN or ±Inf from step \($0)" }
          ?? "every recorded value finite"
      })
    return """
      <!DOCTYPE html>
      <html lang="en"><head><meta charset="utf-8"><title>\(escaped(title))</title>
      <style>
      body { font-family: Helvetica, Arial, sans-serif; max-width: 1000px; margin: 2em auto; color: #222; }
      h1 { margin-bottom: 0.2em; } .meta { color: #666; }
      .wide { overflow-x: auto; }
      table { border-collapse: collapse; font-size: 12px; margin: 1em 0; }
      th, td { border: 1px solid #ccc; padding: 3px 6px; } th { background: #f0f0f0; }
      td.n { text-align: right; font-variant-numeric: tabular-nums; }
      .run { border-top: 1px solid #ddd; padding-top: 0.5em; } .model { color: #666; font-weight: normal; }
      .verdict { font-weight: bold; font-size: 1.1em; } .vanishing, .exploding { color: #c0392b; }
      .healthy { color: #27ae60; } .hint { font-style: italic; } .missing { color: #8a6d3b; }
      .warning { background: #fcf8e3; border: 1px solid #e5d8a8; padding: 0.5em 1em; }
      figure { margin: 1em 0; } figure svg { max-width: 100%; height: auto; } pre { font-size: 11px; overflow-x: auto; }
      </style></head>
      <body>
      \(body.joined(separator: "\n"))
      </body></html>

      """
  }

  private func figure(_ svg: String) -> String { "<figure>\(svg)</figure>" }

  /// A section for what only some traces record (`--spectrum-every`, `--histogram-every`): its
  /// heading (with `id`), a line per run that recorded it, the figure; or `missing` when none did.
  private func optionalSection(
    _ id: String, _ title: String, _ kind: FigureKind, _ recorded: [FigureData], missing: String,
    statement: (FigureData) -> String
  ) -> [String] {
    let heading = "<h2 id=\"\(id)\">\(title)</h2>"
    guard !recorded.isEmpty else { return [heading, "<p class=\"missing\">\(missing)</p>"] }
    let items = recorded.map { "<li><b>\(escaped($0.name))</b>: \(escaped(statement($0)))</li>" }
    return [heading, "<ul>" + items.joined() + "</ul>", figure(kind.inlineSVG(recorded))]
  }

  private func htmlTable(_ table: Table) -> String {
    var html = "<table><tr>" + table.columns.map { "<th>\(escaped($0.name))</th>" }.joined() + "</tr>"
    for row in table.rows {
      html +=
        "<tr>"
        + zip(table.columns, row).map { column, cell in
          "<td\(column.kind == .text ? "" : " class=\"n\"")>\(escaped(TableWriter.humanText(cell, column.kind)))</td>"
        }.joined() + "</tr>"
    }
    return html + "</table>"
  }

  private func escaped(_ text: String) -> String { SVGCanvas.escaped(text) }
}
