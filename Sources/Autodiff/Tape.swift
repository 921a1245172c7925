import TensorCore

/// A handle to a value recorded on a `Tape`.
public struct Variable: Hashable, Sendable {
  /// The position of the value on its tape.
  public let id: Int
}

/// A reverse-mode autodiff tape (a Wengert list).
///
/// Each primitive (in the `Tape+<Primitive>.swift` files) computes its value, records it, and
/// records a pullback beside it that maps the gradient of its output to gradients of its inputs.
/// `backward(from:)` runs the pullbacks in reverse order; each one *adds* into its inputs'
/// gradients (`+=`), so a value used twice (fan-out, residual adds) receives both contributions.
///
/// Values are kept for the lifetime of the tape, so a recorder can read any intermediate
/// (a block's post-activation output, say) through `value(_:)` without copying it. Gradients of
/// intermediates are released as soon as their pullback has run; those of leaves that asked for
/// one (`parameter`, `input(_:requiresGradient: true)`) stay until the tape is dropped.
public final class Tape<Scalar: TensorScalar> {
  private typealias Pullback = (_ outputGradient: Tensor<Scalar>, _ tape: Tape) -> Void

  private var values: [Tensor<Scalar>] = []
  private var gradients: [Tensor<Scalar>?] = []
  private var needsGradient: [Bool] = []
  private var isLeaf: [Bool] = []
  private var pullbacks: [(output: Int, label: String, layoutAware: Bool, run: Pullback)] = []
  /// What the pullbacks recorded now belong to in a profile (`labelled(_:_:)`).
  private var currentLabel: String?

  public init() {}

  /// Records a leaf whose gradient `backward` computes and keeps: a trainable parameter.
  public func parameter(_ value: Tensor<Scalar>) -> Variable {
    append(value, needsGradient: true, isLeaf: true)
  }

  /// Records a leaf input; its gradient is computed only when `requiresGradient` is true.
  public func input(_ value: Tensor<Scalar>, requiresGradient: Bool = false) -> Variable {
    append(value, needsGradient: requiresGradient, isLeaf: true)
  }

  /// The value recorded for `variable` in NCHW layout (shared, not copied: `Tensor` is
  /// copy-on-write; a value a convolution left blocked is reordered for the caller).
  public func value(_ variable: Variable) -> Tensor<Scalar> { Self.converted(values[variable.id], to: .nchw) }

  /// The value as stored, in whichever `TensorLayout` its primitive produced, without a
  /// reorder: for primitives that handle both layouts (`record(…, layoutAware: true)`) and for
  /// statistics over all elements, which do not depend on their order. A dual tensor kept as
  /// coefficient planes comes interleaved (`.blocked16`), unless `keepingPlanes` (for the
  /// primitives that read planes: convolutions, leaky ReLU, adds).
  public func storedValue(_ variable: Variable, keepingPlanes: Bool = false) -> Tensor<Scalar> {
    let value = values[variable.id]
    return keepingPlanes || value.layout != .blockedPlanes ? value : Self.converted(value, to: .blocked16)
  }

  /// `t` in `target` layout: `Tensor.inLayout`, and for dual tensors to and from coefficient
  /// planes (`DualPlanes`), the only scalars that are ever kept as planes.
  static func converted(_ t: Tensor<Scalar>, to target: TensorLayout) -> Tensor<Scalar> {
    guard t.layout != target else { return t }
    guard t.layout == .blockedPlanes || target == .blockedPlanes else { return t.inLayout(target) }
    precondition(Scalar.self == Dual<Float>.self, "Tape: only dual tensors are kept as coefficient planes")
    let dual = cast(t, to: Dual<Float>.self)
    let result =
      target == .blockedPlanes
      ? DualPlanes.planar(dual.inLayout(.blocked16)) : DualPlanes.interleaved(dual).inLayout(target)
    return cast(result, to: Scalar.self)
  }

  /// The shape of the value recorded for `variable`.
  public func shape(_ variable: Variable) -> [Int] { values[variable.id].shape }

  /// Whether gradients flow back to `variable` (some leaf below it asked for one).
  public func requiresGradient(_ variable: Variable) -> Bool { needsGradient[variable.id] }

