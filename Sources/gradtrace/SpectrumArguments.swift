import ArgumentParser
import Curvature

/// How each spectrum is measured: the same options for `probe --spectrum` and
/// `train --spectrum-every`.
struct SpectrumArguments: ParsableArguments {
  @Option(parsing: .unconditional, help: "Lanczos steps (Hessian-vector products) per spectrum or density probe.")
  var spectrumSteps = SpectrumOptions().steps

  @Option(parsing: .unconditional, help: "How many of the largest (and smallest) eigenvalues to keep.")
  var spectrumTopK = SpectrumOptions().topK

  @Option(parsing: .unconditional, help: "Probes of the spectral density (the eigenvalue run is the first).")
  var spectrumProbes = SpectrumOptions().probes

  @Option(parsing: .unconditional, help: "Gaussian broadening σ of the density (default: 1% of its range).")
  var spectrumSigma: Double?

  func validate() throws {
    guard spectrumSteps >= 2, spectrumTopK >= 1, spectrumProbes >= 1, spectrumSigma.map({ $0 > 0 }) ?? true else {
      throw ValidationError(
        "--spectrum-steps must be at least 2, --spectrum-top-k and --spectrum-probes at least 1, --spectrum-sigma positive"
      )
    }
    guard spectrumTopK <= spectrumSteps else {
      throw ValidationError(
        "--spectrum-top-k \(spectrumTopK) asks for more eigenvalues than --spectrum-steps \(spectrumSteps) Lanczos steps give"
      )
    }
  }

  /// The first option given on the command line, if any (to refuse them where they do nothing).
  var firstGiven: String? {
    ["--spectrum-steps", "--spectrum-top-k", "--spectrum-probes", "--spectrum-sigma"].first {
      CommandLine.arguments.contains($0)
    }
  }

  var options: SpectrumOptions {
    var options = SpectrumOptions()
    options.steps = spectrumSteps
    options.topK = spectrumTopK
    options.probes = spectrumProbes
    options.sigma = spectrumSigma
    return options
  }
}
