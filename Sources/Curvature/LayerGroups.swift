import Networks

/// The parameters of a network grouped by layer (module): a conv's weight and bias, a
/// BatchNorm's γ and β, the linear weight and bias. Per-layer curvature sums over a group, so
/// the per-layer contributions add up exactly to the whole.
public struct LayerGroups: Sendable {
  public struct Group: Sendable, Codable, Equatable {
    /// The figure label of the layer (`block_0_0_conv_0`): its weight tensor's label.
    public var label: String
    /// Parameter names in the group, weight first.
    public var parameters: [String]
  }

  public var groups: [Group]

  public init(_ specifications: [ParameterSpecification]) {
    var groups: [Group] = []
    var index: [String: Int] = [:]
    for specification in specifications {
      let module = String(specification.name.split(separator: ".").dropLast().joined(separator: "."))
      if let position = index[module] {
        groups[position].parameters.append(specification.name)
      } else {
        index[module] = groups.count
        groups.append(Group(label: module.replacingOccurrences(of: ".", with: "_"), parameters: [specification.name]))
      }
    }
    self.groups = groups
  }

  /// Sums per-parameter values (in the order of `names`) into per-layer values.
  public func sum(_ values: [Double], names: [String]) -> [Double] {
    let lookup = Dictionary(uniqueKeysWithValues: zip(names, values))
    return groups.map { group in group.parameters.reduce(0) { $0 + (lookup[$1] ?? 0) } }
  }
}

extension String {
  fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
    split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
  }
}
