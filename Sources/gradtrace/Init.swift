import ArgumentParser
import Foundation
import Networks
import Training

struct Init: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Write a model's initial weights as a checkpoint.",
    discussion: """
      The checkpoint holds /parameters/<name> and /buffers/<name> with PyTorch's
      names and shapes (conv OIHW, linear [out, in]), so other tools can load
      exactly these weights; scripts/torch_reference.py shows how with h5py. The
      same seed gives the same weights.

      Example: gradtrace init --model vgg38 --batchnorm --residual --seed 0 -o
      init.h5
      """)

  @OptionGroup var modelOptions: ModelOptions

  @Option(help: "Random seed for the initial weights.")
  var seed: UInt64 = 0

  @Option(name: .customLong("init"), help: "Initialisation: pytorch (the paper's default, U(±1/√fan_in)), he, xavier.")
  var initialization: Initialization = .pytorchDefault

  @Option(name: [.customShort("o"), .long], help: "Checkpoint file to write (HDF5).")
  var output: String

  func run() throws {
    let network = try VGG<Float>(modelOptions.configuration, initialization: initialization, seed: seed)
    var checkpoint = Checkpoint(model: network)
    checkpoint.runConfiguration = Self.runConfiguration(seed: seed, initialization: initialization)
    try checkpoint.write(to: output)
    print(
      "wrote \(output): \(network.configuration.shortName), \(network.parameterCount) parameters, init \(initialization.rawValue), seed \(seed)"
    )
  }

  static func runConfiguration(seed: UInt64, initialization: Initialization) -> String {
    "{\"initialization\":\"\(initialization.rawValue)\",\"seed\":\(seed)}"
  }
}
