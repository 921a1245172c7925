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
///                          optimizer_steps, rng_state (JSON), config (JSON), model (JSON),
///                          history (JSON), attributes_checksum
///
/// Verified (format version 2): the file opens with a 512-byte user block (which HDF5, h5py and
/// PyTorch loaders skip) holding `gradtrace-checkpoint fnv1a64 <hex> <bytes>`, a checksum of
/// every byte after it, checked before HDF5 parses anything, so a damaged file is refused
/// without ever reaching HDF5's parser (which can crash on damaged metadata). Inside, every
/// dataset is one Fletcher-32-checksummed chunk, the metadata is HDF5's newest (checksummed)
/// format, and `attributes_checksum` covers the attributes' text. Version 1 files (no
/// checksums) still load; `isVerified` is then false.
///
/// Enough to resume a run and to load the same weights into PyTorch with a few lines of h5py
/// (`scripts/torch_reference.py` does).
public struct Checkpoint {
  public static let format = "gradtrace-checkpoint"
  public static let formatVersion: Int64 = 2

  public var configuration: NetworkConfiguration
  /// The compiled description of `configuration`.
  public let model: Model
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
  /// Where a mid-epoch checkpoint stopped (JSON, the trainer's; "{}" when not recorded).
  public var progress = "{}"
  /// Whether reading verified checksums (false for files written before version 2).
  public private(set) var isVerified = true

  /// A checkpoint of a model's current weights and buffers.
  public init(model network: Network<Float>) {
    configuration = network.configuration
    model = network.model
    parameters = network.parameters
    buffers = network.buffers
  }

  /// Writes the checkpoint, replacing any file at `path`: written beside it (`path.partial`) and
  /// renamed, so a crash mid-write never leaves a half checkpoint under the real name.
  public func write(to path: String) throws(CheckpointError) {
    let temporary = path + ".partial"
    do {
      try HDF5File.checkCreatable(path)
      let file = try HDF5File(creating: temporary, checksummedMetadata: true, userBlock: Self.sealSize)
      for (name, value) in textAttributes { try file.setAttribute(name, value) }
      try file.setAttribute("format_version", Self.formatVersion)
      try file.setAttribute("step", Int64(step))
      try file.setAttribute("epoch", Int64(epoch))
      try file.setAttribute("optimizer_steps", Int64(optimizerSteps))
      try file.setAttribute("attributes_checksum", attributesChecksum)
      for (group, tensors) in [("parameters", parameters), ("buffers", buffers), ("optimizer", optimizerState)] {
        try file.createGroup("/\(group)")
        for (name, tensor) in tensors.entries {
          try file.write(tensor.scalars, shape: tensor.shape, to: "/\(group)/\(name)", checksum: true)
        }
      }
      try file.close()
    } catch {
      try? FileManager.default.removeItem(atPath: temporary)
      throw CheckpointError(file: path, message: error.descriptionWithoutFile)
    }
    try Self.seal(temporary, as: path)
    guard rename(temporary, path) == 0 else {
      throw CheckpointError(file: path, message: "cannot move \(temporary) into place (errno \(errno))")
    }
  }

  /// The user block that holds the whole-file checksum.
  static let sealSize = 512
  static let sealMagic = "gradtrace-checkpoint fnv1a64 "

  /// FNV-1a (64 bit) of `bytes`.
  static func fnv1a(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes {
      hash ^= UInt64(byte)
      hash = hash &* 0x100_0000_01b3
    }
    return hash
  }

  /// Writes the checksum of everything after the user block into the user block.
  static func seal(_ temporary: String, as path: String) throws(CheckpointError) {
    guard var data = FileManager.default.contents(atPath: temporary), data.count > sealSize else {
      throw CheckpointError(file: path, message: "cannot read back \(temporary) to checksum it")
    }
    let hash = data.withUnsafeBytes { fnv1a(UnsafeRawBufferPointer(rebasing: $0[sealSize...])) }
    let header = Array("\(sealMagic)\(String(hash, radix: 16)) \(data.count - sealSize)\n".utf8)
    data.replaceSubrange(0..<header.count, with: header)
    do {
      try data.write(to: URL(fileURLWithPath: temporary))
    } catch {
      throw CheckpointError(file: path, message: "cannot write \(temporary): \(error.localizedDescription)")
    }
  }

