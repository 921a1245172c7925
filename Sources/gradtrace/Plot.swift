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
        histograms     depth × time heatmaps from the log-magnitude histograms
                       (train --histogram-every): per trace the median (or
                       --histogram-statistic) of log10 |∂f/∂W| per layer and of
                       log10 |output| per block over training; red cells held NaN
                       or ±Inf, grey ones nothing finite.
        signal         signal propagation per block: the q-value (mean squared
                       output, log) and the c-value (mean cosine between examples'
                       outputs; 1 is rank collapse) at the first recorded step
                       (solid) and the last (dashed), one colour per trace; and
                       ‖F(x)‖/‖x‖ at each residual add.

      \(TraceExit.help)

      Examples:
        gradtrace plot run.h5 --figure gradient-flow -o flow.svg
        gradtrace plot vgg08.h5 vgg38.h5 --figure loss -o loss.svg
        gradtrace plot vgg38.h5 vgg38-bn.h5 --figure spectrum -o spectrum.svg
        gradtrace plot vgg38.h5 --figure histograms --histogram-statistic 0.9 -o h.svg
        gradtrace plot vgg38.h5 vgg38-bn.h5 vgg38-bn-res.h5 --figure signal -o s.svg
      """)

  @Argument(help: "Trace files.") var traces: [String]
  @Option(help: "gradient-flow, loss, accuracy, taylor, curvature, spectrum, histograms or signal.")
  var figure = FigureKind.gradientFlow
  @Option(name: .shortAndLong, help: "The SVG file to write.") var output: String
  @Flag(help: "Linear instead of logarithmic gradient-flow axis.") var linear = false
  @Option(help: "What colours the histograms figure: median, mode or a quantile (0-1).")
  var histogramStatistic = "median"

  func validate() throws {
    if traces.isEmpty { throw ValidationError("Give at least one trace file.") }
    if HistogramStatistic(argument: histogramStatistic) == nil {
      throw ValidationError(
        "--histogram-statistic takes median, mode or a quantile in 0...1, got '\(histogramStatistic)'")
    }
    if CommandLine.arguments.contains("--histogram-statistic") && figure != .histograms {
      throw ValidationError("--histogram-statistic applies to --figure histograms only")
    }
  }

  func run() throws {
    var inputs = TraceInputs(traces)
    let statistic = HistogramStatistic(argument: histogramStatistic) ?? .quantile(0.5)
    let runs = inputs.map { try FigureData(path: $0, histogramStatistic: statistic) }
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
