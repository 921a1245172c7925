import Foundation
import Networks
import TensorCore
import TraceIO

/// A snapshot of a run in HDF5 (the layout in docs/design.md):
///
///     /parameters/<name>   float32, PyTorch shapes (conv OIHW, linear [out, in])
///     /buffers/<name>      BatchNorm running_mean and running_var
///     /optimizer/<state>   optimizer tensors (exp_avg/<name>, exp_avg_sq/<name>, …)
///     /  attrs             format = "gradtrace-checkpoint", format_version, step, epoch,
///                          optimizer_steps, rng_state (JSON), config (JSON), model (JSON)
///
/// Enough to resume a run and to load the same weights into PyTorch with a few lines of h5py
/// (`scripts/torch_reference.py` does).
public struct Checkpoint {
  public static let format = "gradtrace-checkpoint"
  public static let formatVersion: Int64 = 1

  public var configuration: VGGConfiguration
  public var parameters: NamedTensors<Float>
  public var buffers: NamedTensors<Float>
  public var optimizerState = NamedTensors<Float>()
  /// Optimizer steps taken (Adam's bias correction depends on it).
  public var optimizerSteps = 0
  /// Steps and epochs completed.
  public var step = 0
  public var epoch = 0
  /// The run's configuration as JSON (the same text a trace's `config` attribute holds).
  public var runConfiguration = "{}"
  /// The random generator's state, to resume the same data order and augmentation.
  public var generatorState: [UInt64] = []
  /// The run's history so far as JSON (per-epoch records), for resuming.
  public var history = "[]"

  /// A checkpoint of a model's current weights and buffers.
  public init(model: VGG<Float>) {
    configuration = model.configuration
    parameters = model.parameters
    buffers = model.buffers
  }

  /// Writes the checkpoint, replacing any file at `path`.
  public func write(to path: String) throws(HDF5Error) {
    let file = try HDF5File(creating: path)
    try file.setAttribute("format", Self.format)
    try file.setAttribute("format_version", Self.formatVersion)
    try file.setAttribute("step", Int64(step))
    try file.setAttribute("epoch", Int64(epoch))
    try file.setAttribute("optimizer_steps", Int64(optimizerSteps))
    try file.setAttribute("rng_state", jsonText(generatorState.map(String.init)))
    try file.setAttribute("config", runConfiguration)
    try file.setAttribute("history", history)
    try file.setAttribute("model", ModelDescription(configuration: configuration).json)
    for (group, tensors) in [("parameters", parameters), ("buffers", buffers), ("optimizer", optimizerState)] {
      try file.createGroup("/\(group)")
      for (name, tensor) in tensors.entries {
        try file.write(tensor.scalars, shape: tensor.shape, to: "/\(group)/\(name)")
      }
    }
    try file.close()
  }

  /// Reads a checkpoint written by `write(to:)`.
  /// - Throws: `CheckpointError` naming the file and what is wrong with it.
  public static func read(from path: String) throws(CheckpointError) -> Checkpoint {
    do {
      let file = try HDF5File(reading: path)
      guard file.hasAttribute("format"), try file.stringAttribute("format") == format else {
        throw CheckpointError(
          file: path, message: "not a gradtrace checkpoint (no format = \"\(format)\" attribute on /)")
      }
      let version = try file.attribute("format_version", as: Int64.self)
      guard version <= formatVersion else {
        throw CheckpointError(
          file: path, message: "format_version \(version) is newer than this gradtrace reads (\(formatVersion))")
      }
      let model = try file.stringAttribute("model")
      guard let data = model.data(using: .utf8),
        let description = try? JSONDecoder().decode(ModelDescription.self, from: data)
      else {
        throw CheckpointError(file: path, message: "attribute 'model' on / is not a gradtrace model description")
      }
      let network = try VGG<Float>(description.configuration)
      var checkpoint = Checkpoint(model: network)
      checkpoint.parameters = try readTensors(file, group: "parameters", like: network.parameters)
      checkpoint.buffers = try readTensors(file, group: "buffers", like: network.buffers)
      if file.exists("/optimizer") {
        for name in try leafNames(file, "/optimizer") {
          let (values, shape) = try file.read(Float.self, from: "/optimizer/\(name)")
          checkpoint.optimizerState.append(Tensor(shape: shape, scalars: values), named: name)
        }
      }
      checkpoint.step = Int(try file.attribute("step", as: Int64.self))
      checkpoint.epoch = Int(try file.attribute("epoch", as: Int64.self))
      checkpoint.optimizerSteps = Int(try file.attribute("optimizer_steps", as: Int64.self))
      checkpoint.runConfiguration = try file.stringAttribute("config")
      if file.hasAttribute("history") { checkpoint.history = try file.stringAttribute("history") }
      if let data = try file.stringAttribute("rng_state").data(using: .utf8),
        let words = try? JSONDecoder().decode([String].self, from: data)
      {
        checkpoint.generatorState = words.compactMap(UInt64.init)
      }
      return checkpoint
    } catch let error as CheckpointError {
      throw error
    } catch let error as HDF5Error {
      // The HDF5 error names the file already; name it once.
      throw CheckpointError(file: path, message: error.descriptionWithoutFile)
    } catch let error as ConfigurationError {
      throw CheckpointError(file: path, message: "its model cannot be built: \(error.message)")
    } catch {
      throw CheckpointError(file: path, message: "\(error)")
    }
  }

  /// Copies the weights and buffers into `model`, which must have the same architecture.
  /// - Throws: `CheckpointError` when the architectures differ.
  public func load(into model: VGG<Float>, file: String) throws(CheckpointError) {
    guard model.configuration == configuration else {
      throw CheckpointError(
        file: file,
        message:
          "holds a \(configuration.shortName) (\(configuration)), not the requested \(model.configuration.shortName) (\(model.configuration))"
      )
    }
    model.parameters = parameters
    model.buffers = buffers
  }

  private static func readTensors(
    _ file: HDF5File, group: String, like expected: NamedTensors<Float>
  ) throws -> NamedTensors<Float> {
    var tensors = NamedTensors<Float>()
    for (name, tensor) in expected.entries {
      let objectPath = "/\(group)/\(name)"
      guard file.exists(objectPath) else {
        throw CheckpointError(file: file.path, message: "missing \(objectPath) (expected shape \(tensor.shape))")
      }
      let (values, shape) = try file.read(Float.self, from: objectPath)
      guard shape == tensor.shape else {
        throw CheckpointError(file: file.path, message: "\(objectPath) has shape \(shape), expected \(tensor.shape)")
      }
      tensors.append(Tensor(shape: shape, scalars: values), named: name)
    }
    return tensors
  }

  /// Dataset paths below `group`, relative to it (`exp_avg/input_conv.conv_0.weight`).
  private static func leafNames(_ file: HDF5File, _ group: String) throws -> [String] {
    var names: [String] = []
    for child in try file.children(of: group) {
      let path = "\(group)/\(child)"
      if let nested = try? file.children(of: path) {
        names += nested.map { "\(child)/\($0)" }
      } else {
        names.append(child)
      }
    }
    return names
  }
}

/// A checkpoint that cannot be read or does not fit, with the file it concerns.
public struct CheckpointError: Error, CustomStringConvertible, Sendable {
  public var file: String
  public var message: String
  public var description: String { "\(file): \(message)" }
}

private func jsonText<T: Encodable>(_ value: T) -> String {
  let encoder = JSONEncoder()
  encoder.outputFormatting = [.sortedKeys]
  return (try? encoder.encode(value)).flatMap { String(data: $0, encoding: .utf8) } ?? "null"
}
