import Analysis
import Foundation
import FoundationXML
import Testing
import TraceIO

/// The tables, figures and report made from small traces written by the trace writer.
@Suite("Tables, figures and reports")
struct TablesAndFiguresTests {
  static func table(_ kind: TraceTable, _ paths: [String], format: TableFormat, blockRows: Int = 4096) throws
    -> String
  {
    var output = ""
    var writer = TableWriter(columns: kind.columns, format: format) { output += $0 }
    for path in paths {
      try kind.appendRows(of: try TraceAnalysis.analyze(path: path), path: path, to: &writer, blockRows: blockRows)
    }
    writer.finish()
    return output
  }

  @Test func summaryCSVHasOneRowPerRunWithTheRecordedValues() throws {
    let vanishing = try makeTrace { _ in [1e-18, 1e-12, 1e-7, 1e-4] }
    let healthy = try makeTrace(curvature: true) { _ in [0.1, 0.1, 0.1, 0.1] }
    let lines = try Self.table(.summary, [vanishing, healthy], format: .csv).split(separator: "\n").map {
      $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    }
    #expect(lines.count == 3)
    #expect(lines[0] == TraceTable.summary.columns.map(\.name))
    func value(_ row: Int, _ column: String) -> String { lines[row][lines[0].firstIndex(of: column)!] }
    #expect(value(1, "verdict") == "vanishing" && value(2, "verdict") == "healthy")
    #expect(Double(value(1, "test_accuracy")) == 0.3, "fractions, not percentages, in CSV")
    #expect(value(1, "vanishing_depth") == "1" && value(2, "vanishing_depth") == "", "missing is empty")
    #expect(Double(value(1, "first_last_ratio")).map { abs($0 - 1e-14) < 1e-16 } == true)
    #expect(value(1, "taylor_correlation") == "" && Double(value(2, "taylor_correlation"))! > 0.999)
    #expect(value(1, "model") == "unknown", "the test traces' model JSON is {}")
  }

  @Test func jsonRoundTripsWithNullsForMissingAndNaN() throws {
    let path = try makeTrace { step in step >= 7 ? [.nan, .nan, .nan, .nan] : [0.1, 0.1, 0.1, 0.1] }
    let json = try Self.table(.summary, [path, path], format: .json)
    let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
    #expect(rows.count == 2)
    #expect(Set(rows[0].keys) == Set(TraceTable.summary.columns.map(\.name)))
    #expect(rows[0]["verdict"] as? String == "exploding" && rows[0]["nonfinite_steps"] as? Int == 3)
    #expect(rows[0]["first_last_ratio"] is NSNull, "NaN is null in JSON")
    #expect((rows[0]["test_accuracy"] as? Double).map { abs($0 - 0.3) < 1e-12 } == true)
    #expect(try Self.table(.summary, [], format: .json) == "[]\n")
  }

