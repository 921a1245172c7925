import Analysis
import ArgumentParser

struct Analyze: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Do a run's gradients vanish or explode, where, since when; Taylor fit.",
    discussion: """
      Reads the trace in blocks (memory stays bounded), computes the gradient flow
      per layer (per-epoch mean of mean |g| and the last-step-of-epoch snapshot the
      paper plots), the first/last layer ratio, the vanishing depth, the trend
      across epochs, and a verdict (vanishing / exploding / healthy) with its
      evidence and a hint. With curvature recorded, also how well the second-order
      prediction tracks the real loss change.

      Thresholds (defaults): vanishing when first/last < 1e-4, exploding when > 1e4
      or any non-finite step; vanishing depth where the flow falls below 0.01× the
      head's.

      \(TraceExit.help)

      Example: gradtrace analyze run.h5 --json
      """)

  @Argument(help: "The trace file.") var trace: String
  @Option(parsing: .unconditional, help: "Vanishing when the first/last layer flow ratio is below this.")
  var vanishingRatio = 1e-4
  @Option(parsing: .unconditional, help: "Exploding when the first/last layer flow ratio is above this.")
  var explodingRatio = 1e4
  @Option(parsing: .unconditional, help: "τ of the vanishing depth: flow below τ × the head's.") var depthFraction =
    1e-2

  func validate() throws {
    for (flag, value) in [
      ("--vanishing-ratio", vanishingRatio), ("--exploding-ratio", explodingRatio), ("--depth-fraction", depthFraction),
    ] where !(value > 0) {
      throw ValidationError("\(flag) must be positive, got \(value)")
    }
  }
  @Flag(help: "Print JSON.") var json = false

  func run() throws {
    var thresholds = VerdictThresholds()
    thresholds.vanishingRatio = vanishingRatio
    thresholds.explodingRatio = explodingRatio
    thresholds.depthFraction = depthFraction
    let analysis: TraceAnalysis
    do {
      analysis = try TraceAnalysis.analyze(path: trace, thresholds: thresholds)
    } catch {
      throw CommandError("\(error)")
    }
    print(json ? try analysis.json() : analysis.text)
  }
}
