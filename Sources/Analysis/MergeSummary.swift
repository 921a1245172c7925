import Foundation
import TraceIO

extension TraceAnalysis {
  /// The inputs of the model's add and concat layers (`/merges/input_norm`): at each residual
  /// add the ratio ‖F(x)‖/‖x‖ of its branch (first input) to its shortcut, and the spread of
  /// the concatenated inputs' norms.
  public struct Merges: Codable, Sendable {
    public struct Ratio: Codable, Sendable {
      public var layer: String
      /// ‖F(x)‖/‖x‖ at the first and the last recorded step.
      public var first: Double
      public var last: Double
    }
    public var firstStep: Int
    public var lastStep: Int
    /// Adds of two inputs, in application order.
    public var residualRatios: [Ratio]
    public var concatenations: Int
    /// The smallest and largest norm of a concatenated input at the last recorded step.
    public var concatenatedNorms: [Double]

    /// A branch below this fraction of its shortcut barely changes the signal; above its
    /// inverse it drowns the shortcut.
    public static let negligible = 0.01
  }

  static func mergeSummary(_ reader: TraceReader) throws -> Merges? {
    guard let merges = try reader.merges(), reader.holds(.mergeInputNorm) else { return nil }
    let rows = try reader.rowCount(.steps)
    guard rows > 0 else { return nil }
    let first = try reader.values(.mergeInputNorm, start: 0, count: 1)
    let last = try reader.values(.mergeInputNorm, start: rows - 1, count: 1)
    let steps = try reader.values(.step, start: 0, count: 1) + reader.values(.step, start: rows - 1, count: 1)
    var ratios: [Merges.Ratio] = []
    var concatenated: [Double] = []
    var layers: [String] = []
    for (column, merge) in merges.enumerated() {
      if layers.last != merge.layer { layers.append(merge.layer) }
      if merge.kind == "concat" { concatenated.append(last[column]) }
    }
    for layer in layers {
      let columns = merges.indices.filter { merges[$0].layer == layer }
      guard columns.count == 2, merges[columns[0]].kind == "add" else { continue }
      let (branch, shortcut) = (columns[0], columns[1])
      ratios.append(
        Merges.Ratio(layer: layer, first: first[branch] / first[shortcut], last: last[branch] / last[shortcut]))
    }
    let finite = concatenated.filter(\.isFinite)
    return Merges(
      firstStep: Int(steps.first ?? 0), lastStep: Int(steps.last ?? 0), residualRatios: ratios,
      concatenations: Set(merges.filter { $0.kind == "concat" }.map(\.layer)).count,
      concatenatedNorms: finite.isEmpty ? [] : [finite.min()!, finite.max()!])
  }

  /// "residual adds a, b (2 of 18): ‖F(x)‖/‖x‖ below 0.01 at step S — …"; nil when none is extreme.
  static func mergeEvidence(_ merges: Merges) -> String? {
    let weak = merges.residualRatios.filter { $0.last < Merges.negligible }
    let strong = merges.residualRatios.filter { $0.last > 1 / Merges.negligible }
    func names(_ ratios: [Merges.Ratio]) -> String {
      ratios.prefix(3).map(\.layer).joined(separator: ", ") + (ratios.count > 3 ? ", …" : "")
    }
    var parts: [String] = []
    if !weak.isEmpty {
      parts.append(
        "\(weak.count) of \(merges.residualRatios.count) residual adds (\(names(weak))) have ‖F(x)‖/‖x‖ below \(Merges.negligible) at step \(merges.lastStep): their branches barely change the signal"
      )
    }
    if !strong.isEmpty {
      parts.append(
        "\(strong.count) of \(merges.residualRatios.count) residual adds (\(names(strong))) have ‖F(x)‖/‖x‖ above \(Int(1 / Merges.negligible)) at step \(merges.lastStep): the branch drowns the shortcut"
      )
    }
    return parts.isEmpty ? nil : parts.joined(separator: "; ")
  }
}
