import Foundation

/// How a table is written: aligned text for a terminal, or a format another tool reads.
public enum TableFormat: String, CaseIterable, Codable, Sendable {
  case text, csv, markdown, latex, json
}

/// A column of an exported table: its stable name (what scripts key on) and how its numbers
/// read for people.
public struct TableColumn: Sendable, Equatable {
  public enum Kind: Sendable, Equatable {
    /// Free text (names, verdicts).
    case text
    /// Counts and indices.
    case integer
    /// A real number, shown with four significant digits in human formats.
    case number
    /// A fraction in [0, 1] (accuracies): the fraction in csv and json, a percentage in text,
    /// markdown and LaTeX.
    case fraction
  }
  public var name: String
  public var kind: Kind
  public init(_ name: String, _ kind: Kind) {
    self.name = name
    self.kind = kind
  }
}

/// One value of a table row. Missing values are empty in csv, null in json and "-" elsewhere;
/// NaN and infinities stay visible ("nan", "inf") because a diverging run is data.
public enum TableCell: Sendable, Equatable {
  case text(String)
  case integer(Int)
  case number(Double)
  case missing

  public init(_ value: Double?) { self = value.map { .number($0) } ?? .missing }
  public init(_ value: Int?) { self = value.map { .integer($0) } ?? .missing }
  public init(_ value: String?) { self = value.map { .text($0) } ?? .missing }
}

/// Writes a table row by row, so long tables (every step of a long run) stream to the output
/// without being held in memory. Text needs the widths of all rows and so is for small tables
/// only: `Table.rendered` holds them.
public struct TableWriter {
  public let columns: [TableColumn]
  public let format: TableFormat
  private var rowsWritten = 0
  private let write: (String) -> Void

  public init(columns: [TableColumn], format: TableFormat, write: @escaping (String) -> Void) {
    precondition(format != .text, "TableWriter: aligned text needs the whole table; use Table.rendered")
    self.columns = columns
    self.format = format
    self.write = write
    switch format {
    case .csv: write(columns.map { Self.csvField($0.name) }.joined(separator: ",") + "\n")
    case .markdown:
      write("| " + columns.map(\.name).joined(separator: " | ") + " |\n")
      write("|" + columns.map { $0.kind == .text ? "---|" : "---:|" }.joined() + "\n")
    case .latex:
      write("\\begin{tabular}{" + columns.map { $0.kind == .text ? "l" : "r" }.joined() + "}\n\\hline\n")
      write(columns.map { Self.latexEscaped($0.name) }.joined(separator: " & ") + " \\\\\n\\hline\n")
    case .json: write("[")
    case .text: break
    }
  }

  public mutating func append(_ cells: [TableCell]) {
    precondition(cells.count == columns.count, "TableWriter: \(columns.count) cells per row")
    switch format {
    case .csv: write(cells.map(Self.machineText).map(Self.csvField).joined(separator: ",") + "\n")
    case .markdown:
      let texts = zip(columns, cells).map { Self.humanText($1, $0.kind).replacingOccurrences(of: "|", with: "\\|") }
      write("| " + texts.joined(separator: " | ") + " |\n")
    case .latex:
      write(
        zip(columns, cells).map { Self.latexEscaped(Self.humanText($1, $0.kind)) }.joined(separator: " & ")
          + " \\\\\n")
    case .json:
      let fields = zip(columns, cells).map { "\(Self.jsonString($0.name)): \(Self.jsonValue($1))" }
      write((rowsWritten == 0 ? "\n  {" : ",\n  {") + fields.joined(separator: ", ") + "}")
    case .text: break
    }
    rowsWritten += 1
  }

  public func finish() {
    switch format {
    case .latex: write("\\hline\n\\end{tabular}\n")
    case .json: write(rowsWritten == 0 ? "]\n" : "\n]\n")
    default: break
    }
  }

  // MARK: Cell formatting

  /// Exact and round-trippable: Swift's shortest representation of the Double.
  static func machineText(_ cell: TableCell) -> String {
    switch cell {
    case .text(let text): text
    case .integer(let value): String(value)
    case .number(let value): numberText(value) ?? String(value)
    case .missing: ""
    }
  }

