import Foundation

/// One axis: data range, linear or base-10 logarithmic, mapped onto a pixel interval.
struct PlotScale {
  var lower: Double
  var upper: Double
  var logarithmic: Bool
  /// Ticks only at whole numbers (epochs, steps).
  var integral = false
  /// Pixel positions of `lower` and `upper` (for y, `start` is the bottom).
  var start = 0.0
  var end = 1.0

  /// The range covering the finite values (positive ones on a log axis), padded a little.
  static func fitting(_ values: [Double], logarithmic: Bool, includingZero: Bool = false) -> PlotScale {
    let usable = values.filter { $0.isFinite && (!logarithmic || $0 > 0) }
    guard var low = usable.min(), var high = usable.max() else {
      return PlotScale(lower: logarithmic ? 1e-3 : 0, upper: 1, logarithmic: logarithmic)
    }
    if logarithmic {
      low = pow(10, (log10(low)).rounded(.down))
      high = pow(10, (log10(high)).rounded(.up))
      if high <= low { high = low * 10 }
      return PlotScale(lower: low, upper: high, logarithmic: true)
    }
    if includingZero {
      low = min(low, 0)
      high = max(high, 0)
    }
    if high == low {
      let pad = low == 0 ? 1 : abs(low) * 0.1
      return PlotScale(lower: low - pad, upper: high + pad, logarithmic: false)
    }
    let pad = (high - low) * 0.05
    return PlotScale(
      lower: includingZero && low == 0 ? 0 : low - pad, upper: includingZero && high == 0 ? 0 : high + pad,
      logarithmic: false)
  }

  /// The pixel of `value`, or nil where it cannot be drawn (non-finite, or ≤ 0 on a log axis).
  func position(_ value: Double) -> Double? {
    guard value.isFinite, !logarithmic || value > 0 else { return nil }
    let fraction =
      logarithmic ? (log10(value) - log10(lower)) / (log10(upper) - log10(lower)) : (value - lower) / (upper - lower)
    return start + (end - start) * fraction
  }

  /// Tick values and labels: 1-2-5 steps on a linear axis, decades on a log one.
  func ticks() -> [(value: Double, label: String)] {
    if logarithmic {
      let first = Int(log10(lower).rounded(.down))
      let last = Int(log10(upper).rounded(.up))
      let stride = max(1, (last - first + 7) / 8)
      return Swift.stride(from: first, through: last, by: stride).map { (pow(10, Double($0)), "1e\($0)") }
    }
    let raw = (upper - lower) / 6
    let magnitude = pow(10, log10(raw).rounded(.down))
    var step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
    if integral { step = max(1, step.rounded(.up)) }
    var value = (lower / step).rounded(.up) * step
    var ticks: [(Double, String)] = []
    while value <= upper + step * 1e-9 {
      let clean = abs(value) < step * 1e-9 ? 0 : value
      ticks.append((clean, Self.label(clean)))
      value += step
    }
    return ticks
  }

  static func label(_ value: Double) -> String {
    let text = String(format: "%.4g", value)
    return text.replacingOccurrences(of: "e-0", with: "e-").replacingOccurrences(of: "e+0", with: "e")
  }
}

/// A data series of a panel.
struct PlotSeries {
  enum Style { case line, dashed, markers, hollowMarkers, lineAndMarkers }
  /// Shown in the legend; nil keeps it out.
  var label: String?
  var points: [(x: Double, y: Double)]
  var color: String
  var style = Style.line
  var opacity = 1.0
  var width = 1.6
}

/// One plot: axes with ticks and titles, series, optional reference lines and a legend.
struct PlotPanel {
  var title: String
  var xLabel: String
  var yLabel: String
  var series: [PlotSeries] = []
  var logarithmicY = false
  /// Labels of x = 0, 1, 2, … (layer names), drawn rotated under the axis.
  var categories: [String]? = nil
  /// Horizontal lines with a label (for example ε = 2ε*).
  var references: [(y: Double, label: String)] = []
  /// The line y = x (predicted against actual).
  var diagonal = false
  /// Said in the plot area when there is nothing to draw, or next to the title.
  var note: String? = nil
  var includeZeroY = false
  /// x ticks only at whole numbers (epochs, steps).
  var integralX = false

  static let plotHeight = 260.0

  /// Room for the legend: its longest label at about 6 px a character, within 150-330 px.
  var legendWidth: Double {
    let longest = series.compactMap(\.label).map(\.count).max() ?? 0
    return min(330, max(150, 40 + 6 * Double(longest)))
  }

  /// Height of the panel on a canvas: title, plot, tick labels (rotated categories need more).
  var height: Double {
    let categoryDepth = categories.map { labels in Double(labels.map(\.count).max() ?? 0) * 5.2 * 0.87 + 20 } ?? 20
    return 52 + Self.plotHeight + categoryDepth + 30
  }

