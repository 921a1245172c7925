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

/// A heatmap of a density over training: one column per measurement (x: its step), rows evenly
/// spaced on a symmetric-log y axis, colour the log10 of the value; markers overlaid (the
/// top eigenvalues).
struct HeatmapPanel: FigurePanel {
  var title: String
  var yLabel: String
  var note: String?
  /// The step of each column.
  var columns: [Int]
  /// values[column][row], rows from the lowest y to the highest.
  var values: [[Double]]
  var scale: SymmetricLogScale
  /// The transformed y range the rows cover.
  var low: Double
  var high: Double
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
    let logs = values.map { $0.map { $0 > 0 ? log10($0) : -Double.infinity } }
    guard let maximum = logs.flatMap({ $0 }).filter(\.isFinite).max(), !columns.isEmpty, high > low else {
      canvas.text(
        note ?? "no data", x: (left + right) / 2, y: (plotTop + plotBottom) / 2, size: 13, anchor: .middle,
        color: "#666666")
      return
    }
    let floor = maximum - decades
    let cellWidth = (right - left) / Double(columns.count)
    func y(_ t: Double) -> Double { plotBottom - (t - low) / (high - low) * Self.plotHeight }
    for (c, column) in logs.enumerated() {
      let cellHeight = Self.plotHeight / Double(max(column.count, 1))
      for (r, value) in column.enumerated() {
        let fraction = value.isFinite ? max(0, min(1, (value - floor) / decades)) : 0
        canvas.rectangle(
          left + Double(c) * cellWidth, plotBottom - Double(r + 1) * cellHeight, cellWidth + 0.3, cellHeight + 0.3,
          fill: Palette.viridis(fraction))
      }
    }
    for tick in scale.ticks(low: low, high: high) {
      let position = y(scale.transform(tick))
      canvas.line(left - 4, position, left, position, .init(color: "#999999"))
      canvas.text(PlotScale.label(tick), x: left - 6, y: position + 4, size: 11, anchor: .end)
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
    let barHeight = Self.plotHeight - 60
    for i in 0..<40 {
      let fraction = Double(i) / 39
      canvas.rectangle(
        barX, plotTop + 20 + (1 - fraction) * barHeight - barHeight / 40, 16, barHeight / 40 + 0.5,
        fill: Palette.viridis(fraction))
    }
    canvas.text("log10 density", x: barX, y: plotTop + 10, size: 11)
    canvas.text(PlotScale.label(maximum), x: barX + 22, y: plotTop + 24, size: 10)
    canvas.text("≤ " + PlotScale.label(floor), x: barX + 22, y: plotTop + 20 + barHeight, size: 10)
    if !markers.isEmpty {
      canvas.circle(
        barX + 6, plotBottom - 18, radius: 2.6, fill: "#ffffff", stroke: .init(color: "#222222", width: 0.8))
      canvas.text(markerLabel, x: barX + 14, y: plotBottom - 14, size: 11)
    }
  }
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
