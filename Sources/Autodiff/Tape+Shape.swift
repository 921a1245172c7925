import TensorCore

extension Tape {
  /// The same elements in another shape (`flatten`: [N, C, H, W] → [N, C·H·W]). Pullback: dY
  /// reshaped back.
  public func reshape(_ input: Variable, to shape: [Int]) -> Variable {
    let inputShape = self.shape(input)
    return record(value(input).reshaped(to: shape), inputs: [input]) { dY, tape in
      tape.accumulate(dY.reshaped(to: inputShape), into: input)
    }
  }

  /// Concatenation along the channel axis: [N, C₁, H, W], [N, C₂, H, W], … → [N, ΣCᵢ, H, W]
  /// (DenseNet's "concatenate instead of add"). Pullback: each input receives its own channels
  /// of dY.
  public func concatenateChannels(_ inputs: [Variable]) -> Variable {
    let parts: [Tensor<Scalar>] = inputs.map { value($0) }
    let first: [Int] = parts[0].shape
    for part in parts {
      let shape: [Int] = part.shape
      precondition(
        shape.count == 4 && shape[0] == first[0] && shape[2] == first[2] && shape[3] == first[3],
        "concatenateChannels: \(shape) and \(first) differ outside the channel axis")
    }
    let images: Int = first[0]
    let pixels: Int = first[2] * first[3]
    let channels: [Int] = parts.map { $0.shape[1] }
    let total: Int = channels.reduce(0, +)
    var y = Tensor<Scalar>(zeros: [images, total, first[2], first[3]])
    var offset = 0
    for (part, c) in zip(parts, channels) {
      Self.copyChannels(
        from: part, channels: c, start: 0, into: &y, channels: total, start: offset, images: images, pixels: pixels)
      offset += c
    }
    return record(y, inputs: inputs) { dY, tape in
      var start = 0
      for (input, c) in zip(inputs, channels) {
        if tape.requiresGradient(input) {
          var dX = Tensor<Scalar>(zeros: [images, c, first[2], first[3]])
          Self.copyChannels(
            from: dY, channels: total, start: start, into: &dX, channels: c, start: 0, images: images, pixels: pixels)
          tape.accumulate(dX, into: input)
        }
        start += c
      }
    }
  }

  /// Copies, for every image, the channels `sourceStart ..<` of `source` (which has
  /// `sourceChannels`) into `destination`'s channels `destinationStart ..<`, as many as fit the
  /// narrower of the two.
  private static func copyChannels(
    from source: Tensor<Scalar>, channels sourceChannels: Int, start sourceStart: Int,
    into destination: inout Tensor<Scalar>, channels destinationChannels: Int, start destinationStart: Int,
    images: Int, pixels: Int
  ) {
    let count: Int = min(sourceChannels - sourceStart, destinationChannels - destinationStart) * pixels
    source.scalars.withUnsafeBufferPointer { from in
      destination.scalars.withUnsafeMutableBufferPointer { to in
        for image in 0..<images {
          let read: Int = (image * sourceChannels + sourceStart) * pixels
          let write: Int = (image * destinationChannels + destinationStart) * pixels
          for i in 0..<count { to[write + i] = from[read + i] }
        }
      }
    }
  }
}

extension Tape {
  /// He et al.'s (2016) parameter-free "option A" shortcut: every `stride`-th pixel of each
  /// channel, with `before` zero channels in front and `after` behind (PyTorch:
  /// `F.pad(x[:, :, ::s, ::s], (0, 0, 0, 0, before, after))`): [N, C, H, W] →
  /// [N, before + C + after, ⌈H/s⌉, ⌈W/s⌉]. Linear; pullback: dX[n, c, s·i, s·j] =
  /// dY[n, before + c, i, j], zero at the pixels it skipped.
  public func subsampleAndPadChannels(_ input: Variable, stride: Int, before: Int, after: Int) -> Variable {
    let shape: [Int] = self.shape(input)
    precondition(shape.count == 4 && stride >= 1 && before >= 0 && after >= 0, "subsampleAndPadChannels: \(shape)")
    let geometry = SubsampleGeometry(
      images: shape[0], channels: shape[1], height: shape[2], width: shape[3], stride: stride, before: before,
      after: after)
    let x: Tensor<Scalar> = value(input)
    var y = Tensor<Scalar>(zeros: geometry.outputShape)
    geometry.forEachPair { inputIndex, outputIndex in y.scalars[outputIndex] = x.scalars[inputIndex] }
    return record(y, inputs: [input]) { dY, tape in
      var dX = Tensor<Scalar>(zeros: shape)
      geometry.forEachPair { inputIndex, outputIndex in dX.scalars[inputIndex] = dY.scalars[outputIndex] }
      tape.accumulate(dX, into: input)
    }
  }
}

/// Which input element each output element of `subsampleAndPadChannels` copies.
private struct SubsampleGeometry {
  var images, channels, height, width, stride, before, after: Int
  var outputHeight: Int { (height + stride - 1) / stride }
  var outputWidth: Int { (width + stride - 1) / stride }
  var outputShape: [Int] { [images, before + channels + after, outputHeight, outputWidth] }

  /// Calls `body(input index, output index)` for every copied element.
  func forEachPair(_ body: (Int, Int) -> Void) {
    let outputChannels = before + channels + after
    for n in 0..<images {
      for c in 0..<channels {
        let inputPlane = (n * channels + c) * height * width
        let outputPlane = (n * outputChannels + before + c) * outputHeight * outputWidth
        for i in 0..<outputHeight {
          for j in 0..<outputWidth {
            body(inputPlane + (i * stride) * width + j * stride, outputPlane + i * outputWidth + j)
          }
        }
      }
    }
  }
}
