// Benchmarks of the engine: one training step (forward + backward + Adam) per model, batch 100,
// release build. Prints medians of repeated runs and images/s; figures go to BENCHMARKS.md
// with this command beside them:
//
//     swift run -c release gradtrace-benchmarks [--threads 2] [--repeats 7] [--batch 100]

import Autodiff
import Foundation
import Networks
import TensorCore

struct Options {
  var threads = 2
  var repeats = 7
  var batch = 100
  var channels = 1
  var models = ["vgg08", "vgg38", "vgg38-bn", "vgg38-res", "vgg38-bn-res"]
  var hessian = false

  init(_ arguments: [String]) {
    var iterator = arguments.dropFirst().makeIterator()
    while let flag = iterator.next() {
      if flag == "--hvp" {
        hessian = true
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

/// The model `name`, freshly initialised, and one batch of normal noise with labels.
func setUp(_ name: String) throws -> (VGG<Float>, Tensor<Float>, [Int]) {
  let network = try VGG<Float>(configuration(name, channels: options.channels), seed: 0)
  var generator = SeededGenerator(seed: 1)
  let images = Tensor<Float>(
    shape: [options.batch, options.channels, 32, 32],
    scalars: (0..<(options.batch * options.channels * 1024)).map { _ in Float(generator.nextNormal()) })
  return (network, images, (0..<options.batch).map { $0 % 10 })
}

if options.hessian {
  // One HVP (loss, g and H·v together) against one gradient (loss and g), same model, batch
  // and run; the HVP runs last so the peak-memory reading covers it.
  print(
    "HVP cost: batch \(options.batch), \(options.channels)×32×32, \(options.threads) threads, median of \(options.repeats)"
  )
  print("model          gradient (ms)  HVP (ms)  ratio  peak RSS after gradients (MB)  after HVPs (MB)")
  for name in options.models {
    let (network, images, labels) = try setUp(name)
    var generator = SeededGenerator(seed: 2)
    var direction = NamedTensors<Float>()
    for (parameter, tensor) in network.parameters.entries {
      direction.append(tensor.mapped { _ in Float(generator.nextNormal()) }, named: parameter)
    }
    var gradientTimes: [Double] = []
    for _ in 0...options.repeats {
      let start = DispatchTime.now().uptimeNanoseconds
      _ = network.gradients(images: images, labels: labels, updateRunningStatistics: false)
      gradientTimes.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    }
    let gradientPeak = peakResidentMegabytes()
    var productTimes: [Double] = []
    for _ in 0...options.repeats {
      let start = DispatchTime.now().uptimeNanoseconds
      _ = network.hessianVectorProduct(images: images, labels: labels, direction: direction)
      productTimes.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    }
    let (g, h) = (median(Array(gradientTimes.dropFirst())), median(Array(productTimes.dropFirst())))
    print(
      name.padding(toLength: 14, withPad: " ", startingAt: 0)
        + String(format: " %13.1f  %8.1f  %5.2f  %29.0f  %15.0f", g, h, h / g, gradientPeak, peakResidentMegabytes()))
  }
  exit(0)
}
print(
  "gradtrace engine benchmark: batch \(options.batch), \(options.channels)×32×32, \(options.threads) threads, median of \(options.repeats)"
)
print("model          step (ms)  forward (ms)  images/s")
for name in options.models {
  let (network, images, labels) = try setUp(name)
  var adam = Adam<Float>()
  var steps: [Double] = []
  var forwards: [Double] = []
  for repeatIndex in 0...options.repeats {
    // Forward alone (the tape is released before the step, as in training).
    let start = DispatchTime.now().uptimeNanoseconds
    do {
      let tape = Tape<Float>()
      _ = network.loss(images: images, labels: labels, on: tape, mode: .training)
    }
    let forwardEnd = DispatchTime.now().uptimeNanoseconds
    // One training step: forward, backward, Adam.
    let result = network.gradients(images: images, labels: labels)
    adam.step(&network.parameters, gradients: result.gradients, learningRate: 1e-3)
    let end = DispatchTime.now().uptimeNanoseconds
    if repeatIndex == 0 { continue }  // warm-up
    forwards.append(Double(forwardEnd - start) / 1e6)
    steps.append(Double(end - forwardEnd) / 1e6)
  }
  let step = median(steps)
  print(
    name.padding(toLength: 14, withPad: " ", startingAt: 0)
      + String(format: " %9.1f  %12.1f  %8.1f", step, median(forwards), Double(options.batch) / step * 1000))
}
