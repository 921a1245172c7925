/// Tensors addressed by name, in a fixed order (the order the network applies them).
public struct NamedTensors<Scalar: TensorScalar>: Sendable {
  /// The names, in order.
  public private(set) var names: [String] = []
  private var tensors: [Tensor<Scalar>] = []
  private var positions: [String: Int] = [:]

  public init() {}

  /// Appends a new entry; the name must not be present yet.
  public mutating func append(_ tensor: Tensor<Scalar>, named name: String) {
    precondition(positions[name] == nil, "NamedTensors: duplicate name \(name)")
    positions[name] = tensors.count
    names.append(name)
    tensors.append(tensor)
  }

  /// The tensor named `name`. Setting replaces it and must keep its shape.
  public subscript(name: String) -> Tensor<Scalar>? {
    get { positions[name].map { tensors[$0] } }
    set {
      guard let position = positions[name] else {
        preconditionFailure("NamedTensors: no entry named \(name)")
      }
      guard let newValue else { preconditionFailure("NamedTensors: cannot remove \(name)") }
      precondition(
        newValue.shape == tensors[position].shape,
        "NamedTensors: \(name) has shape \(tensors[position].shape), not \(newValue.shape)")
      tensors[position] = newValue
    }
  }

  /// Whether an entry named `name` exists.
  public func contains(_ name: String) -> Bool { positions[name] != nil }

  /// The entries in order.
  public var entries: [(name: String, tensor: Tensor<Scalar>)] {
    zip(names, tensors).map { ($0, $1) }
  }

  /// The number of entries.
  public var count: Int { names.count }

  /// The total number of elements over all entries.
  public var elementCount: Int { tensors.reduce(0) { $0 + $1.count } }

  /// The entries whose names satisfy `keep`, in order (shared, not copied).
  public func filter(_ keep: (String) -> Bool) -> NamedTensors {
    var kept = NamedTensors()
    for (name, tensor) in entries where keep(name) { kept.append(tensor, named: name) }
    return kept
  }

  /// The same entries converted to another scalar type.
  public func converted<Other: TensorScalar>(to _: Other.Type) -> NamedTensors<Other> {
    var result = NamedTensors<Other>()
    for (name, tensor) in entries { result.append(tensor.converted(), named: name) }
    return result
  }

  /// Applies `update` to every tensor in place, in order.
  public mutating func updateEach(_ update: (String, inout Tensor<Scalar>) -> Void) {
    for i in tensors.indices { update(names[i], &tensors[i]) }
  }
}
