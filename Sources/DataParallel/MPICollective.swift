import CMPI
import Foundation
import TensorCore

/// Why MPI could not be started.
public struct MPIError: Error, CustomStringConvertible {
  public var description: String
}

/// The ranks of an `mpirun -np R gradtrace …` job (Open MPI, opened at run time: see
/// `CMPI/include/gt_mpi.h`).
///
/// `sum` is a reduce-scatter and an all-gather whose arithmetic is gradtrace's own: the values
/// are cut into R chunks, rank r receives chunk r from every rank (one all-to-all), adds the R
/// copies in rank order in Double, and every rank collects the summed chunks (one all-gather).
/// Each rank sends and receives 2(R − 1)/R of the values, and the result does not depend on the
/// algorithms Open MPI picks or on timing.
///
/// Failures: a rank that fails calls `fail(reason:)`; rank 0 hears of it while it waits in any
/// exchange, calls `onFailure("rank r: reason")` (the trainer closes its trace) and aborts the
/// job. A rank that dies without a word makes mpirun terminate the others: a rank that is asked
/// to stop (`stopRequested`) while it still waits for the others gives them `gracePeriod` to
/// arrive, then reports and ends the process.
public final class MPICollective: Collective, @unchecked Sendable {
  public let rank: Int
  public let size: Int
  public private(set) var bytesSent = 0
  /// Sums taken so far, and the seconds they took (waiting for the other ranks included).
  public private(set) var sumCount = 0
  public private(set) var secondsInSums = 0.0
  /// Called on rank 0 with "rank r: reason" before the job is aborted.
  public var onFailure: ((String) -> Void)?
  /// Whether a signal asked this process to stop (checked while waiting for the other ranks).
  public var stopRequested: () -> Bool = { false }
  /// How long a rank asked to stop still waits for the others to arrive.
  public var gracePeriod = 0.2
  private static let failureTag: Int32 = 0x6A7

