import Foundation

extension TraceAnalysis {
  /// The report for people: outcome, verdict with evidence and hint, gradient flow per layer
  /// (the last epoch's mean and its last-step snapshot), the Taylor analysis.
  public var text: String {
    func number(_ x: Double?) -> String { x.map { $0.isNaN ? "-" : String(format: "%.3g", $0) } ?? "-" }
    func percent(_ x: Double?) -> String { x.map { String(format: "%.2f%%", $0 * 100) } ?? "-" }
    var lines = ["\(trace): \(run.model), \(steps) steps over \(epochs) epochs, status \(status)"]
    lines.append(
      "train accuracy final \(percent(finalTrainAccuracy)); valid accuracy final \(percent(finalValidAccuracy)), best \(percent(bestValidAccuracy)); test \(percent(testAccuracy))"
    )
    lines.append("")
    lines.append("verdict: \(verdict.uppercased())")
    for line in evidence { lines.append("  - \(line)") }
    lines.append("  hint: \(hint)")
    lines.append("")
    let width = max(5, layers.map(\.name.count).max() ?? 0)
    lines.append(
      "layer".padding(toLength: width, withPad: " ", startingAt: 0) + "  mean |g| (last epoch)  last step   first epoch"
    )
    for layer in layers {
      lines.append(
        layer.name.padding(toLength: width, withPad: " ", startingAt: 0)
          + "  " + number(layer.epochMean.last).padding(toLength: 22, withPad: " ", startingAt: 0)
          + number(layer.epochLastStep.last).padding(toLength: 12, withPad: " ", startingAt: 0)
          + number(layer.epochMean.first))
    }
    if let taylor {
      lines.append("")
      lines.append("Taylor: \(taylor.measurements) curvature measurements")
      lines.append("  correlation(second-order prediction, actual change) = \(number(taylor.correlation))")
      lines.append("  median |predicted − actual| / |actual| = \(percent(taylor.medianRelativeError))")
      lines.append(
        "  curvature term outweighs the first-order term at \(taylor.curvatureDominates) steps; negative curvature along d at \(taylor.negativeCurvature)"
      )
      lines.append("  α quantiles (10/50/90%): \(taylor.alphaQuantiles.map { number($0) }.joined(separator: " / "))")
      lines.append(
        "  ε/ε* quantiles (10/50/90%): \(taylor.stepRatioQuantiles.map { number($0) }.joined(separator: " / ")); ε > 2ε* (curvature term wins) at \(taylor.beyondTwiceOptimal) steps"
      )
    }
    if let spectrum {
      lines.append("")
      lines.append(
        "Spectrum: \(spectrum.measurements) measurements (Lanczos, BatchNorm in training mode), the last at step \(spectrum.lastStep)"
      )
      lines.append(
        "  λ_max \(number(spectrum.largest)), λ_min \(number(spectrum.smallest)); \(Self.outlierText(spectrum.outliers, of: spectrum.topK)); \(percent(spectrum.negativeMass)) of the density clearly below zero"
      )
      lines.append(
        "  share of ‖g‖² in the top eigenvectors' span: \(percent(spectrum.gradientOverlap)) (median over spectra \(percent(spectrum.medianGradientOverlap)))"
      )
      lines.append("  edge of stability: \(spectrum.statement)")
      if spectrum.directionalCompared > 0 {
        lines.append(
          "  gᵀHg/gᵀg at or above the threshold at \(spectrum.gradientCurvatureAtEdge) of \(spectrum.directionalCompared) curvature measurements, dᵀHd/dᵀd at \(spectrum.updateCurvatureAtEdge)"
        )
      }
    }
    if let histograms {
      lines.append("")
      lines.append("Histograms: \(histograms.rows) rows, the last at step \(histograms.lastStep)")
      let medians = histograms.gradientMedians
      if let first = medians.first, let last = medians.last {
        func magnitude(_ log: Double) -> String {
          log.isNaN
            ? "none finite"
            : log == -.infinity
              ? "0" : log <= histograms.rangeLow ? "below 1e\(Int(histograms.rangeLow))" : number(pow(10, log))
        }
        lines.append(
          "  median |∂f/∂W| at the last: \(magnitude(first)) (\(histograms.layerNames.first ?? "")) … \(magnitude(last)) (\(histograms.layerNames.last ?? ""))"
        )
      }
      if let step = histograms.firstNonFiniteStep {
        let parts = histograms.nonFinite.map {
          "\($0.tensor) of \($0.entries) of \($0.of) (from \($0.first)): NaN \($0.nan), ±Inf \($0.infinite)"
        }
        lines.append("  non-finite values first at step \(step): \(parts.joined(separator: "; "))")
      } else {
        lines.append("  no NaN or infinity in any recorded tensor")
      }
    }
    if let merges, !merges.residualRatios.isEmpty || merges.concatenations > 0 {
      lines.append("")
      lines.append("Signal at the merges (steps \(merges.firstStep) and \(merges.lastStep)):")
      let ratios = merges.residualRatios
      if let low = ratios.min(by: { $0.last < $1.last }), let high = ratios.max(by: { $0.last < $1.last }) {
        lines.append(
          "  residual adds ‖F(x)‖/‖x‖ (\(ratios.count)): median \(number(median(ratios.map(\.first)))) → \(number(median(ratios.map(\.last)))); lowest \(number(low.last)) (\(low.layer)), highest \(number(high.last)) (\(high.layer))"
        )
      }
      if merges.concatenations > 0, merges.concatenatedNorms.count == 2 {
        lines.append(
          "  concatenations (\(merges.concatenations)): input norms from \(number(merges.concatenatedNorms[0])) to \(number(merges.concatenatedNorms[1]))"
        )
      }
    }
    if let noise {
      lines.append("")
      lines.append(
        "Gradient noise: \(noise.measurements) measurements (groups of the batch, BatchNorm in training mode), the last at step \(noise.lastStep)"
      )
      lines.append(
        "  model (pooled over the measurements): SNR \(number(noise.signalToNoise)), B_simple \(number(noise.simpleNoiseScale)) examples (batch \(noise.batch))\(noise.signalToNoise <= 0 ? ": no signal resolved above the noise (pooled |G|² ≤ 0)" : noise.signalToNoise < 1 ? ": the batch gradient is more noise than signal" : "")"
      )
      let ratios = noise.layerSignalToNoise
      if let low = ratios.indices.filter({ ratios[$0].isFinite }).min(by: { ratios[$0] < ratios[$1] }) {
        lines.append(
          "  lowest layer SNR: \(number(ratios[low])) (\(noise.layerNames[low])); below \(Int(Noise.noisyBelow)) at \(noise.noisyLayers.count) of \(ratios.count) layers"
        )
      }
      if let scale = noise.noiseScale, let steps = noise.stepToOptimalQuantiles {
        lines.append(
          "  B_noise \(number(scale)); step taken along −g over ε_opt(N), quantiles (10/50/90%): \(steps.map { number($0) }.joined(separator: " / "))"
        )
      }
    }
    for item in missing { lines.append("not recorded: \(item)") }
    return lines.joined(separator: "\n")
  }

  /// "3 of the top 5 eigenvalues above the bulk", or, when all k are, that there may be more.
  static func outlierText(_ outliers: Int, of k: Int) -> String {
    outliers < k
      ? "\(outliers) of the top \(k) eigenvalues above the bulk"
      : "all top \(k) eigenvalues above the bulk (more may be: raise --spectrum-top-k)"
  }

  /// Key-sorted JSON; NaN as the string "NaN".
  public func json() throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    return String(decoding: try encoder.encode(self), as: UTF8.self)
  }
}
