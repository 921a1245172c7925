// Benchmarks of the engine: one training step (forward + backward + Adam) per model, batch 100,
// release build. Prints medians of repeated runs and images/s; figures go to BENCHMARKS.md
// with this command beside them:
//
//     swift run -c release gradtrace-benchmarks [--threads 2] [--repeats 7] [--batch 100]
//
// One model and pass at a time, with JSON: `gradtrace bench`.

import Analysis
import Autodiff
import Foundation
import TraceIO
import Networks
import TensorCore
import Training

struct Options {
  var threads = 2
  var repeats = 7
  var batch = 100
  var channels = 1
  var models = ["vgg08", "vgg38", "vgg38-bn", "vgg38-res", "vgg38-bn-res"]
  var hessian = false
  var analysis = false

  init(_ arguments: [String]) {
    var iterator = arguments.dropFirst().makeIterator()
    while let flag = iterator.next() {
      if flag == "--hvp" {
        hessian = true
        continue
      }
      if flag == "--analysis" {
        analysis = true
        continue
      }
      let value = iterator.next() ?? ""
      switch flag {
      case "--threads": threads = Int(value) ?? threads
      case "--repeats": repeats = Int(value) ?? repeats
      case "--batch": batch = Int(value) ?? batch
      case "--channels": channels = Int(value) ?? channels
      case "--models": models = value.split(separator: ",").map(String.init)
      default:
        FileHandle.standardError.write(Data("unknown option \(flag)\n".utf8))
        exit(64)
      }
    }
  }
}

func configuration(_ name: String, channels: Int) -> VGGConfiguration {
  let preset: VGGConfiguration.Preset = name.hasPrefix("vgg38") ? .vgg38 : .vgg08
  return .preset(
    preset, batchNorm: name.contains("-bn"), residual: name.contains("-res"),
    inputChannels: channels, classes: 10)
}

func median(_ values: [Double]) -> Double {
  let sorted = values.sorted()
  return sorted[sorted.count / 2]
}

let options = Options(CommandLine.arguments)
ComputeThreads.set(options.threads)

/// Peak resident memory of this process so far (VmHWM), in MB.
func peakResidentMegabytes() -> Double {
  guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return .nan }
  for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
    let kilobytes = line.split(separator: " ").compactMap { Double($0) }.first ?? .nan
    return kilobytes / 1024
  }
  return .nan
}

if options.analysis {
  // `gradtrace analyze` on a synthetic trace of 200,000 steps × 80 layers (issue 6).
  let path = FileManager.default.temporaryDirectory.appendingPathComponent("analysis-benchmark.h5").path
  let layers = 80
  let layout = TraceLayout(
    layerNames: (0..<layers).map { "layer_\($0)" }, layerKinds: Array(repeating: "conv", count: layers),
    layerParameters: Array(repeating: 9216, count: layers), activationNames: nil, recordsCurvature: false)
  let writer = try TraceWriter(
    path: path, configuration: "{}", model: "{}", toolVersion: "bench", layout: layout, flushEvery: 10_000)
  let writeStart = DispatchTime.now().uptimeNanoseconds
  // Every per-step dataset: 2 for the scalars, 1e-4 … 8e-3 per layer.
  var row = TraceRow(.steps, at: 0)
  for dataset in TraceSchema.datasets(following: .steps).dropFirst() where layout.holds(dataset) {
    row[values: dataset] = dataset.width == .one ? [2] : (0..<layers).map { Double($0 + 1) * 1e-4 }
  }
  for step in 0..<200_000 {
    row.at = step
    row[.epoch] = Double(step / 2_000)
    try writer.append(row)
  }
  try writer.finish(status: "finished")
  let written = Double(DispatchTime.now().uptimeNanoseconds - writeStart) / 1e9
  var times: [Double] = []
  for _ in 0..<options.repeats {
    let start = DispatchTime.now().uptimeNanoseconds
    let result = try TraceAnalysis.analyze(path: path)
    precondition(result.steps == 200_000 && result.epochs == 100)
    times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
  }
  let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
  print(String(format: "trace 200,000 steps × 80 layers: %.0f MB, written in %.1f s", Double(size) / 1e6, written))
  print(
    String(
      format: "analyze: median %.2f s over %d runs; peak RSS %.0f MB", median(times), times.count,
      peakResidentMegabytes()))
  try? FileManager.default.removeItem(atPath: path)
  exit(0)
}

