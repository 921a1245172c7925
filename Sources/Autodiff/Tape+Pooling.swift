import TensorCore

extension Tape {
  /// Average pooling with a square `window` and stride equal to the window, in every
  /// `TensorLayout` (dual coefficient planes by `DualPlanes`).
  public func averagePool(_ input: Variable, window: Int) -> Variable {
    let shape = self.shape(input)
    let x = storedValue(input, keepingPlanes: true)
    if x.layout == .blockedPlanes {
      let y = DualPlanes.averagePool(cast(x, to: Dual<Float>.self), window: window)
      return record(cast(y, to: Scalar.self), inputs: [input], layoutAware: true) { dY, tape in
        let planar = cast(Self.converted(dY, to: .blockedPlanes), to: Dual<Float>.self)
        let dX = DualPlanes.averagePoolBackward(planar, inputShape: shape, window: window)
        tape.accumulate(cast(dX, to: Scalar.self), into: input)
      }
    }
    let y = Pooling.averagePool(x, window: window)
    return record(y, inputs: [input], layoutAware: true) { dY, tape in
      tape.accumulate(Pooling.averagePoolBackward(dY, inputShape: shape, window: window), into: input)
    }
  }

  /// Global average pooling [N, C, H, W] → [N, C].
  public func globalAveragePool(_ input: Variable) -> Variable {
    let shape = self.shape(input)
    return record(Pooling.globalAveragePool(value(input)), inputs: [input]) { dY, tape in
      tape.accumulate(Pooling.globalAveragePoolBackward(dY, inputShape: shape), into: input)
    }
  }
}

extension Tape {
  /// Max pooling with a square `window` and stride equal to the window; the gradient goes to
  /// each window's (first) maximum (`Pooling.maxPool`).
  public func maxPool(_ input: Variable, window: Int) -> Variable {
    let shape = self.shape(input)
    let (y, argmax) = Pooling.maxPool(value(input), window: window)
    return record(y, inputs: [input]) { dY, tape in
      tape.accumulate(Pooling.maxPoolBackward(dY, argmax: argmax, inputShape: shape), into: input)
    }
  }
}
