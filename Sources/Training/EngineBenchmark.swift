import Autodiff
import Curvature
import Dispatch
import Networks
import TensorCore

/// Times one kind of pass of the engine on a freshly initialised network and a batch of
/// normal noise: what `gradtrace bench` prints. The first pass is a warm-up; the figures are
/// over the `repeats` after it.
public struct EngineBenchmark: Sendable {
  /// What is timed.
  public enum Pass: String, CaseIterable, Sendable {
    /// A training step: forward, backward and an Adam update.
    case step
    /// Forward and backward: the loss and its gradient.
    case gradient
    /// A Hessian-vector product (forward over reverse, Dual scalars).
    case hvp
    /// vᵀHv by one forward pass on second-order jets (Taylor mode).
    case jets
    /// The loss alone, activations released as they go.
    case forward
    /// One Hessian spectrum of the defaults (`SpectrumOptions`: the Lanczos eigenvalue run, the
    /// density's other probes and Adam's preconditioned run, 150 H·v), after one Adam step; the
    /// warm-up is one H·v.
    case spectrum
  }

  /// What one benchmark measured.
  public struct Result: Codable, Sendable {
    public var model: String
    public var pass: String
    public var batchSize: Int
    public var threads: Int
    public var repeats: Int
    public var imagesPerSecond: Double
    public var medianMilliseconds: Double
    public var minimumMilliseconds: Double
    public var maximumMilliseconds: Double
    /// Convolution and linear FLOPs of the pass in real arithmetic ÷ the median time: forward
    /// 1×, gradient and step 3× the forward pass's FLOPs (forward, data and weight gradients).
    /// nil for hvp and jets, whose arithmetic is on Dual and Jet numbers.
    public var gflops: Double?
    /// Where the timed passes spent their time, by kind (`profile` set), largest first.
    public var profile: [ProfileRow]?

    enum CodingKeys: String, CodingKey {
      case model, pass, threads, repeats, gflops, profile
      case batchSize = "batch_size"
      case imagesPerSecond = "images_per_second"
      case medianMilliseconds = "median_ms"
      case minimumMilliseconds = "min_ms"
      case maximumMilliseconds = "max_ms"
    }
  }

  /// One kind of work in a profile, per pass (averaged over the timed passes).
  public struct ProfileRow: Codable, Sendable, Equatable {
    /// The kind: `convolution 3×3/1 32×32 forward`, `BatchNorm backward`, `optimizer`, `other`
    /// (what no measurement covered: the loss, gradient bookkeeping, allocation).
    public var kind: String
    public var milliseconds: Double
    /// The fraction of the pass's time.
    public var share: Double
    /// Measurements per pass.
    public var calls: Double
    /// For convolutions: their FLOPs ÷ their time.
    public var gflops: Double?

    /// The group the kind belongs to: convolution, BatchNorm, activation, optimizer or other.
    public var group: String {
      for group in ["convolution", "BatchNorm", "activation", "optimizer"] where kind.hasPrefix(group) {
        return group
      }
      return "other"
    }
  }

  public var configuration: NetworkConfiguration
  public var batchSize = 100
  public var repeats = 7
  /// Also measure where the time goes (`KernelProfile`); costs well under 1% of a pass.
  public var profile = false

  public init(configuration: NetworkConfiguration) { self.configuration = configuration }

  /// FLOPs of one forward pass over the batch: 2 per multiply-add of every convolution
  /// (weights × output pixels) and of the linear layer.
  public static func forwardFLOPs(_ network: Network<Float>, batchSize: Int) -> Double {
    let outputs = Dictionary(network.layers().map { ($0.name, $0.outputShape) }, uniquingKeysWith: { a, _ in a })
    var flops = 0.0
    for specification in network.specifications where specification.name.hasSuffix(".weight") {
      let layer = String(specification.name.dropLast(".weight".count))
      guard let shape = outputs[layer], specification.shape.count == 4 || specification.shape.count == 2 else {
        continue
      }
      let pixels = shape.count == 4 ? shape[2] * shape[3] : 1
      flops += 2 * Double(specification.shape.reduce(1, *)) * Double(pixels * batchSize)
    }
    return flops
  }