  /// The per-step tables stream in blocks; blocks of 3 rows give exactly the whole-read output.
  @Test func curvatureAndStepTablesStream() throws {
    let path = try makeTrace(curvature: true) { _ in [0.1, 0.1, 0.1, 0.1] }
    for kind in [TraceTable.curvature, .steps, .epochs, .gradients] {
      let whole = try Self.table(kind, [path], format: .csv)
      #expect(whole == (try Self.table(kind, [path], format: .csv, blockRows: 3)))
    }
    let curvature = try Self.table(.curvature, [path], format: .csv).split(separator: "\n")
    #expect(curvature.count == 11)
    let columns = curvature[0].split(separator: ",").map(String.init)
    let row = curvature[3].split(separator: ",").map(String.init)
    #expect(row[columns.firstIndex(of: "step")!] == "2")
    #expect(Double(row[columns.firstIndex(of: "actual_delta")!]) == -0.03)
    #expect(row[columns.firstIndex(of: "hessian_trace")!] == "nan", "not measured: NaN, visible")
    let gradients = try Self.table(.gradients, [path], format: .csv).split(separator: "\n")
    #expect(gradients.count == 1 + 2 * 4, "one row per epoch and layer")
    #expect(
      try Self.table(.curvature, [try makeTrace { _ in [1, 1, 1, 1] }], format: .csv).split(separator: "\n").count == 1)
  }

  /// One row per spectrum and rank, the scalars repeated; no rows from a trace without spectra.
  @Test func spectrumTableHasOneRowPerSpectrumAndRank() throws {
    let path = try makeTrace(spectra: [(0, 0.5), (4, 1.2)]) { _ in [0.1, 0.1, 0.1, 0.1] }
    let lines = try Self.table(.spectrum, [path], format: .csv).split(separator: "\n").map {
      $0.split(separator: ",").map(String.init)
    }
    #expect(lines.count == 1 + 2 * 2)
    func value(_ row: Int, _ column: String) -> String { lines[row][lines[0].firstIndex(of: column)!] }
    #expect(value(3, "step") == "4" && value(3, "rank") == "1" && value(3, "spectrum_top") == "2.0")
    #expect(value(4, "rank") == "2" && value(4, "spectrum_bottom") == "0.0" && value(4, "spectrum_outliers") == "1")
    #expect(Double(value(4, "spectrum_sharpness")) == 1.2 * 38_000)
    #expect(
      try Self.table(.spectrum, [try makeTrace { _ in [1, 1, 1, 1] }], format: .csv).split(separator: "\n").count == 1)
  }

  @Test func markdownAndLatexEscapeAndShowPercentages() throws {
    let path = try makeTrace { _ in [0.1, 0.1, 0.1, 0.1] }
    let latex = try Self.table(.epochs, [path], format: .latex)
    #expect(latex.hasPrefix("\\begin{tabular}{lrrrrrr}") && latex.hasSuffix("\\end{tabular}\n"))
    #expect(latex.contains("train\\_loss") && latex.contains("20.00\\%"))
    let markdown = try Self.table(.epochs, [path], format: .markdown)
    #expect(markdown.split(separator: "\n")[1] == "|---|---:|---:|---:|---:|---:|---:|")
    #expect(markdown.contains("| 20.00% |"))
    let table = Table(columns: [.init("name", .text), .init("x", .number)], rows: [[.text("a|b"), .number(1)]])
    #expect(table.rendered(.markdown).contains("a\\|b"))
    #expect(table.rendered(.csv) == "name,x\na|b,1.0\n")
    #expect(
      Table(columns: [.init("n", .text)], rows: [[.text("say \"hi\", you")]]).rendered(.csv)
        == "n\n\"say \"\"hi\"\", you\"\n")
  }

  @Test func sortingPutsMissingValuesLast() {
    let table = Table(
      columns: [.init("run", .text), .init("accuracy", .fraction)],
      rows: [
        [.text("a"), .number(0.5)], [.text("b"), .missing], [.text("c"), .number(0.9)], [.text("d"), .number(.nan)],
      ])
    #expect(
      table.sorted(by: "accuracy", descending: true)?.rows.map { $0[0] } == [
        .text("c"), .text("a"), .text("b"), .text("d"),
      ])
    #expect(
      table.sorted(by: "accuracy", descending: false)?.rows.map { $0[0] } == [
        .text("a"), .text("c"), .text("b"), .text("d"),
      ])
    #expect(table.sorted(by: "nope", descending: false) == nil)
    #expect(table.rendered(.text).contains("50.00%"))
  }

  /// Parses `svg` as XML, returning the element names it holds.
  static func elements(_ svg: String) throws -> [String] {
    final class Collector: NSObject, XMLParserDelegate {
      var names: [String] = []
      func parser(
        _: XMLParser, didStartElement name: String, namespaceURI _: String?, qualifiedName _: String?,
        attributes _: [String: String]
      ) { names.append(name) }
    }
    let parser = XMLParser(data: Data(svg.utf8))
    let collector = Collector()
    parser.delegate = collector
    #expect(parser.parse(), "invalid XML: \(parser.parserError.map { "\($0)" } ?? "")")
    return collector.names
  }

  @Test func everyFigureIsValidXMLWithLabelledAxes() throws {
    let odd = FileManager.default.temporaryDirectory.appendingPathComponent("a&b <c> \"d\"-\(UUID().uuidString).h5")
      .path
    try FileManager.default.copyItem(
      atPath: try makeTrace(curvature: true) { step in [step == 3 ? 0 : 1e-9, 1e-6, .nan, 1e-3] }, toPath: odd)
    let plain = try FigureData(path: try makeTrace(epochs: 3) { _ in [1e-18, 1e-12, 1e-7, 1e-4] })
    let runs = [try FigureData(path: odd), plain]
    for kind in FigureKind.allCases {
      let svg = kind.svg(runs)
      let names = try Self.elements(svg)
      #expect(names.first == "svg" && names.contains("text"), "\(kind)")
    }
    let flow = FigureKind.gradientFlow.svg([plain])
    #expect(try Self.elements(flow).filter { $0 == "polyline" }.count == 3, "one line per epoch")
    #expect(flow.contains("mean |∂f/∂W|") && flow.contains(">layer_0<") && flow.contains(">1e-18<"))
    #expect(FigureKind.gradientFlow.svg([plain], logarithmic: false).contains("1e-18") == false)
    #expect(FigureKind.loss.svg(runs).contains("cross-entropy loss"))
    #expect(FigureKind.taylor.svg([plain]).contains("curvature not recorded"))
    #expect(FigureKind.curvature.svg(runs).contains("ε = 2ε*"))
    #expect(FigureKind.spectrum.svg(runs).contains("no spectrum recorded"))
    let spectra = try FigureData(
      path: try makeTrace(spectra: [(0, 0.5), (4, 1.2)]) { _ in [0.1, 0.1, 0.1, 0.1] })
    let spectrum = FigureKind.spectrum.svg([spectra, plain])
    let names = try Self.elements(spectrum)
    #expect(spectrum.contains("Spectral density over training") && spectrum.contains("Edge of stability"))
    #expect(spectrum.contains("symmetric log") && spectrum.contains("log10 density"))
    // Two columns of 120 cells, the colour bar's 40, the panel's frame.
    #expect(names.filter { $0 == "rect" }.count >= 2 * 120 + 40, "\(names.filter { $0 == "rect" }.count)")
  }

  /// The density recomputed from a spectrum's quadrature is the recorded formula: the mean over
  /// probes of Σ_j τ_j 𝒩(t; θ_j, σ²).
  @Test func spectrumDensityIsRecomputedFromTheQuadrature() throws {
    let path = try makeTrace(spectra: [(0, 0.5)]) { _ in [0.1, 0.1, 0.1, 0.1] }
    let history = try #require(try SpectrumHistory(reader: TraceReader(path: path)))
    let t = 0.45
    let expected = zip([-0.1, 0.5, 2.0], [0.2, 0.7, 0.1]).reduce(0.0) { sum, node in
      let z = (t - node.0) / 0.05
      return sum + node.1 * exp(-0.5 * z * z) / (0.05 * (2 * Double.pi).squareRoot())
    }
    #expect(abs(history.density(0, at: t) - expected) <= 1e-6 * expected)
    #expect(history.ratios == [0.5])
  }

  @Test func reportHoldsTablesVerdictsAndFigures() throws {
    var report = HTMLReport(runs: [
      try FigureData(path: try makeTrace { _ in [1e-18, 1e-12, 1e-7, 1e-4] }),
      try FigureData(path: try makeTrace(curvature: true) { _ in [0.1, 0.1, 0.1, 0.1] }),
    ])
    report.unreadable = ["broken.h5: not an HDF5 file"]
    let html = report.html
    #expect(html.contains("verdict: VANISHING") && html.contains("verdict: HEALTHY"))
    #expect(html.contains("broken.h5: not an HDF5 file"))
    // Two gradient-flow figures, loss, accuracy, Taylor and curvature.
    #expect(html.components(separatedBy: "<svg ").count - 1 == 6)
    #expect(!html.contains("<script") && !html.contains("http://") == false, "only the SVG namespace URL")
    for svg in html.components(separatedBy: "<svg ").dropFirst() {
      _ = try Self.elements("<svg " + svg.components(separatedBy: "</svg>")[0] + "</svg>")
    }
  }
}