  func draw(on canvas: inout SVGCanvas, top: Double) {
    let (left, right, plotTop, plotBottom) = drawFrame(
      on: &canvas, top: top, title: title, note: note, plotHeight: Self.plotHeight)

    let xs = series.flatMap { $0.points.map(\.x) }
    var ys = series.flatMap { $0.points.map(\.y) } + references.map(\.y)
    if diagonal { ys += xs }
    var xScale = PlotScale.fitting(diagonal ? xs + ys : xs, logarithmic: false)
    if let categories { xScale = PlotScale(lower: -0.5, upper: Double(categories.count) - 0.5, logarithmic: false) }
    xScale.integral = integralX
    var yScale = PlotScale.fitting(diagonal ? xs + ys : ys, logarithmic: logarithmicY, includingZero: includeZeroY)
    (xScale.start, xScale.end) = (left, right)
    (yScale.start, yScale.end) = (plotBottom, plotTop)

    // Grid, ticks and their labels.
    for tick in yScale.ticks() {
      guard let y = yScale.position(tick.value), y >= plotTop - 0.5, y <= plotBottom + 0.5 else { continue }
      canvas.line(left, y, right, y, .init(color: "#e3e3e3"))
      canvas.text(tick.label, x: left - 6, y: y + 4, size: 11, anchor: .end)
    }
    let tickLabelBottom: Double
    if let categories {
      // Labels stay apart however many layers: the font follows the spacing (6-9 px).
      let spacing = (right - left) / Double(max(categories.count, 1))
      let size = max(6, min(9, spacing * 0.9))
      for (index, name) in categories.enumerated() {
        guard let x = xScale.position(Double(index)) else { continue }
        canvas.line(x, plotBottom, x, plotBottom + 4, .init(color: "#999999"))
        canvas.text(name, x: x + 3, y: plotBottom + 12, size: size, anchor: .end, rotation: -60)
      }
      tickLabelBottom = plotBottom + Double(categories.map(\.count).max() ?? 0) * 5.2 * 0.87 + 16
    } else {
      for tick in xScale.ticks() {
        guard let x = xScale.position(tick.value), x >= left - 0.5, x <= right + 0.5 else { continue }
        canvas.line(x, plotTop, x, plotBottom, .init(color: "#e3e3e3"))
        canvas.text(tick.label, x: x, y: plotBottom + 16, size: 11, anchor: .middle)
      }
      tickLabelBottom = plotBottom + 20
    }
    canvas.text(xLabel, x: (left + right) / 2, y: tickLabelBottom + 16, size: 12, anchor: .middle)
    let middle = (plotTop + plotBottom) / 2
    canvas.text(yLabel, x: 22, y: middle, size: 12, anchor: .middle, rotation: -90)

    if diagonal, let a = xScale.position(max(xScale.lower, yScale.lower)),
      let b = xScale.position(min(xScale.upper, yScale.upper)),
      let c = yScale.position(max(xScale.lower, yScale.lower)), let d = yScale.position(min(xScale.upper, yScale.upper))
    {
      canvas.line(a, c, b, d, .init(color: "#888888", width: 1, dash: "4 3"))
    }
    for reference in references {
      guard let y = yScale.position(reference.y) else { continue }
      canvas.line(left, y, right, y, .init(color: "#c0392b", width: 1, dash: "6 4"))
      canvas.text(reference.label, x: left + 6, y: y - 4, size: 10, color: "#c0392b")
    }
    for item in series { draw(item, &canvas, xScale, yScale) }
    if series.allSatisfy({ $0.points.isEmpty }) {
      canvas.text(note ?? "no data", x: (left + right) / 2, y: middle, size: 13, anchor: .middle, color: "#666666")
    }
    drawLegend(on: &canvas, x: right + 14, top: plotTop)
  }

  private func draw(_ item: PlotSeries, _ canvas: inout SVGCanvas, _ xScale: PlotScale, _ yScale: PlotScale) {
    let stroke = SVGCanvas.Stroke(
      color: item.color, width: item.width, dash: item.style == .dashed ? "6 4" : nil, opacity: item.opacity)
    if item.style != .markers && item.style != .hollowMarkers {
      // A point that cannot be drawn (NaN, or ≤ 0 on a log axis) breaks the line.
      var segment: [(Double, Double)] = []
      for point in item.points {
        if let x = xScale.position(point.x), let y = yScale.position(point.y) {
          segment.append((x, y))
        } else {
          canvas.polyline(segment, stroke)
          segment = []
        }
      }
      canvas.polyline(segment, stroke)
    }
    if item.style == .markers || item.style == .hollowMarkers || item.style == .lineAndMarkers {
      for point in item.points {
        guard let x = xScale.position(point.x), let y = yScale.position(point.y) else { continue }
        if item.style == .hollowMarkers {
          canvas.circle(x, y, radius: 3.2, fill: nil, stroke: .init(color: item.color, width: 1.2))
        } else {
          canvas.circle(x, y, radius: 2.8, fill: item.color)
        }
      }
    }
  }

  private func drawLegend(on canvas: inout SVGCanvas, x: Double, top: Double) {
    var y = top + 10
    for item in series {
      guard let label = item.label else { continue }
      switch item.style {
      case .markers: canvas.circle(x + 11, y - 4, radius: 3, fill: item.color)
      case .hollowMarkers:
        canvas.circle(x + 11, y - 4, radius: 3.2, fill: nil, stroke: .init(color: item.color, width: 1.2))
      default:
        canvas.line(
          x, y - 4, x + 22, y - 4,
          .init(color: item.color, width: 2, dash: item.style == .dashed ? "6 4" : nil, opacity: max(item.opacity, 0.6))
        )
      }
      canvas.text(label, x: x + 28, y: y, size: 11)
      y += 17
    }
  }
}

/// Panels stacked top to bottom on one canvas.
/// Wide enough for about 12 px per layer label (VGG38 with BatchNorm has 78).
func renderFigure(_ panels: [any FigurePanel]) -> SVGCanvas {
  let layers = panels.map(\.categoryCount).max() ?? 0
  let legend = panels.map(\.legendWidth).max() ?? 0
  let width = max(960, 12 * Double(layers) + 120 + legend)
  var canvas = SVGCanvas(width: width, height: panels.map(\.height).reduce(0, +) + 10)
  var top = 5.0
  for panel in panels {
    panel.draw(on: &canvas, top: top)
    top += panel.height
  }
  return canvas
}
