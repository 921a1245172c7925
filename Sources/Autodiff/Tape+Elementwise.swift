import TensorCore

extension Tape {
  /// Leaky ReLU: y = x for x > 0, slope·x otherwise; dy/dx = 1 or slope (PyTorch takes the
  /// slope branch at exactly 0).
  /// Works in every `TensorLayout` (element by element; dual coefficient planes by `DualPlanes`).
  public func leakyReLU(_ input: Variable, slope: Double) -> Variable {
    let x = storedValue(input, keepingPlanes: true)
    let a = Scalar(slope)
    let y: Tensor<Scalar>
    if x.layout == .blockedPlanes {
      y = cast(DualPlanes.leakyReLU(cast(x, to: Dual<Float>.self), slope: Float(slope)), to: Scalar.self)
    } else {
      // Plain loops rather than `mapped` with a capturing closure: this runs on every activation.
      y = x.scalars.withUnsafeBufferPointer { xs in
        Tensor<Scalar>(shape: x.shape, layout: x.layout) { ys in
          parallelElements(ys.count) { range in
            for i in range { ys[i] = xs[i] > 0 ? xs[i] : a * xs[i] }
          }
        }
      }
    }
    return record(y, inputs: [input], layoutAware: true) { dY, tape in
      tape.accumulate(Self.leakyReLUGradient(dY, where: x, slope: a), into: input)
    }
  }

  /// dx = dy where `reference` > 0, slope·dy elsewhere (reference: the activation's input, or
  /// for a slope ≥ 0 its output, positive at the same places), in the reference's layout.
  static func leakyReLUGradient(
    _ dY: Tensor<Scalar>, where reference: Tensor<Scalar>, slope a: Scalar
  ) -> Tensor<Scalar> {
    let dY = converted(dY, to: reference.layout)
    if reference.layout == .blockedPlanes {
      let dX = DualPlanes.leakyReLUGradient(
        cast(dY, to: Dual<Float>.self), where: cast(reference, to: Dual<Float>.self),
        slope: unsafeBitCast(a, to: Dual<Float>.self).value)
      return cast(dX, to: Scalar.self)
    }
    return reference.scalars.withUnsafeBufferPointer { xs in
      dY.scalars.withUnsafeBufferPointer { gs in
        Tensor<Scalar>(shape: reference.shape, layout: reference.layout) { dxs in
          parallelElements(dxs.count) { range in
            for i in range { dxs[i] = xs[i] > 0 ? gs[i] : a * gs[i] }
          }
        }
      }
    }
  }

  /// Logistic sigmoid: y = 1 / (1 + e^(−x)); dy/dx = y (1 − y).
  public func sigmoid(_ input: Variable) -> Variable {
    let y = value(input).mapped { x -> Scalar in
      // Branch on the sign so that e^(±x) never overflows.
      if x >= 0 { return 1 / (1 + Scalar.exp(-x)) }
      let e = Scalar.exp(x)
      return e / (1 + e)
    }
    return record(y, inputs: [input]) { dY, tape in
      tape.accumulate(dY.zipped(with: y) { g, s in g * s * (1 - s) }, into: input)
    }
  }

  /// Hyperbolic tangent: y = (1 − e^(−2x)) / (1 + e^(−2x)) for x ≥ 0 (odd symmetry below, so
  /// e^(−2|x|) never overflows); dy/dx = 1 − y².
  public func tanh(_ input: Variable) -> Variable {
    let two: Scalar = 2
    let one: Scalar = 1
    let y = value(input).mapped { x -> Scalar in
      let negative = x < 0
      let absolute: Scalar = negative ? -x : x
      let e: Scalar = Scalar.exp(-(two * absolute))
      let magnitude: Scalar = (one - e) / (one + e)
      return negative ? -magnitude : magnitude
    }
    return record(y, inputs: [input]) { dY, tape in
      tape.accumulate(dY.zipped(with: y) { g, t in g * (one - t * t) }, into: input)
    }
  }

