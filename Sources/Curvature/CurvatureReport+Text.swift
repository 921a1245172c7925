import Foundation

extension CurvatureReport {
  /// The report for people: summary, per-layer table, Taylor table.
  public var text: String {
    func number(_ x: Double) -> String { String(format: "%.4g", x) }
    func column(_ s: String, _ width: Int, right: Bool = true) -> String {
      let padding = String(repeating: " ", count: max(0, width - s.count))
      return right ? padding + s : s + padding
    }
    var lines: [String] = []
    lines.append("\(model) on \(examples) examples (BatchNorm in training mode)")
    lines.append("loss \(number(loss)), accuracy \(String(format: "%.1f%%", accuracy * 100))")
    lines.append("gᵀg  = \(number(gTg))")
    lines.append("gᵀHg = \(number(gHg))")
    if let epsilonStar {
      lines.append(
        "ε*   = gᵀg / gᵀHg = \(number(epsilonStar))   (curvature outweighs the first-order term beyond 2ε* = \(number(2 * epsilonStar)))"
      )
    } else {
      lines.append("ε*   : none: negative curvature along −g (gᵀHg ≤ 0), the quadratic model has no minimum")
    }
    lines.append(
      String(
        format: "Hessian trace ≈ %@ ± %@ (Hutchinson, %d Rademacher probes)", number(trace.trace),
        number(trace.standardError), trace.probes))
    lines.append(
      "dominant eigenvalue ≈ \(number(dominantEigenvalue.eigenvalue)) (power iteration, \(dominantEigenvalue.products) products, "
        + (dominantEigenvalue.converged
          ? "converged to \(dominantEigenvalue.tolerance))" : "NOT converged to \(dominantEigenvalue.tolerance))"))
    lines.append("Hessian-vector products: \(hessianVectorProducts)")
    lines.append("")
    let width = max(5, layers.map(\.label.count).max() ?? 0)
    lines.append(column("layer", width, right: false) + "   mean |g|    ‖g‖₂       max |g|    g_lᵀ(Hg)_l  tr(H_ll)")
    for layer in layers {
      lines.append(
        column(layer.label, width, right: false)
          + [layer.gradientMeanAbs, layer.gradientL2Norm, layer.gradientMaxAbs, layer.gHg, layer.trace]
          .map { column(number($0), 11) }.joined())
    }
    lines.append("")
    lines.append("Taylor along −g: f(w − εg) − f(w) against −ε gᵀg (1st) and −ε gᵀg + ½ε² gᵀHg (2nd)")
    lines.append(
      column("ε/ε*", 6) + column("ε", 12) + column("1st order", 13) + column("2nd order", 13) + column("actual", 13)
        + column("2nd vs actual", 15))
    for row in taylor {
      let multiple = row.multiple.map { String(format: "%g", $0) } ?? "-"
      let error = row.relativeError.isNaN ? "-" : String(format: "%.3g%%", row.relativeError * 100)
      lines.append(
        column(multiple, 6) + column(number(row.epsilon), 12) + column(number(row.predictedFirst), 13)
          + column(number(row.predictedSecond), 13) + column(number(row.actual), 13) + column(error, 15))
    }
    if let spectrum {
      let pairs = spectrum.eigenpairs
      lines.append("")
      lines.append(
        "Hessian spectrum (Lanczos, \(pairs.steps) steps\(pairs.exhausted ? ", the whole Krylov space" : ""), full reorthogonalisation):"
      )
      lines.append("  largest  " + pairs.top.map(number).joined(separator: "  "))
      lines.append("  smallest " + pairs.bottom.map(number).joined(separator: "  "))
      lines.append(
        String(
          format: "  share of ‖g‖² in the top-%d eigenvectors' span: %.3g", pairs.top.count, spectrum.gradientOverlap))
      lines.append(
        "  outliers above the bulk (edge \(number(spectrum.bulkEdge)), docs/design.md \"Outliers\"): \(spectrum.outliers) of the top \(pairs.top.count)"
      )
      let density = spectrum.density
      lines.append(
        "  density (stochastic Lanczos quadrature, \(density.nodes.count) probes, σ = \(number(density.sigma))): "
          + "support \(number(density.grid.first ?? .nan)) to \(number(density.grid.last ?? .nan)), "
          + String(format: "%.3g%% of it clearly below zero", spectrum.negativeMass * 100))
      for (heading, parts) in [("layer", spectrum.layers), ("block", spectrum.blocks)] {
        guard let parts else { continue }
        let width = max(5, parts.map(\.label.count).max() ?? 0)
        lines.append("  " + column(heading, width, right: false) + "  λ_max(H_bb)  λ_min(H_bb)")
        for part in parts {
          lines.append(
            "  " + column(part.label, width, right: false) + column(number(part.largest), 13)
              + column(number(part.smallest), 13))
        }
      }
    }
    if let stability {
      let what =
        stability.optimizer == "adam" ? "λ_max of P^(−1/2) H P^(−1/2) (Adam's preconditioned sharpness)" : "λ_max"
      let threshold = stability.optimizer == "adam" ? "(2 + 2β₁)/((1 − β₁)η)" : "2(1 + β)/η"
      lines.append(
        "  edge of stability at η = \(number(stability.learningRate)): \(what) = \(number(stability.sharpness)) against "
          + "\(threshold) = \(number(stability.threshold)) (ratio \(String(format: "%.3g", stability.ratio))); "
          + "gᵀHg/gᵀg = \(number(stability.gradientCurvature))")
    }
    return lines.joined(separator: "\n")
  }
}