  /// Runs `pass` 1 + `repeats` times. - Throws: `ConfigurationError` for a model that cannot be built.
  public func run(_ pass: Pass) throws(ConfigurationError) -> Result {
    let network = try Network<Float>(configuration, seed: 0)
    let c = configuration
    var generator = SeededGenerator(seed: 1)
    let count = batchSize * c.inputShape.reduce(1, *)
    let images = Tensor<Float>(
      shape: [batchSize] + c.inputShape,
      scalars: (0..<count).map { _ in Float(generator.nextNormal()) })
    let labels = (0..<batchSize).map { $0 % c.classes }
    var direction = NamedTensors<Float>()
    for (name, tensor) in network.parameters.entries {
      direction.append(tensor.mapped { _ in Float(generator.nextNormal()) }, named: name)
    }
    var adam = Adam<Float>()
    let body: () -> Void
    switch pass {
    case .step:
      body = {
        let result = network.gradients(images: images, labels: labels)
        KernelProfile.measure("optimizer") {
          adam.step(&network.parameters, gradients: result.gradients, learningRate: 1e-3)
        }
      }
    case .gradient: body = { _ = network.gradients(images: images, labels: labels, updateRunningStatistics: false) }
    case .hvp: body = { _ = network.hessianVectorProduct(images: images, labels: labels, direction: direction) }
    case .jets: body = { _ = network.curvature(images: images, labels: labels, along: direction) }
    case .forward: body = { _ = network.evaluate(images: images, labels: labels, mode: .training) }
    case .spectrum:
      let gradients = network.gradients(images: images, labels: labels, updateRunningStatistics: false).gradients
      // Adam's second moment after one step from zero: v = (1 − β₂) g².
      let scaling = StabilityThreshold.adamScaling(
        secondMoment: gradients.filled { name, index in
          let g = gradients[name]!.scalars[index]
          return (1 - Float(adam.beta2)) * g * g
        }, steps: 1, beta2: adam.beta2, epsilon: adam.epsilon)
      let optimizer = CurvatureReport.OptimizerState.adam(
        learningRate: 1e-3, beta1: adam.beta1,
        scaling: Dictionary(uniqueKeysWithValues: scaling.names.map { ($0, scaling[$0]!.scalars.map(Double.init)) }))
      let probe = CurvatureProbe(network: network, images: images, labels: labels)
      body = {
        _ = SpectrumReport.measure(
          probe, gradient: gradients, update: nil, gradientCurvature: .nan, options: SpectrumOptions(),
          optimizer: optimizer, seed: 0)
      }
    }
    let warmUp =
      pass == .spectrum
      ? { _ = network.hessianVectorProduct(images: images, labels: labels, direction: direction) } : body
    var times: [Double] = []
    let kernels = KernelProfile()
    for index in 0...repeats {
      let start = DispatchTime.now().uptimeNanoseconds
      KernelProfile.$active.withValue(profile && index > 0 ? kernels : nil) { index == 0 ? warmUp() : body() }
      let milliseconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
      if index > 0 { times.append(milliseconds) }
    }
    let sorted = times.sorted()
    let median = sorted[sorted.count / 2]
    let multiple: Double? =
      switch pass {
      case .forward: 1
      case .gradient, .step: 3
      case .hvp, .jets, .spectrum: nil
      }
    return Result(
      model: c.shortName, pass: pass.rawValue, batchSize: batchSize, threads: ComputeThreads.count, repeats: repeats,
      imagesPerSecond: Double(batchSize) / median * 1000, medianMilliseconds: median,
      minimumMilliseconds: sorted.first!, maximumMilliseconds: sorted.last!,
      gflops: multiple.map { $0 * Self.forwardFLOPs(network, batchSize: batchSize) / (median * 1e6) },
      profile: profile ? Self.rows(kernels.entries, passes: repeats, totalMilliseconds: times.reduce(0, +)) : nil)
  }

  /// The profile's entries per pass, largest first, with `other` for the time none covered.
  static func rows(_ entries: [String: KernelProfile.Entry], passes: Int, totalMilliseconds: Double) -> [ProfileRow] {
    let perPass = totalMilliseconds / Double(passes)
    var rows = entries.map { kind, entry in
      ProfileRow(
        kind: kind, milliseconds: entry.seconds * 1000 / Double(passes),
        share: entry.seconds * 1000 / totalMilliseconds, calls: Double(entry.calls) / Double(passes),
        gflops: entry.flops > 0 ? entry.flops / entry.seconds / 1e9 : nil)
    }
    let covered = rows.reduce(0) { $0 + $1.milliseconds }
    rows.append(
      ProfileRow(
        kind: "other", milliseconds: max(0, perPass - covered), share: max(0, perPass - covered) / perPass, calls: 1))
    return rows.sorted { $0.milliseconds > $1.milliseconds }
  }
}