  /// Element-wise sum of two tensors of the same shape (a residual connection), in the left
  /// one's layout. Pullback: both inputs receive dY unchanged.
  public func add(_ lhs: Variable, _ rhs: Variable) -> Variable {
    let a = storedValue(lhs, keepingPlanes: true)
    // Coefficient planes add element by element like any other layout.
    let b = Self.converted(storedValue(rhs, keepingPlanes: true), to: a.layout)
    precondition(a.shape == b.shape, "add: shapes \(a.shape) and \(b.shape) differ")
    return record(a.zipped(with: b, +), inputs: [lhs, rhs], layoutAware: true) { dY, tape in
      tape.accumulate(dY, into: lhs)
      tape.accumulate(dY, into: rhs)
    }
  }

  /// The leaky ReLU of a residual sum in one pass, z = leaky(lhs + rhs) (slope a ≥ 0; ReLU is
  /// a = 0), in the left one's layout: the sum is never stored. Pullback: ds = dz where z > 0
  /// and a·dz elsewhere, to both inputs. For a ≥ 0, z > 0 exactly where the sum is (a·s is
  /// never positive for s ≤ 0, and NaN is positive in neither), so reading the mask off z gives
  /// what `add` then `leakyReLU` give, bit for bit.
  public func addLeakyReLU(_ lhs: Variable, _ rhs: Variable, slope: Double) -> Variable {
    precondition(slope >= 0, "addLeakyReLU: slope \(slope) < 0 (the mask is read off the output)")
    let a = storedValue(lhs, keepingPlanes: true)
    let b = Self.converted(storedValue(rhs, keepingPlanes: true), to: a.layout)
    precondition(a.shape == b.shape, "addLeakyReLU: shapes \(a.shape) and \(b.shape) differ")
    let k = Scalar(slope)
    let z: Tensor<Scalar>
    if a.layout == .blockedPlanes {
      let sum = DualPlanes.leakyReLU(
        cast(a, to: Dual<Float>.self), plus: cast(b, to: Dual<Float>.self), slope: Float(slope))
      z = cast(sum, to: Scalar.self)
    } else {
      z = a.scalars.withUnsafeBufferPointer { xs in
        b.scalars.withUnsafeBufferPointer { ys in
          Tensor<Scalar>(shape: a.shape, layout: a.layout) { zs in
            parallelElements(zs.count) { range in
              for i in range {
                let s = xs[i] + ys[i]
                zs[i] = s > 0 ? s : k * s
              }
            }
          }
        }
      }
    }
    return record(z, inputs: [lhs, rhs], layoutAware: true) { dZ, tape in
      let dS = Self.leakyReLUGradient(dZ, where: z, slope: k)
      tape.accumulate(dS, into: lhs)
      tape.accumulate(dS, into: rhs)
    }
  }

  /// Element-wise product. Pullback: d(lhs) = dY·rhs, d(rhs) = dY·lhs, so `multiply(x, x)`
  /// gives 2·x·dY through accumulation.
  public func multiply(_ lhs: Variable, _ rhs: Variable) -> Variable {
    let (a, b) = (value(lhs), value(rhs))
    precondition(a.shape == b.shape, "multiply: shapes \(a.shape) and \(b.shape) differ")
    return record(a.zipped(with: b, *), inputs: [lhs, rhs]) { dY, tape in
      if tape.requiresGradient(lhs) { tape.accumulate(dY.zipped(with: b, *), into: lhs) }
      if tape.requiresGradient(rhs) { tape.accumulate(dY.zipped(with: a, *), into: rhs) }
    }
  }

  /// The sum of all elements, as a scalar of shape [1]. Pullback: dX = dY broadcast.
  public func sum(_ input: Variable) -> Variable {
    let x = value(input)
    var total: Scalar = 0
    for v in x.scalars { total += v }
    return record(Tensor(shape: [1], scalars: [total]), inputs: [input]) { dY, tape in
      tape.accumulate(Tensor(repeating: dY.scalars[0], shape: x.shape), into: input)
    }
  }
}
