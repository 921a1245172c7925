import Analysis
import ArgumentParser
import Foundation

struct Plot: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Draw the paper's figures from traces as SVG.",
    discussion: """
      Figures:
        gradient-flow  mean |∂f/∂W| per layer at the last step of each epoch, one
                       translucent line per epoch, light (first) to dark (last); one
                       panel per trace (the paper's Figures 1-3). Log scale unless
                       --linear.
        loss           train (solid) and validation (dashed) loss per epoch, one
                       colour per trace (Figures 4-5).
        accuracy       train and validation accuracy per epoch.
        taylor         first- and second-order predicted loss change against the
                       actual change, per curvature measurement, with y = x; one
                       panel per trace.
        curvature      ε/ε* (ε = −gᵀd/gᵀg, the update's length along −g) with the
                       lines ε = ε* and ε = 2ε*, and gᵀHg, over training.
        spectrum       the Hessian's spectrum over training (train --spectrum-every):
                       per trace the density as a heatmap (log10, symmetric-log
                       eigenvalue axis, the top-k as markers) and the extreme
                       eigenvalues with the bulk edge; then sharpness / threshold
                       (1: the edge of stability) and the gradient's and the
                       update's share in the top-k eigenvectors' span.

      \(TraceExit.help)

      Examples:
        gradtrace plot run.h5 --figure gradient-flow -o flow.svg
        gradtrace plot vgg08.h5 vgg38.h5 --figure loss -o loss.svg
        gradtrace plot vgg38.h5 vgg38-bn.h5 --figure spectrum -o spectrum.svg
      """)

  @Argument(help: "Trace files.") var traces: [String]
  @Option(help: "gradient-flow, loss, accuracy, taylor, curvature or spectrum.") var figure = FigureKind.gradientFlow
  @Option(name: .shortAndLong, help: "The SVG file to write.") var output: String
  @Flag(help: "Linear instead of logarithmic gradient-flow axis.") var linear = false

  func validate() throws {
    if traces.isEmpty { throw ValidationError("Give at least one trace file.") }
  }

  func run() throws {
    var inputs = TraceInputs(traces)
    let runs = inputs.map { try FigureData(path: $0) }
    if !runs.isEmpty {
      do {
        try figure.svg(runs, logarithmic: !linear).write(toFile: output, atomically: true, encoding: .utf8)
      } catch {
        throw CommandError("cannot write \(output): \(error.localizedDescription)")
      }
      print("wrote \(output) (\(figure.rawValue), \(runs.count) trace\(runs.count == 1 ? "" : "s"))")
    }
    try inputs.finish()
  }
}

extension FigureKind: ExpressibleByArgument {}