  /// The number of ranks the launcher started, from its environment: Open MPI's mpirun sets
  /// OMPI_COMM_WORLD_SIZE; Slurm's srun (with `--mpi=pmix`) sets PMIX_RANK and SLURM_NTASKS.
  public static func launchedRanks(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Int {
    if let size = environment["OMPI_COMM_WORLD_SIZE"].flatMap(Int.init) { return size }
    if environment["PMIX_RANK"] != nil, let size = environment["SLURM_NTASKS"].flatMap(Int.init) { return size }
    return 1
  }

  /// Opens the MPI library (GRADTRACE_MPI_LIBRARY, or libmpi.so.40) and joins the job.
  public init(library: String? = ProcessInfo.processInfo.environment["GRADTRACE_MPI_LIBRARY"]) throws {
    var message = [CChar](repeating: 0, count: 512)
    guard gt_mpi_load(library, &message, message.count) == 0 else {
      throw MPIError(
        description: String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    var (rank, size): (Int32, Int32) = (0, 0)
    let code = gt_mpi_init(&rank, &size)
    guard code == 0 else { throw MPIError(description: "MPI_Init_thread failed with error \(code)") }
    (self.rank, self.size) = (Int(rank), Int(size))
    // Every rank's host and process, so that rank 0 can name a rank that dies on its host.
    var identities = [Double](repeating: 0, count: 2 * self.size)
    identities[2 * self.rank] = Double(Self.hostIdentity)
    identities[2 * self.rank + 1] = Double(getpid())
    identities.withUnsafeMutableBufferPointer { sum($0) }
    peers = (0..<self.size).map { (host: UInt32(identities[2 * $0]), pid: pid_t(identities[2 * $0 + 1])) }
  }

  /// Each rank's host (a hash of its name) and process id.
  private var peers: [(host: UInt32, pid: pid_t)] = []

  /// This host's name, hashed to 32 bits (FNV-1a: the same on every rank).
  private static var hostIdentity: UInt32 {
    var name = [CChar](repeating: 0, count: 256)
    gethostname(&name, name.count)
    return name.prefix { $0 != 0 }.reduce(2_166_136_261 as UInt32) {
      ($0 ^ UInt32(UInt8(bitPattern: $1))) &* 16_777_619
    }
  }

  /// The ranks on this host whose process is gone ("rank 1", "ranks 1, 3"), or "rank ?".
  private var vanishedRanks: String {
    let gone = peers.indices.filter { peer in
      peer != rank && peers[peer].host == Self.hostIdentity && kill(peers[peer].pid, 0) != 0 && errno == ESRCH
    }
    guard !gone.isEmpty else { return "rank ?" }
    return (gone.count == 1 ? "rank " : "ranks ") + gone.map(String.init).joined(separator: ", ")
  }

  /// Whether `finalize` has run (the job ended in agreement: no abort is needed).
  public private(set) var isFinalized = false

  /// Leaves the job (every rank, at the end of a run, or at a stop every rank agreed on).
  public func finalize() {
    guard !isFinalized else { return }
    isFinalized = true
    var request: gt_mpi_request?
    check(gt_mpi_ibarrier(&request), "MPI_Ibarrier")
    wait(&request, "the final barrier")
    _ = gt_mpi_finalize()
  }

  /// Ends the job on every rank because this one failed: rank 0 records it (`onFailure`), another
  /// rank tells rank 0, which aborts the job from wherever it waits (after `gracePeriod` + 5 s
  /// without an answer this rank aborts it itself).
  public func fail(reason: String) -> Never {
    let message = "rank \(rank): \(reason)"
    if rank == 0 {
      onFailure?(message)
    } else {
      let bytes = Array(message.utf8)
      _ = gt_mpi_send_bytes(bytes, Int32(bytes.count), 0, Self.failureTag)
      Thread.sleep(forTimeInterval: gracePeriod + 5)
    }
    gt_mpi_abort(1)
    exit(1)
  }

  public func sum(_ values: UnsafeMutableBufferPointer<Double>) {
    reduce(values, type: Int32(GT_MPI_DOUBLE), wide: { (x: Double) in x }, narrow: { (x: Double) in x })
  }

  public func sum(_ values: UnsafeMutableBufferPointer<Float>) {
    reduce(values, type: Int32(GT_MPI_FLOAT), wide: { (x: Float) in Double(x) }, narrow: { (x: Double) in Float(x) })
  }

  /// The rank-ordered sum (see the type's comment), exchanging `Element`s and adding in Double.
  private func reduce<Element: BinaryFloatingPoint>(
    _ values: UnsafeMutableBufferPointer<Element>, type: Int32, wide: (Element) -> Double,
    narrow: (Double) -> Element
  ) {
    guard size > 1, !values.isEmpty else { return }
    let started = DispatchTime.now().uptimeNanoseconds
    defer {
      sumCount += 1
      secondsInSums += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
    }
    let chunk = (values.count + size - 1) / size
    // The buffers of a non-blocking exchange must stay put until it completes: allocated here.
    let padded = UnsafeMutableBufferPointer<Element>.allocate(capacity: chunk * size)
    let received = UnsafeMutableBufferPointer<Element>.allocate(capacity: chunk * size)
    let mine = UnsafeMutableBufferPointer<Element>.allocate(capacity: chunk)
    defer { [padded, received, mine].forEach { $0.deallocate() } }
    padded.initialize(repeating: 0)
    for i in values.indices { padded[i] = values[i] }
    var request: gt_mpi_request?
    check(
      gt_mpi_ialltoall(padded.baseAddress, received.baseAddress, Int32(chunk), type, &request), "MPI_Ialltoall")
    wait(&request, "a sum over the ranks")
    let totals = rankOrderedSum(ranks: size, count: chunk) { wide(received[$0 * chunk + $1]) }
    for i in 0..<chunk { mine[i] = narrow(totals[i]) }
    check(gt_mpi_iallgather(mine.baseAddress, padded.baseAddress, Int32(chunk), type, &request), "MPI_Iallgather")
    wait(&request, "a sum over the ranks")
    for i in values.indices { values[i] = padded[i] }
    bytesSent += 2 * (size - 1) * chunk * MemoryLayout<Element>.size
  }

  /// Polls `request` until it completes, listening meanwhile (rank 0) for failure reports and
  /// for a stop asked of this process.
  private func wait(_ request: inout gt_mpi_request?, _ what: String) {
    var stopNoticed: Date?
    var spins = 0
    while true {
      var done: Int32 = 0
      check(gt_mpi_test(&request, &done), "MPI_Test")
      if done != 0 { return }
      if rank == 0, let report = receiveFailure() {
        onFailure?(report)
        gt_mpi_abort(1)
        exit(1)
      }
      if stopRequested() {
        let noticed = stopNoticed ?? Date()
        stopNoticed = noticed
        if Date().timeIntervalSince(noticed) > gracePeriod {
          let vanished = vanishedRanks
          let message =
            vanished == "rank ?"
            ? "rank ?: the job was ended while rank \(rank) waited for \(what): another rank ended first (mpirun's message names it)"
            : "\(vanished): its process ended while rank \(rank) waited for \(what) (killed, or crashed)"
          if rank == 0 {
            onFailure?(message)
          } else {
            FileHandle.standardError.write(
              Data("gradtrace: rank \(rank): the job was ended while this rank waited for \(what)\n".utf8))
          }
          exit(1)
        }
      }
      spins += 1
      if spins > 1000 { usleep(50) }  // spin briefly, then leave the core to the other ranks
    }
  }

  /// A failure report from another rank, if one has arrived: "rank r: reason".
  private func receiveFailure() -> String? {
    var (found, source, length): (Int32, Int32, Int32) = (0, 0, 0)
    guard gt_mpi_probe_bytes(Self.failureTag, &found, &source, &length) == 0, found != 0 else { return nil }
    var bytes = [UInt8](repeating: 0, count: Int(length))
    _ = gt_mpi_receive_bytes(&bytes, length, source, Self.failureTag)
    return String(decoding: bytes, as: UTF8.self)
  }

  private func check(_ code: Int32, _ call: String) {
    guard code != 0 else { return }
    FileHandle.standardError.write(Data("gradtrace: rank \(rank): \(call) failed with MPI error \(code)\n".utf8))
    gt_mpi_abort(1)
    exit(1)
  }
}
