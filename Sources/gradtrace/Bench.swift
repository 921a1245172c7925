import ArgumentParser
import DataParallel
import Foundation
import Networks
import TensorCore
import Training

extension EngineBenchmark.Pass: ExpressibleByArgument {}

struct Bench: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Time the engine: a step, gradient, H·v, jets, forward or spectrum.",
    discussion: """
      Builds the model (freshly initialised, seed 0), draws one batch of normal noise,
      runs the pass once to warm up and then --repeats times, and prints the median,
      fastest and slowest time and images per second. GFLOP/s counts the
      convolutions' and the linear layer's FLOPs in real arithmetic (a step or a
      gradient does three times the forward pass's); for hvp and jets, whose
      arithmetic is on Dual and Jet numbers, it is not given. spectrum times one
      spectrum of train --spectrum-every's defaults (150 H·v; its warm-up is one
      H·v): compare it with step to price a --spectrum-every schedule. Use a release
      build on an otherwise idle machine and compare medians.

      Examples:
        gradtrace bench --model vgg38 --batchnorm --residual --threads 2
        gradtrace bench --model vgg08 --pass hvp --repeats 5 --json
        gradtrace bench --model densenet --batchnorm --profile
        gradtrace bench --model vgg38 --batchnorm --pass spectrum --repeats 1
      """)

  @OptionGroup var modelOptions: ModelOptions

  @Option(help: "What to time: step, gradient, hvp, jets, forward, spectrum.") var pass: EngineBenchmark.Pass = .step
  @Option(parsing: .unconditional, help: "Images per batch.") var batchSize = 100
  @Option(parsing: .unconditional, help: "Worker threads.") var threads = 2
  @Option(parsing: .unconditional, help: "Timed passes after the warm-up.") var repeats = 7
  @Flag(
    help:
      "Also show where the time goes: each kind of work (every convolution geometry with its GFLOP/s, BatchNorm, activation, optimizer, …; a fused chain such as BatchNorm+activation is one kind) and their groups."
  ) var profile = false
  @Flag(help: "Print JSON (images_per_second, median_ms, min_ms, max_ms, gflops, profile, …).") var json = false
  @Flag(
    help: ArgumentHelp(
      "Under mpirun -np R: time the sum over the ranks (gradtrace's all-reduce) from 8 B to 16 MB of Float.",
      discussion:
        "The latency and bandwidth the scaling model of BENCHMARKS.md starts from; the model's options are ignored."))
  var exchange = false

  func validate() throws {
    guard batchSize >= 2 else {
      throw ValidationError("--batch-size must be at least 2 (BatchNorm needs a batch), got \(batchSize)")
    }
    guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
    guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1, got \(repeats)") }
    _ = try modelOptions.configuration(for: nil, source: "")
  }

  func run() throws {
    ComputeThreads.set(threads)
    if exchange { return try benchmarkExchange() }
    var benchmark = EngineBenchmark(configuration: try modelOptions.configuration(for: nil, source: ""))
    benchmark.batchSize = batchSize
    benchmark.repeats = repeats
    benchmark.profile = profile
    let result = try benchmark.run(pass)
    if json {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      print(String(decoding: try encoder.encode(result), as: UTF8.self))
      return
    }
    let c = benchmark.configuration
    print(
      "\(result.model) \(result.pass): batch \(batchSize) of \(c.inputShapeDescription), \(c.classes) classes, \(threads) threads, \(repeats) repeats after a warm-up"
    )
    print(
      String(
        format: "median %.1f ms (min %.1f, max %.1f), %.1f images/s", result.medianMilliseconds,
        result.minimumMilliseconds, result.maximumMilliseconds, result.imagesPerSecond)
        + (result.gflops.map { String(format: ", %.1f GFLOP/s", $0) } ?? ""))
    if let rows = result.profile { printProfile(rows) }
  }

  /// The profile as a table (kinds, largest first) and a line per group.
  private func printProfile(_ rows: [EngineBenchmark.ProfileRow]) {
    print("\nwhere a pass's time goes (own time of each kind, per pass):")
    print("  " + "kind".padding(toLength: 44, withPad: " ", startingAt: 0) + "      ms   share  calls  GFLOP/s")
    for row in rows {
      print(
        "  " + row.kind.padding(toLength: 44, withPad: " ", startingAt: 0)
          + String(format: " %7.1f  %5.1f%%  %5.0f", row.milliseconds, 100 * row.share, row.calls)
          + (row.gflops.map { String(format: "  %7.1f", $0) } ?? ""))
    }
    var groups: [String: Double] = [:]
    for row in rows { groups[row.group, default: 0] += row.share }
    let order = ["convolution", "BatchNorm", "activation", "optimizer", "other"]
    print("by group: " + order.map { String(format: "%@ %.1f%%", $0, 100 * (groups[$0] ?? 0)) }.joined(separator: ", "))
  }
}

extension Bench {
  /// `--exchange`: the median time of `MPICollective.sum` on Float buffers of growing size,
  /// rank 0 printing one line per size (bytes, microseconds, the bus bandwidth 2(R−1)/R·S/t).
  func benchmarkExchange() throws {
    guard let collective = try joinLaunchedRanks() else {
      throw ValidationError("--exchange times the sum over the ranks: run it under mpirun -np R (R ≥ 2)")
    }
    if collective.rank == 0 { print("bytes,median_us,bus_gbytes_per_second,ranks") }
    var bytes = 8
    while bytes <= 16 << 20 {
      var values = [Float](repeating: 1, count: bytes / 4)
      var times: [Double] = []
      for _ in 0..<max(3, min(repeats * 4, (64 << 20) / bytes)) {
        let started = DispatchTime.now().uptimeNanoseconds
        values.withUnsafeMutableBufferPointer { collective.sum($0) }
        times.append(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e3)
      }
      let median = times.sorted()[times.count / 2]
      let bus = 2 * Double(collective.size - 1) / Double(collective.size) * Double(bytes) / (median * 1e3)
      if collective.rank == 0 {
        print("\(bytes),\(String(format: "%.1f", median)),\(String(format: "%.3f", bus)),\(collective.size)")
      }
      bytes *= 4
    }
    collective.finalize()
  }
}
