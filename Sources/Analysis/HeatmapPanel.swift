import Foundation

/// What `renderFigure` stacks: line plots and heatmaps.
protocol FigurePanel {
  var height: Double { get }
  var legendWidth: Double { get }
  /// Labels under the x axis (layers), which widen the canvas.
  var categoryCount: Int { get }
  func draw(on canvas: inout SVGCanvas, top: Double)
}

extension PlotPanel: FigurePanel {
  var categoryCount: Int { categories?.count ?? 0 }
}

extension FigurePanel {
  /// The title, the note under it and the plot area's frame, in the layout every panel shares;
  /// returns the plot area's left, right, top and bottom.
  func drawFrame(on canvas: inout SVGCanvas, top: Double, title: String, note: String?, plotHeight: Double) -> (
    Double, Double, Double, Double
  ) {
    let left = 88.0
    let right = canvas.width - legendWidth - 16
    let plotTop = top + 52
    canvas.text(title, x: left, y: top + 22, size: 15, bold: true)
    if let note { canvas.text(note, x: left, y: top + 41, size: 11, color: "#666666") }
    canvas.rectangle(left, plotTop, right - left, plotHeight, fill: "#fbfbfb", stroke: .init(color: "#999999"))
    return (left, right, plotTop, plotTop + plotHeight)
  }
}

/// The symmetric logarithm: linear within ±c, logarithmic beyond, so negative eigenvalues
/// show beside positive ones over many decades: T(y) = sign(y) log10(1 + |y|/c).
struct SymmetricLogScale {
  var linearWidth: Double

  func transform(_ y: Double) -> Double { (y < 0 ? -1 : 1) * log10(1 + abs(y) / linearWidth) }
  func inverse(_ t: Double) -> Double { (t < 0 ? -1 : 1) * linearWidth * (pow(10, abs(t)) - 1) }

  /// 0 and ±c·10^k (k = 0, 1, …) within [low, high] (transformed), thinned to about eight.
  func ticks(low: Double, high: Double) -> [Double] {
    var values = [0.0]
    var magnitude = linearWidth
    while transform(magnitude) <= max(abs(low), abs(high)) + 1e-9 {
      values += [magnitude, -magnitude]
      magnitude *= 10
    }
    let inside = values.filter { transform($0) >= low - 1e-9 && transform($0) <= high + 1e-9 }.sorted()
    let stride = max(1, (inside.count + 7) / 8)
    return inside.enumerated().filter { $0.offset % stride == 0 || $0.element == 0 }.map(\.element)
  }
}

/// A heatmap over training: one column per measurement (x: its step). Rows are evenly spaced on
/// a symmetric-log y axis (a density: colour the log10 of the value, markers overlaid such as
/// the top eigenvalues) or are categories (layers: colour the value on a linear range). Cells
/// can be flagged (non-finite values) and drawn in red, or be empty (no value) and drawn grey.
struct HeatmapPanel: FigurePanel {
  var title: String
  var yLabel: String
  var note: String?
  /// The step of each column.
  var columns: [Int]
  /// values[column][row], rows from the lowest y to the highest (the last category on top).
  var values: [[Double]]
  var scale: SymmetricLogScale
  /// The transformed y range the rows cover.
  var low: Double
  var high: Double
  /// Row labels instead of the y axis' scale (from the bottom row up); thinned to fit.
  var rowLabels: [String]?
  /// Colour: nil for log10 of the value over `decades` below the maximum; else the value's
  /// place in this range (outside it: the nearest end), with the colour bar's title.
  var linearColours: (low: Double, high: Double, label: String)?
  /// flagged[column][row]: drawn in red whatever its value.
  var flagged: [[Bool]]?
  var flagLabel = ""
  /// The legend's words for a cell without a value (NaN in `values`), drawn grey.
  var emptyLabel: String?
  /// Points drawn over the cells: (column, y).
  var markers: [(column: Int, y: Double)] = []
  var markerLabel = ""
  /// How many decades of colour below the maximum (lower values take the lowest colour).
  var decades = 5.0

  static let plotHeight = 300.0
  var height: Double { 52 + Self.plotHeight + 70 }
  var legendWidth: Double { 150 }
  var categoryCount: Int { 0 }

