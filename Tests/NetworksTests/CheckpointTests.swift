import Foundation
import Networks
import TensorCore
import Testing
import Training
import TraceIO

@Suite("Checkpoints")
struct CheckpointTests {
  func temporaryPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("gradtrace-\(UUID().uuidString)-\(name)").path
  }

  @Test func roundTripKeepsWeightsBuffersAndState() throws {
    let network = try Network<Float>(
      .preset(.vgg08, batchNorm: true, residual: true, inputChannels: 1, classes: 10), seed: 5)
    network.buffers["input_conv.bn_0.running_mean"] = Tensor(repeating: 0.25, shape: [32])
    var adam = Adam<Float>()
    let gradients = network.gradients(images: Tensor(repeating: 0.5, shape: [2, 1, 32, 32]), labels: [1, 2]).gradients
    adam.step(&network.parameters, gradients: gradients, learningRate: 1e-3)
    var checkpoint = Checkpoint(model: network)
    checkpoint.optimizerState = adam.state
    checkpoint.optimizerSteps = adam.stepCount
    checkpoint.step = 17
    checkpoint.epoch = 2
    checkpoint.generatorState = [1, 2, 3, UInt64.max]
    let path = temporaryPath("checkpoint.h5")
    try checkpoint.write(to: path)

    let read = try Checkpoint.read(from: path)
    #expect(read.configuration == network.configuration)
    #expect(read.step == 17 && read.epoch == 2 && read.optimizerSteps == 1)
    #expect(read.generatorState == [1, 2, 3, UInt64.max])
    for (name, tensor) in network.parameters.entries {
      #expect(read.parameters[name]?.scalars == tensor.scalars, "\(name)")
    }
    for (name, tensor) in network.buffers.entries { #expect(read.buffers[name]?.scalars == tensor.scalars, "\(name)") }
    #expect(read.optimizerState.names.sorted() == adam.state.names.sorted())
    for (name, tensor) in adam.state.entries {
      #expect(read.optimizerState[name]?.scalars == tensor.scalars, "\(name)")
    }

    let fresh = try Network<Float>(network.configuration, seed: 99)
    try read.load(into: fresh, file: path)
    #expect(
      fresh.parameters["logit_linear_layer.weight"]!.scalars == network.parameters["logit_linear_layer.weight"]!.scalars
    )
  }

  @Test func anotherArchitectureIsRefusedByName() throws {
    let path = temporaryPath("vgg08.h5")
    try Checkpoint(model: try Network<Float>(.preset(.vgg08))).write(to: path)
    let other = try Network<Float>(.preset(.vgg38))
    #expect {
      try Checkpoint.read(from: path).load(into: other, file: path)
    } throws: { error in
      "\(error)".contains(path) && "\(error)".contains("vgg08") && "\(error)".contains("vgg38")
    }
  }

  @Test func notACheckpointIsAClearError() throws {
    let text = temporaryPath("notes.h5")
    try "hello".write(toFile: text, atomically: true, encoding: .utf8)
    #expect { try Checkpoint.read(from: text) } throws: {
      "\($0)".contains(text) && "\($0)".contains("not an HDF5 file")
    }

    let foreign = temporaryPath("foreign.h5")
    let file = try HDF5File(creating: foreign)
    try file.write([Float](repeating: 1, count: 4), shape: [4], to: "/data")
    try file.close()
    #expect { try Checkpoint.read(from: foreign) } throws: { "\($0)".contains("not a gradtrace checkpoint") }

    #expect { try Checkpoint.read(from: temporaryPath("missing.h5")) } throws: { "\($0)".contains("no such file") }
  }

  @Test func wrongShapeNamesThePath() throws {
    let path = temporaryPath("bad.h5")
    var checkpoint = Checkpoint(model: try Network<Float>(.preset(.vgg08)))
    var parameters = NamedTensors<Float>()
    for (name, tensor) in checkpoint.parameters.entries {
      parameters.append(name == "logit_linear_layer.bias" ? Tensor(zeros: [7]) : tensor, named: name)
    }
    checkpoint.parameters = parameters
    try checkpoint.write(to: path)
    #expect { try Checkpoint.read(from: path) } throws: {
      "\($0)".contains("/parameters/logit_linear_layer.bias") && "\($0)".contains("[7]") && "\($0)".contains("[100]")
    }
  }
}