/// Traces that contradict the schema are refused with the dataset and what was expected.
@Suite("Damaged and partial traces")
struct DamagedTraceTests {
  @Test func wrongWidthIsNamed() throws {
    // Five names in /layers/name, four columns in /gradients/mean_abs.
    let path = try makeTrace(layers: 4) { _ in [0.1, 0.1, 0.1, 0.1] }
    let file = try HDF5File(path, access: .update)
    try file.remove(TraceDataset.layerName.path)
    try file.writeStrings((0..<5).map { "layer_\($0)" }, to: TraceDataset.layerName.path)
    try file.close()
    #expect { try TraceAnalysis.analyze(path: path) } throws: {
      "\($0)".contains("/gradients/mean_abs") && "\($0)".contains("expected shape [N, 5]")
    }
  }

  @Test func epochsOutOfOrderAreNamed() throws {
    let path = try makeTrace(epochOfStep: { $0 == 7 ? 0 : $0 / 5 }) { _ in [0.1, 0.1, 0.1, 0.1] }
    #expect { try TraceAnalysis.analyze(path: path) } throws: {
      "\($0)".contains("/steps/epoch") && "\($0)".contains("never decrease")
    }
  }

  @Test func missingOptionalGroupsGiveAPartialAnalysis() throws {
    let path = try makeTrace { _ in [0.1, 0.1, 0.1, 0.1] }
    let analysis = try TraceAnalysis.analyze(path: path)
    #expect(analysis.taylor == nil && analysis.missing.contains { $0.contains("curvature") })
    #expect(analysis.text.contains("not recorded: curvature"))
    let data = try FigureData(path: path)
    #expect(data.curvature == nil)
    #expect(HTMLReport(runs: [data]).html.contains("No trace recorded curvature"))
  }
}