  func draw(on canvas: inout SVGCanvas, top: Double) {
    let (left, right, plotTop, plotBottom) = drawFrame(
      on: &canvas, top: top, title: title, note: note, plotHeight: Self.plotHeight)
    // Colour coordinates: log10 of the value (a density) or the value itself (a linear range).
    let logs = linearColours != nil ? values : values.map { $0.map { $0 > 0 ? log10($0) : -Double.infinity } }
    let finiteMaximum = logs.flatMap({ $0 }).filter(\.isFinite).max()
    guard let maximum = linearColours?.high ?? finiteMaximum, !columns.isEmpty, high > low,
      finiteMaximum != nil || flagged != nil
    else {
      canvas.text(
        note ?? "no data", x: (left + right) / 2, y: (plotTop + plotBottom) / 2, size: 13, anchor: .middle,
        color: "#666666")
      return
    }
    let floor = linearColours?.low ?? maximum - decades
    let span = maximum - floor
    let cellWidth = (right - left) / Double(columns.count)
    func y(_ t: Double) -> Double { plotBottom - (t - low) / (high - low) * Self.plotHeight }
    for (c, column) in logs.enumerated() {
      let cellHeight = Self.plotHeight / Double(max(column.count, 1))
      for (r, value) in column.enumerated() {
        let fill =
          flagged?[c][r] == true
          ? Self.flagColour
          : value.isNaN && emptyLabel != nil
            ? Self.emptyColour
            : Palette.viridis(value.isFinite ? max(0, min(1, (value - floor) / span)) : value > 0 ? 1 : 0)
        canvas.rectangle(
          left + Double(c) * cellWidth, plotBottom - Double(r + 1) * cellHeight, cellWidth + 0.3, cellHeight + 0.3,
          fill: fill)
      }
    }
    if let rowLabels {
      let rowHeight = Self.plotHeight / Double(max(rowLabels.count, 1))
      let every = max(1, Int((14 / rowHeight).rounded(.up)))
      for (r, label) in rowLabels.enumerated() where r % every == 0 || r == rowLabels.count - 1 {
        let position = plotBottom - (Double(r) + 0.5) * rowHeight
        // The end of a long name tells layers apart ("…block_2_conv_1").
        let shown = label.count > 11 ? "…" + label.suffix(10) : label
        canvas.text(shown, x: left - 6, y: position + 4, size: 9, anchor: .end)
      }
    } else {
      for tick in scale.ticks(low: low, high: high) {
        let position = y(scale.transform(tick))
        canvas.line(left - 4, position, left, position, .init(color: "#999999"))
        canvas.text(PlotScale.label(tick), x: left - 6, y: position + 4, size: 11, anchor: .end)
      }
    }
    let labelEvery = max(1, Int((Double(columns.count) * 40 / (right - left)).rounded(.up)))
    for (c, step) in columns.enumerated() where c % labelEvery == 0 || c == columns.count - 1 {
      let x = left + (Double(c) + 0.5) * cellWidth
      canvas.line(x, plotBottom, x, plotBottom + 4, .init(color: "#999999"))
      canvas.text(String(step), x: x, y: plotBottom + 16, size: 11, anchor: .middle)
    }
    canvas.text("training step", x: (left + right) / 2, y: plotBottom + 36, size: 12, anchor: .middle)
    canvas.text(yLabel, x: 22, y: (plotTop + plotBottom) / 2, size: 12, anchor: .middle, rotation: -90)
    for marker in markers {
      let t = scale.transform(marker.y)
      guard marker.y.isFinite, t >= low, t <= high else { continue }
      canvas.circle(
        left + (Double(marker.column) + 0.5) * cellWidth, y(t), radius: 2.6, fill: "#ffffff",
        stroke: .init(color: "#222222", width: 0.8))
    }
    // The colour bar and the markers' legend.
    let barX = right + 14
    let legends = (emptyLabel != nil ? 1 : 0) + (flagged != nil ? 1 : 0) + (markers.isEmpty ? 0 : 1)
    let barHeight = Self.plotHeight - 50 - 18 * Double(legends)
    for i in 0..<40 {
      let fraction = Double(i) / 39
      canvas.rectangle(
        barX, plotTop + 20 + (1 - fraction) * barHeight - barHeight / 40, 16, barHeight / 40 + 0.5,
        fill: Palette.viridis(fraction))
    }
    canvas.text(linearColours?.label ?? "log10 density", x: barX, y: plotTop + 10, size: 11)
    canvas.text(
      (linearColours != nil ? "≥ " : "") + PlotScale.label(maximum), x: barX + 22, y: plotTop + 24, size: 10)
    canvas.text("≤ " + PlotScale.label(floor), x: barX + 22, y: plotTop + 20 + barHeight, size: 10)
    var legendY = plotBottom - 18
    if let emptyLabel {
      canvas.rectangle(barX, legendY - 5, 12, 10, fill: Self.emptyColour)
      canvas.text(emptyLabel, x: barX + 16, y: legendY + 4, size: 10)
      legendY -= 16
    }
    if flagged != nil {
      canvas.rectangle(barX, legendY - 5, 12, 10, fill: Self.flagColour)
      canvas.text(flagLabel, x: barX + 16, y: legendY + 4, size: 10)
    }
    if !markers.isEmpty {
      canvas.circle(
        barX + 6, plotBottom - 18, radius: 2.6, fill: "#ffffff", stroke: .init(color: "#222222", width: 0.8))
      canvas.text(markerLabel, x: barX + 14, y: plotBottom - 14, size: 11)
    }
  }
}

extension HeatmapPanel {
  static let flagColour = "#d62728"
  static let emptyColour = "#d9d9d9"
}

extension Palette {
  /// Viridis, from its five anchor colours linearly interpolated (0: dark purple, 1: yellow).
  static func viridis(_ fraction: Double) -> String {
    let anchors: [(Double, Double, Double)] = [
      (0.267, 0.005, 0.329), (0.229, 0.322, 0.546), (0.128, 0.567, 0.551), (0.369, 0.789, 0.383), (0.993, 0.906, 0.144),
    ]
    let t = max(0, min(1, fraction)) * Double(anchors.count - 1)
    let i = min(Int(t), anchors.count - 2)
    let u = t - Double(i)
    let (a, b) = (anchors[i], anchors[i + 1])
    func channel(_ x: Double, _ y: Double) -> Int { Int(((x + (y - x) * u) * 255).rounded()) }
    return String(format: "#%02x%02x%02x", channel(a.0, b.0), channel(a.1, b.1), channel(a.2, b.2))
  }
}
