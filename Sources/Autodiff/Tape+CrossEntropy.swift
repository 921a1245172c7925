import TensorCore

extension Tape {
  /// Softmax cross-entropy of `logits` [N, K] against integer `labels`, averaged over the batch
  /// (PyTorch's `cross_entropy` with `reduction="mean"`):
  ///
  ///     f = (1/N) Σ_n [ log Σ_k e^(z_nk) − z_n,y_n ],    ∂f/∂z_nk = (softmax(z_n)_k − [k = y_n]) / N
  ///
  /// The log-sum-exp subtracts each row's maximum first, so no exponential overflows.
  ///
  /// On a shard of a global batch (`BatchShard.current` bound: a rank of a data-parallel run, or
  /// a ghost-BatchNorm group) N is the global batch's row count: the loss recorded here is this rank's share
  /// (1/N) Σ_{n in shard} ℓ_n, whose sum over ranks is the global mean, and back-propagating
  /// it gives this shard's share of the global gradient.
  /// - Returns: the scalar loss and the fraction of this tape's rows whose largest logit is the
  ///   label.
  public func softmaxCrossEntropy(logits: Variable, labels: [Int]) -> (loss: Variable, accuracy: Double) {
    let rows = softmaxRows(value(logits), labels: labels)
    let count = BatchShard.current?.batchRows ?? labels.count
    return (
      meanCrossEntropy(rows, labels: labels, over: 0..<labels.count, dividedBy: count, logits: logits), rows.accuracy
    )
  }

  /// The mean of the loss terms of the rows `group` only, (1/|group|) Σ_{n ∈ group} ℓ_n, from
  /// the same logits: a group of the batch's loss terms. Its gradient still runs through the
  /// whole forward pass (BatchNorm's batch statistics couple every row), so with the batch cut
  /// into groups of sizes b_j the group gradients average to the batch gradient,
  /// g = Σ_j (b_j/N) g_j (the gradient-noise estimators, docs/design.md).
  ///
  /// - Parameter size: the group's rows in all (nil: `group.count`); on a shard of a global
  ///   batch the group may extend past the shard's rows, or miss them (`group` empty: the loss
  ///   is 0, and its backward pass still runs through every layer).
  public func groupCrossEntropy(logits: Variable, labels: [Int], rows group: Range<Int>, of size: Int? = nil)
    -> Variable
  {
    precondition(
      (size != nil || !group.isEmpty) && group.clamped(to: 0..<labels.count) == group,
      "groupCrossEntropy: rows \(group)")
    return meanCrossEntropy(
      softmaxRows(value(logits), labels: labels), labels: labels, over: group, dividedBy: size ?? group.count,
      logits: logits)
  }

  /// Each row's softmax, its loss term log Σ_k e^(z_nk) − z_n,y_n, and the batch's accuracy.
  private func softmaxRows(
    _ z: Tensor<Scalar>, labels: [Int]
  ) -> (probabilities: Tensor<Scalar>, terms: [Scalar], accuracy: Double) {
    precondition(
      z.rank == 2 && z.shape[0] == labels.count,
      "softmaxCrossEntropy: logits \(z.shape) for \(labels.count) labels")
    let (n, k) = (z.shape[0], z.shape[1])
    var probabilities = Tensor<Scalar>(zeros: z.shape)
    var terms = [Scalar](repeating: 0, count: n)
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
      terms[row] = Scalar.log(sumExp) + maximum - z.scalars[base + label]
    }
    return (probabilities, terms, Double(correct) / Double(n))
  }

  /// Records (1/count) Σ_{n ∈ rows} ℓ_n (count: |rows|, or the global batch's rows). Its
  /// pullback is ∂/∂z_nk = (softmax(z_n)_k − [k = y_n]) / count on those rows, 0 on the others.
  private func meanCrossEntropy(
    _ softmax: (probabilities: Tensor<Scalar>, terms: [Scalar], accuracy: Double), labels: [Int],
    over rows: Range<Int>, dividedBy rowCount: Int, logits: Variable
  ) -> Variable {
    let total = rows.reduce(Scalar(0)) { $0 + softmax.terms[$1] }
    let count = Scalar(rowCount)
    let probabilities = softmax.probabilities
    return record(Tensor(shape: [1], scalars: [total / count]), inputs: [logits]) { dY, tape in
      let scale = dY.scalars[0] / count
      let k = probabilities.shape[1]
      var dZ = Tensor<Scalar>(zeros: probabilities.shape)
      for row in rows {
        for j in 0..<k { dZ.scalars[row * k + j] = probabilities.scalars[row * k + j] * scale }
        let label = row * k + labels[row]
        dZ.scalars[label] = (probabilities.scalars[label] - 1) * scale
      }
      tape.accumulate(dZ, into: logits)
    }
  }
}
