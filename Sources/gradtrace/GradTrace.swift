import ArgumentParser
import TensorCore
import Training

@main
struct GradTrace: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "gradtrace",
    abstract: "See why very deep networks do or do not learn.",
    discussion: """
      gradtrace builds the VGG family of T.-V. Pricope, "An analysis on very deep
      convolutional neural networks: problems and solutions" (Studia Universitatis
      Babeș-Bolyai Informatica, 2021): VGG08 and VGG38, with BatchNorm and residual
      connections. It trains them with per-step traces of gradients, activations
      and exact curvature (HDF5), and turns traces into verdicts, tables, figures
      and reports.

      Examples:
        gradtrace describe --model vgg38 --batchnorm --residual
        gradtrace train --model vgg08 --epochs 2 --trace run.h5 --output runs/vgg08
        gradtrace analyze run.h5
      """,
    version: GradTraceVersion.current,
    subcommands: [
      Describe.self, Init.self, Train.self, Evaluate.self, Probe.self, Inspect.self, Tail.self, Analyze.self,
      Compare.self, Export.self, Plot.self, Report.self, Reproduce.self, Bench.self, Recover.self,
    ])
}
