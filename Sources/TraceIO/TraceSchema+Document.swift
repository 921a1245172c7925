extension TraceSchema {
  /// The datasets table of docs/trace-format.md, generated from `all` (`gradtrace inspect
  /// --schema` prints it; a test checks that the document holds exactly this).
  public static var markdownTable: String {
    var lines = [
      "| path | type | shape | follows | unit | meaning |",
      "|---|---|---|---|---|---|",
    ]
    for dataset in all {
      let presence =
        switch dataset.presence {
        case .always: ""
        case .activations: " (with `--record activations`)"
        case .curvature: " (with `--record curvature`)"
        case .spectrum: " (with `--spectrum-every`)"
        case .histograms: " (with `--histogram-every`)"
        case .activationHistograms: " (with `--histogram-every` and `--record activations`)"
        case .noise: " (with `--record noise`)"
        case .merges: " (with `--record activations`, in a model with add or concat layers)"
        case .noiseCurvature: " (with `--record noise,curvature`)"
        }
      let added =
        !dataset.inVersionOne
        ? " New in version 2."
        : dataset.versionOnePath != dataset.path
          ? " Version 1: `\(dataset.versionOnePath)`, a NaN row at measurements without it." : ""
      lines.append(
        "| `\(dataset.path)` | \(dataset.element.rawValue) | \(dataset.shapeText) | "
          + "\(dataset.index.map { "`\($0.dataset.path)`" } ?? "") | \(dataset.unit) | "
          + "\(dataset.meaning)\(presence).\(added) |")
    }
    return lines.joined(separator: "\n") + "\n"
  }
}
