import Dispatch
import Foundation

/// A graceful stop asked for from outside the run: the first SIGINT (Ctrl-C) or SIGTERM makes
/// the trainer finish the current step, write `last.h5` at that step (mid-epoch, with what it
/// needs to continue exactly), close the trace as interrupted and stop. A second signal stops
/// at once, as a kill would (the trace stays readable up to its last flush).
public final class StopRequest: @unchecked Sendable {
  private let lock = NSLock()
  private var received: Int32?
  private var sources: [DispatchSourceSignal] = []

  public init() {}

  /// Starts listening for SIGINT and SIGTERM (their default actions are turned off).
  public func listenForSignals() {
    for number in [SIGINT, SIGTERM] {
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
      source.setEventHandler { [weak self] in self?.receive(number) }
      source.resume()
      sources.append(source)
    }
  }

  /// Records a stop; a second one ends the process now with the conventional status.
  public func receive(_ number: Int32) {
    lock.lock()
    let first = received == nil
    if first { received = number }
    lock.unlock()
    if !first { _exit(128 + number) }
  }

  /// The signal that asked for a stop, if any.
  public var receivedSignal: Int32? {
    lock.lock()
    defer { lock.unlock() }
    return received
  }
}