  /// The gradient of the last `backward` root with respect to a leaf, or nil when none flowed
  /// there (the leaf did not ask for one or does not influence the root).
  public func gradient(_ variable: Variable) -> Tensor<Scalar>? {
    gradients[variable.id].map { Self.converted($0, to: .nchw) }
  }

  /// Runs reverse mode from a scalar `root`, seeding its gradient with `seed` (1 by default).
  public func backward(from root: Variable, seed: Scalar = 1) {
    precondition(values[root.id].count == 1, "Tape.backward: root must be a scalar, shape \(values[root.id].shape)")
    for i in gradients.indices { gradients[i] = nil }
    gradients[root.id] = Tensor(repeating: seed, shape: values[root.id].shape)
    for record in pullbacks.reversed() where record.output <= root.id {
      guard let outputGradient = gradients[record.output] else { continue }
      if !isLeaf[record.output] { gradients[record.output] = nil }
      KernelProfile.measure("\(record.label) backward") {
        record.run(record.layoutAware ? outputGradient : Self.converted(outputGradient, to: .nchw), self)
      }
    }
  }

  /// Drops the value recorded for `variable`, which nothing will read again: a forward-only
  /// pass (nothing to differentiate) releases each activation once the next layer has consumed
  /// it, so it holds a few layers' activations instead of all of them. Pullbacks keep what
  /// they need themselves, but a value someone might still differentiate is never dropped.
  public func release(_ variable: Variable) {
    precondition(!needsGradient[variable.id], "Tape.release: \(variable) is still needed for gradients")
    values[variable.id] = Tensor(zeros: [0])
  }

  /// Runs `body`, charging the backward time of the pullbacks it records to `label` in a
  /// `KernelProfile` (a layer's kind, say "BatchNorm"); outside it a pullback is charged to the
  /// primitive that recorded it.
  public func labelled<T>(_ label: String, _ body: () -> T) -> T {
    let outer = currentLabel
    currentLabel = label
    defer { currentLabel = outer }
    return body()
  }

  /// Records the output of a primitive. `pullback` receives the output gradient and must call
  /// `accumulate(_:into:)` for each input that `requiresGradient`. The gradient comes in NCHW
  /// layout, or, for a `layoutAware` primitive, in the layout of its output `value`.
  func record(
    _ value: Tensor<Scalar>, inputs: [Variable], layoutAware: Bool = false, primitive: String = #function,
    pullback: @escaping (_ outputGradient: Tensor<Scalar>, _ tape: Tape) -> Void
  ) -> Variable {
    let needs = inputs.contains { needsGradient[$0.id] }
    let output = append(value, needsGradient: needs, isLeaf: false)
    if needs {
      let label = currentLabel ?? String(primitive.prefix { $0 != "(" })
      pullbacks.append((output.id, label, layoutAware, pullback))
    }
    return output
  }

  /// Adds `gradient` onto the gradient of `variable` (nothing if it needs none). A gradient is
  /// kept in the layout of its variable's value.
  func accumulate(_ incoming: Tensor<Scalar>, into variable: Variable) {
    guard needsGradient[variable.id] else { return }
    precondition(
      incoming.shape == values[variable.id].shape,
      "Tape: gradient shape \(incoming.shape) ≠ value shape \(values[variable.id].shape)")
    let gradient = Self.converted(incoming, to: values[variable.id].layout)
    if gradients[variable.id] == nil {
      gradients[variable.id] = gradient
    } else {
      gradients[variable.id]! += gradient
    }
  }

  private func append(_ value: Tensor<Scalar>, needsGradient needs: Bool, isLeaf leaf: Bool) -> Variable {
    values.append(value)
    gradients.append(nil)
    needsGradient.append(needs)
    isLeaf.append(leaf)
    return Variable(id: values.count - 1)
  }
}

/// The same tensor seen as a tensor of `Other`, which the caller has checked is its scalar type.
@inline(__always)
func cast<Scalar: TensorScalar, Other: TensorScalar>(_ t: Tensor<Scalar>, to _: Other.Type) -> Tensor<Other> {
  unsafeBitCast(t, to: Tensor<Other>.self)
}
