import Dispatch
import Foundation

/// A checkpoint asked for from outside the run: `kill -USR1 <pid>` makes the trainer write
/// `requested.h5` (weights, buffers, optimizer and generator state at that step) once the
/// current step ends. Mid-epoch checkpoints are for inspection and probing; `--resume`
/// continues from the last epoch end (`last.h5`).
public final class CheckpointRequest: @unchecked Sendable {
  private let lock = NSLock()
  private var pending = false
  private var source: DispatchSourceSignal?

  public init() {}

  /// Starts listening for SIGUSR1 (its default action, terminating, is turned off).
  public func listenForSignal() {
    signal(SIGUSR1, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: SIGUSR1, queue: .global())
    source.setEventHandler { [weak self] in self?.request() }
    source.resume()
    self.source = source
  }

  /// Marks a checkpoint as wanted.
  public func request() {
    lock.lock()
    pending = true
    lock.unlock()
  }

  /// Whether a checkpoint was asked for since the last call (and clears the request).
  public func take() -> Bool {
    lock.lock()
    defer { lock.unlock() }
    let wanted = pending
    pending = false
    return wanted
  }
}