/// The model `name`, freshly initialised, and one batch of normal noise with labels.
func setUp(_ name: String) throws -> (Network<Float>, Tensor<Float>, [Int]) {
  let network = try Network<Float>(configuration(name, channels: options.channels), seed: 0)
  var generator = SeededGenerator(seed: 1)
  let images = Tensor<Float>(
    shape: [options.batch, options.channels, 32, 32],
    scalars: (0..<(options.batch * options.channels * 1024)).map { _ in Float(generator.nextNormal()) })
  return (network, images, (0..<options.batch).map { $0 % 10 })
}

if options.hessian {
  // One gradient (loss and g), one forward pass (loss only, as the actual change f(w + d)
  // needs), one Taylor-mode pass (loss, gᵀv, vᵀHv) and one HVP (loss, g and H·v together),
  // same model and batch. A first round in that order reads the peak memory after each kind;
  // then the four run interleaved, so that machine noise hits all alike, and the ratios are
  // medians of each round's own ratios.
  print(
    "HVP cost: batch \(options.batch), \(options.channels)×32×32, \(options.threads) threads, median of \(options.repeats)"
  )
  print(
    "model          gradient (ms)  forward (ms)  vᵀHv jets (ms)  HVP (ms)  jets/gradient  HVP/gradient"
      + "  peak RSS (MB): gradient  jets  HVP")
  func milliseconds(_ body: () -> Void) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
  }
  for name in options.models {
    let (network, images, labels) = try setUp(name)
    var generator = SeededGenerator(seed: 2)
    var direction = NamedTensors<Float>()
    for (parameter, tensor) in network.parameters.entries {
      direction.append(tensor.mapped { _ in Float(generator.nextNormal()) }, named: parameter)
    }
    let passes: [() -> Void] = [
      { _ = network.gradients(images: images, labels: labels, updateRunningStatistics: false) },
      { _ = network.evaluate(images: images, labels: labels, mode: .training) },
      { _ = network.curvature(images: images, labels: labels, along: direction) },
      { _ = network.hessianVectorProduct(images: images, labels: labels, direction: direction) },
    ]
    var peaks: [Double] = []
    for pass in passes {
      pass()
      peaks.append(peakResidentMegabytes())
    }
    var times: [[Double]] = []
    for _ in 0..<options.repeats { times.append(passes.map { milliseconds($0) }) }
    let column = { (i: Int) in median(times.map { $0[i] }) }
    let ratio = { (i: Int) in median(times.map { $0[i] / $0[0] }) }
    print(
      name.padding(toLength: 14, withPad: " ", startingAt: 0)
        + String(
          format: " %13.1f  %12.1f  %14.1f  %8.1f  %13.2f  %12.2f  %24.0f  %4.0f  %4.0f", column(0), column(1),
          column(2), column(3), ratio(2), ratio(3), peaks[0], peaks[2], peaks[3]))
  }
  exit(0)
}
print(
  "gradtrace engine benchmark: batch \(options.batch), \(options.channels)×32×32, \(options.threads) threads, median of \(options.repeats)"
)
print("model          step (ms)  forward (ms)  images/s")
// The same measurement as `gradtrace bench --pass step` and `--pass forward`.
for name in options.models {
  var benchmark = EngineBenchmark(configuration: .vgg(configuration(name, channels: options.channels)))
  benchmark.batchSize = options.batch
  benchmark.repeats = options.repeats
  let step = try benchmark.run(.step)
  let forward = try benchmark.run(.forward)
  print(
    name.padding(toLength: 14, withPad: " ", startingAt: 0)
      + String(
        format: " %9.1f  %12.1f  %8.1f", step.medianMilliseconds, forward.medianMilliseconds, step.imagesPerSecond))
}
