/// Dropout (PyTorch's `nn.Dropout`): in training mode each element is zeroed with probability
/// p and the rest scaled by 1/(1 − p); in evaluation mode the identity.
///
/// The mask is drawn from the pass's seed (`LayerContext.seed`), not from a hidden generator:
/// the gradient, every curvature pass and the actual change of one step pass the same seed and
/// so differentiate one function, f(w) with that mask fixed. It is y = x ⊙ m with m a constant
/// input, so `multiply` carries its derivatives.
public struct Dropout: Layer {
  public static let kind = "dropout"
  public static let attributeKeys = ["probability"]
  public var probability: Double

  public init(probability: Double) { self.probability = probability }

  public func outputShape(for inputs: [[Int]]) throws(LayerError) -> [Int] {
    guard probability >= 0, probability < 1 else {
      throw LayerError("probability must be in [0, 1), got \(probability)")
    }
    return inputs[0]
  }

  public var operation: Operation { .dropout(probability: probability) }
}
