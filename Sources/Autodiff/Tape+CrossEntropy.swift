import TensorCore

extension Tape {
  /// Softmax cross-entropy of `logits` [N, K] against integer `labels`, averaged over the batch
  /// (PyTorch's `cross_entropy` with `reduction="mean"`):
  ///
  ///     f = (1/N) Σ_n [ log Σ_k e^(z_nk) − z_n,y_n ],    ∂f/∂z_nk = (softmax(z_n)_k − [k = y_n]) / N
  ///
  /// The log-sum-exp subtracts each row's maximum first, so no exponential overflows.
  /// - Returns: the scalar loss and the fraction of rows whose largest logit is the label.
  public func softmaxCrossEntropy(logits: Variable, labels: [Int]) -> (loss: Variable, accuracy: Double) {
    let z = value(logits)
    precondition(
      z.rank == 2 && z.shape[0] == labels.count,
      "softmaxCrossEntropy: logits \(z.shape) for \(labels.count) labels")
    let (n, k) = (z.shape[0], z.shape[1])
    var probabilities = Tensor<Scalar>(zeros: z.shape)
    var total: Scalar = 0
    var correct = 0
    for row in 0..<n {
      let label = labels[row]
      precondition(label >= 0 && label < k, "softmaxCrossEntropy: label \(label) outside 0..<\(k)")
      let base = row * k
      var maximum = z.scalars[base]
      var argmax = 0
      for j in 1..<k where z.scalars[base + j] > maximum {
        maximum = z.scalars[base + j]
        argmax = j
      }
      if argmax == label { correct += 1 }
      var sumExp: Scalar = 0
      for j in 0..<k {
        let e = Scalar.exp(z.scalars[base + j] - maximum)
        probabilities.scalars[base + j] = e
        sumExp += e
      }
      for j in 0..<k { probabilities.scalars[base + j] /= sumExp }
      total += Scalar.log(sumExp) + maximum - z.scalars[base + label]
    }
    let loss = record(Tensor(shape: [1], scalars: [total / Scalar(n)]), inputs: [logits]) { dY, tape in
      let scale = dY.scalars[0] / Scalar(n)
      var dZ = probabilities
      for row in 0..<n { dZ.scalars[row * k + labels[row]] -= 1 }
      tape.accumulate(dZ.mapped { $0 * scale }, into: logits)
    }
    return (loss, Double(correct) / Double(n))
  }
}