  /// Four significant digits; fractions as percentages with two decimals.
  static func humanText(_ cell: TableCell, _ kind: TableColumn.Kind) -> String {
    switch cell {
    case .text(let text): return text
    case .integer(let value): return String(value)
    case .missing: return "-"
    case .number(let value):
      if let special = numberText(value) { return special }
      if kind == .fraction { return String(format: "%.2f%%", value * 100) }
      return String(format: "%.4g", value)
    }
  }

  /// "nan", "inf", "-inf" for non-finite values (pandas reads all three), nil otherwise.
  static func numberText(_ value: Double) -> String? {
    if value.isNaN { return "nan" }
    if value.isInfinite { return value > 0 ? "inf" : "-inf" }
    return nil
  }

  static func csvField(_ text: String) -> String {
    guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return text }
    return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
  }

  /// JSON has no NaN: non-finite numbers are written as null, like missing values.
  static func jsonValue(_ cell: TableCell) -> String {
    switch cell {
    case .text(let text): jsonString(text)
    case .integer(let value): String(value)
    case .number(let value): value.isFinite ? String(value) : "null"
    case .missing: "null"
    }
  }

  static func jsonString(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": result += "\\\""
      case "\\": result += "\\\\"
      case "\n": result += "\\n"
      case "\t": result += "\\t"
      case "\r": result += "\\r"
      default:
        if scalar.value < 0x20 {
          result += String(format: "\\u%04x", scalar.value)
        } else {
          result.unicodeScalars.append(scalar)
        }
      }
    }
    return result + "\""
  }

  static func latexEscaped(_ text: String) -> String {
    var result = ""
    for character in text {
      switch character {
      case "_", "%", "&", "#", "$", "{", "}": result += "\\\(character)"
      case "\\": result += "\\textbackslash{}"
      case "~": result += "\\textasciitilde{}"
      case "^": result += "\\textasciicircum{}"
      case "−": result += "$-$"
      default: result.append(character)
      }
    }
    return result
  }
}

/// A small table held whole (comparisons, summaries), rendered in any format.
public struct Table: Sendable {
  public var columns: [TableColumn]
  public var rows: [[TableCell]]

  public init(columns: [TableColumn], rows: [[TableCell]] = []) {
    self.columns = columns
    self.rows = rows
  }

  public func rendered(_ format: TableFormat) -> String {
    var output = ""
    if format == .text {
      let texts = rows.map { zip(columns, $0).map { TableWriter.humanText($1, $0.kind) } }
      let widths = columns.indices.map { column in
        max(columns[column].name.count, texts.map { $0[column].count }.max() ?? 0)
      }
      func line(_ cells: [String]) -> String {
        zip(columns.indices, cells).map { column, text in
          let pad = String(repeating: " ", count: widths[column] - text.count)
          return columns[column].kind == .text ? text + pad : pad + text
        }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
      }
      output += line(columns.map(\.name)) + "\n"
      output += line(widths.map { String(repeating: "-", count: $0) }) + "\n"
      for row in texts { output += line(row) + "\n" }
      return output
    }
    var writer = TableWriter(columns: columns, format: format) { output += $0 }
    for row in rows { writer.append(row) }
    writer.finish()
    return output
  }

  /// Rows ordered by `column` (missing and NaN values last, whatever the direction).
  public func sorted(by column: String, descending: Bool) -> Table? {
    guard let index = columns.firstIndex(where: { $0.name == column }) else { return nil }
    func key(_ cell: TableCell) -> (Int, Double, String) {
      switch cell {
      case .text(let text): (0, 0, text)
      case .integer(let value): (0, Double(value), "")
      case .number(let value): value.isNaN ? (1, 0, "") : (0, value, "")
      case .missing: (1, 0, "")
      }
    }
    var copy = self
    copy.rows = rows.enumerated().sorted { a, b in
      let (x, y) = (key(a.element[index]), key(b.element[index]))
      if x.0 != y.0 { return x.0 < y.0 }
      if x.1 != y.1 { return descending ? x.1 > y.1 : x.1 < y.1 }
      if x.2 != y.2 { return descending ? x.2 > y.2 : x.2 < y.2 }
      return a.offset < b.offset
    }.map(\.element)
    return copy
  }
}
