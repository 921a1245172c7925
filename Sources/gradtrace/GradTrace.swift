import ArgumentParser
import TensorCore

@main
struct GradTrace: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "gradtrace",
    abstract: "See why very deep networks do or do not learn.",
    discussion: """
      gradtrace builds the VGG family of "Vanishing gradients in very deep networks"
      (VGG08, VGG38, with BatchNorm and residual connections), writes their weights
      in an open HDF5 format, and measures their gradients exactly.

      Examples:
        gradtrace describe --model vgg38 --batchnorm --residual
        gradtrace init --model vgg08 --seed 0 -o init.h5
      """,
    subcommands: [
      Describe.self, Init.self, Train.self, Evaluate.self, Probe.self, Inspect.self, Tail.self, Analyze.self,
      Compare.self, Export.self, Plot.self, Report.self, Reproduce.self,
    ])
}
