/// What a parameter tensor is, which decides its initialisation and whether it counts as a
/// "weight tensor" of the gradient-flow figure.
public enum ParameterRole: String, Codable, Sendable {
  case convolutionWeight = "conv"
  case convolutionBias = "conv_bias"
  case batchNormScale = "batchnorm"
  case batchNormShift = "batchnorm_bias"
  case linearWeight = "linear"
  case linearBias = "linear_bias"

  /// Conv weights, BatchNorm γ and the linear weight: the tensors the paper's gradient-flow
  /// figures plot (biases and β are excluded).
  public var isWeightTensor: Bool {
    switch self {
    case .convolutionWeight, .batchNormScale, .linearWeight: true
    case .convolutionBias, .batchNormShift, .linearBias: false
    }
  }
}

/// One parameter tensor of a network: its PyTorch-style dotted name, shape and role.
public struct ParameterSpecification: Equatable, Sendable {
  public var name: String
  public var shape: [Int]
  public var role: ParameterRole
  /// Inputs feeding one output unit (C·k·k for a convolution, `in` for a linear layer); 0 for
  /// BatchNorm parameters.
  public var fanIn: Int
  /// Outputs fed by one input unit (O·k·k, `out`); 0 for BatchNorm parameters.
  public var fanOut: Int

  /// The figure label: the name without `.weight`, dots as underscores (`block_0_0_conv_0`).
  public var label: String {
    let stem = name.hasSuffix(".weight") ? String(name.dropLast(".weight".count)) : name
    return stem.replacingOccurrences(of: ".", with: "_")
  }

  public var elementCount: Int { shape.reduce(1, *) }
}

extension String {
  fileprivate func replacingOccurrences(of target: Character, with replacement: Character) -> String {
    String(map { $0 == target ? replacement : $0 })
  }
}
