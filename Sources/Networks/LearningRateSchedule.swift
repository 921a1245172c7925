#if canImport(Glibc)
  import Glibc
#else
  import Foundation
#endif

/// The learning rate as a function of the epoch, constant within an epoch.
public enum LearningRateSchedule: Equatable, Codable, Sendable {
  /// The same rate every epoch.
  case constant(learningRate: Double)
  /// Cosine annealing in closed form (Loshchilov & Hutter 2017, without restarts), PyTorch's
  /// `CosineAnnealingLR` stepped once per epoch:
  /// `lr(e) = η_min + (η_max − η_min) · (1 + cos(π e / T_max)) / 2`.
  case cosine(learningRate: Double, minimum: Double, period: Int)

  /// The rate used throughout epoch `epoch` (from 0).
  public func learningRate(epoch: Int) -> Double {
    switch self {
    case .constant(let rate):
      return rate
    case .cosine(let maximum, let minimum, let period):
      precondition(period > 0, "cosine schedule: T_max must be positive, got \(period)")
      return minimum + (maximum - minimum) * (1 + cos(Double.pi * Double(epoch) / Double(period))) / 2
    }
  }
}