  /// Checks the whole-file checksum before HDF5 reads the file. - Returns: false for a file
  /// without one (written before version 2). - Throws: when the checksum does not match.
  static func verifySeal(_ path: String) throws(CheckpointError) -> Bool {
    guard let data = FileManager.default.contents(atPath: path) else { return false }
    guard data.count > sealSize, data.starts(with: Array(sealMagic.utf8)) else { return false }
    let header = String(decoding: data.prefix(sealSize).prefix { $0 != 0x0A }, as: UTF8.self)
    let fields = header.dropFirst(sealMagic.count).split(separator: " ")
    guard fields.count == 2, let expected = UInt64(fields[0], radix: 16), let length = Int(fields[1]) else {
      throw CheckpointError(file: path, message: "its checksum header is damaged")
    }
    guard length == data.count - sealSize else {
      throw CheckpointError(
        file: path,
        message: "holds \(data.count - sealSize) bytes after its header, \(length) were written: truncated or damaged")
    }
    let actual = data.withUnsafeBytes { fnv1a(UnsafeRawBufferPointer(rebasing: $0[sealSize...])) }
    guard actual == expected else {
      throw CheckpointError(file: path, message: "does not match its checksum: the file is damaged")
    }
    return true
  }

  /// The string attributes, in the order the checksum reads them.
  var textAttributes: [(String, String)] {
    [
      ("format", Self.format), ("rng_state", jsonText(generatorState.map(String.init))),
      ("config", runConfiguration), ("history", history), ("progress", progress),
      ("model", ModelDescription(configuration: configuration, model: model).json),
    ]
  }

  /// FNV-1a (64 bit) over the attributes' text and numbers, in hex.
  var attributesChecksum: String {
    Self.checksum(
      texts: textAttributes.map(\.1), numbers: [Self.formatVersion, Int64(step), Int64(epoch), Int64(optimizerSteps)])
  }

  /// FNV-1a over each text followed by a NUL, in hex.
  static func checksum(texts: [String], numbers: [Int64]) -> String {
    let bytes: [UInt8] = (texts + numbers.map(String.init)).flatMap { (text: String) -> [UInt8] in
      Array(text.utf8) + [0]
    }
    return String(bytes.withUnsafeBytes { fnv1a($0) }, radix: 16)
  }

  /// Reads a checkpoint written by `write(to:)`.
  /// - Throws: `CheckpointError` naming the file and what is wrong with it.
  public static func read(from path: String) throws(CheckpointError) -> Checkpoint {
    let sealed = try verifySeal(path)
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
      guard let configuration = try? ConfigurationDecoding.network(inModelDescription: model) else {
        throw CheckpointError(file: path, message: "attribute 'model' on / is not a gradtrace model description")
      }
      let network = try Network<Float>(configuration)
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
      checkpoint.isVerified = sealed
      if version >= 2 && !sealed {
        throw CheckpointError(file: path, message: "its checksum header is missing or damaged")
      }
      checkpoint.epoch = Int(try file.attribute("epoch", as: Int64.self))
      checkpoint.optimizerSteps = Int(try file.attribute("optimizer_steps", as: Int64.self))
      checkpoint.runConfiguration = try file.stringAttribute("config")
      if file.hasAttribute("history") { checkpoint.history = try file.stringAttribute("history") }
      if file.hasAttribute("progress") { checkpoint.progress = try file.stringAttribute("progress") }
      if let data = try file.stringAttribute("rng_state").data(using: .utf8),
        let words = try? JSONDecoder().decode([String].self, from: data)
      {
        checkpoint.generatorState = words.compactMap(UInt64.init)
      }
      if version >= 2 {
        // The text as stored, not as decoded: a damaged byte that still decodes is caught too.
        let stored = try checkpoint.textAttributes.map { name, _ in try file.stringAttribute(name) }
        let expected = Self.checksum(
          texts: stored,
          numbers: [version, Int64(checkpoint.step), Int64(checkpoint.epoch), Int64(checkpoint.optimizerSteps)])
        guard file.hasAttribute("attributes_checksum"), try file.stringAttribute("attributes_checksum") == expected
        else {
          throw CheckpointError(
            file: path, message: "its attributes on / do not match their checksum (the file is damaged)")
        }
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
  public func load(into network: Network<Float>, file: String) throws(CheckpointError) {
    guard network.configuration == configuration else {
      throw CheckpointError(
        file: file,
        message:
          "holds a \(configuration.shortName) (\(configuration.json)), not the requested \(network.configuration.shortName) (\(network.configuration.json))"
      )
    }
    network.parameters = parameters
    network.buffers = buffers
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
