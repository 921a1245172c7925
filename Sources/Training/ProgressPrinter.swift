import Foundation

/// Prints training progress: on a terminal, a progress line redrawn in place (epoch, step,
/// loss, accuracy, images/s, ETA) and a line per epoch; otherwise only the line per epoch.
public final class ProgressPrinter: TrainingObserver {
  private let interactive: Bool
  private let epochs: Int
  private let batchSize: Int

  public init(epochs: Int, batchSize: Int, interactive: Bool = isatty(STDOUT_FILENO) != 0) {
    self.epochs = epochs
    self.batchSize = batchSize
    self.interactive = interactive
  }

  public func stepFinished(
    epoch: Int, step: Int, of steps: Int, loss: Double, accuracy: Double, imagesPerSecond: Double
  ) {
    guard interactive else { return }
    let width = 24
    let filled = width * step / max(steps, 1)
    let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
    // The epoch so far took `elapsed`; the remaining steps are assumed to take as long each.
    let elapsed = Double(step * batchSize) / max(imagesPerSecond, 1e-9)
    let eta = Self.duration(elapsed / Double(step) * Double(steps - step))
    print(
      String(
        format: "\repoch %d (%d/%d) %@ %d/%d  loss %.4f  acc %5.1f%%  %.0f img/s  ETA %@ ",
        epoch, epoch + 1, epochs, bar, step, steps, loss, accuracy * 100, imagesPerSecond, eta),
      terminator: "")
    fflush(nil)
  }

  public func epochFinished(_ r: EpochRecord, best: Bool) {
    if interactive { print("\r\u{1B}[K", terminator: "") }
    print(
      String(
        format: "epoch %d (%d/%d)  lr %.3g  train loss %.4f acc %.2f%%  valid loss %.4f acc %.2f%%  %.1fs%@",
        r.epoch, r.epoch + 1, epochs, r.learningRate, r.trainLoss, r.trainAccuracy * 100, r.validLoss,
        r.validAccuracy * 100, r.seconds, best ? "  (best)" : ""))
    fflush(nil)
  }

  static func duration(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    return s >= 3600
      ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
  }
}
