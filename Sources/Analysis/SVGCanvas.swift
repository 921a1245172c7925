import Foundation

/// A standalone SVG document built element by element. Every text is XML-escaped, every
/// number written with two decimals, so the output is valid XML whatever the data.
struct SVGCanvas {
  let width: Double
  let height: Double
  private(set) var elements: [String] = []

  init(width: Double, height: Double) {
    self.width = width
    self.height = height
  }

  var document: String {
    """
    <?xml version="1.0" encoding="UTF-8"?>
    <svg xmlns="http://www.w3.org/2000/svg" width="\(Self.number(width))" height="\(Self.number(height))" \
    viewBox="0 0 \(Self.number(width)) \(Self.number(height))" font-family="Helvetica, Arial, sans-serif">
    <rect x="0" y="0" width="\(Self.number(width))" height="\(Self.number(height))" fill="white"/>
    \(elements.joined(separator: "\n"))
    </svg>

    """
  }

  /// The document without the XML declaration, for inlining in HTML.
  var inline: String {
    document.split(separator: "\n", maxSplits: 1).last.map(String.init) ?? document
  }

  struct Stroke {
    var color = "#000000"
    var width = 1.0
    var dash: String? = nil
    var opacity = 1.0
  }

  mutating func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, _ stroke: Stroke = .init()) {
    elements.append(
      "<line x1=\"\(Self.number(x1))\" y1=\"\(Self.number(y1))\" x2=\"\(Self.number(x2))\" y2=\"\(Self.number(y2))\"\(Self.attributes(stroke))/>"
    )
  }

  mutating func polyline(_ points: [(Double, Double)], _ stroke: Stroke) {
    guard points.count >= 2 else { return }
    let list = points.map { "\(Self.number($0.0)),\(Self.number($0.1))" }.joined(separator: " ")
    elements.append("<polyline points=\"\(list)\" fill=\"none\"\(Self.attributes(stroke))/>")
  }

  mutating func circle(_ x: Double, _ y: Double, radius: Double, fill: String?, stroke: Stroke? = nil) {
    let fillText = " fill=\"\(fill ?? "none")\""
    elements.append(
      "<circle cx=\"\(Self.number(x))\" cy=\"\(Self.number(y))\" r=\"\(Self.number(radius))\"\(fillText)\(stroke.map(Self.attributes) ?? "")/>"
    )
  }

  mutating func rectangle(
    _ x: Double, _ y: Double, _ width: Double, _ height: Double, fill: String, stroke: Stroke? = nil
  ) {
    elements.append(
      "<rect x=\"\(Self.number(x))\" y=\"\(Self.number(y))\" width=\"\(Self.number(width))\" height=\"\(Self.number(height))\" fill=\"\(fill)\"\(stroke.map(Self.attributes) ?? "")/>"
    )
  }

  enum Anchor: String { case start, middle, end }

  mutating func text(
    _ string: String, x: Double, y: Double, size: Double = 12, anchor: Anchor = .start, rotation: Double = 0,
    bold: Bool = false, color: String = "#222222"
  ) {
    let rotate =
      rotation == 0 ? "" : " transform=\"rotate(\(Self.number(rotation)) \(Self.number(x)) \(Self.number(y)))\""
    elements.append(
      "<text x=\"\(Self.number(x))\" y=\"\(Self.number(y))\" font-size=\"\(Self.number(size))\" text-anchor=\"\(anchor.rawValue)\" fill=\"\(color)\"\(bold ? " font-weight=\"bold\"" : "")\(rotate)>\(Self.escaped(string))</text>"
    )
  }

  static func attributes(_ stroke: Stroke) -> String {
    var text = " stroke=\"\(stroke.color)\" stroke-width=\"\(number(stroke.width))\""
    if let dash = stroke.dash { text += " stroke-dasharray=\"\(dash)\"" }
    if stroke.opacity < 1 { text += " stroke-opacity=\"\(number(stroke.opacity))\"" }
    return text
  }

  static func number(_ value: Double) -> String { String(format: "%.2f", value.isFinite ? value : 0) }

  /// XML-escaped text; control characters that XML 1.0 forbids become U+FFFD.
  static func escaped(_ text: String) -> String {
    var result = ""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "&": result += "&amp;"
      case "<": result += "&lt;"
      case ">": result += "&gt;"
      case "\"": result += "&quot;"
      case "'": result += "&apos;"
      default:
        if scalar.value < 0x20 && scalar != "\n" && scalar != "\t" {
          result += "\u{FFFD}"
        } else {
          result.unicodeScalars.append(scalar)
        }
      }
    }
    return result
  }
}

/// Distinct colours for runs (Tableau 10), and a light-to-dark ramp for epochs.
enum Palette {
  static let runs = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
  ]
  static func run(_ index: Int) -> String { runs[index % runs.count] }

  /// From pale yellow-green (first epoch) to dark blue (last), like viridis' ends.
  static func epoch(_ index: Int, of count: Int) -> String {
    let t = count <= 1 ? 1 : Double(index) / Double(count - 1)
    let start = (0.74, 0.87, 0.15)
    let end = (0.18, 0.15, 0.45)
    func channel(_ a: Double, _ b: Double) -> Int { Int((a + (b - a) * t) * 255) }
    return String(
      format: "#%02x%02x%02x", channel(start.0, end.0), channel(start.1, end.1), channel(start.2, end.2))
  }
}
