/// Recovery of a trace whose writer was killed (SIGKILL, a crash, a lost machine): the writer
/// mark is cleared, so plain h5py and h5dump open the file again, and a status still reading
/// "running" becomes "killed after step N", N the last flushed step. Every flushed row stays.
public enum TraceRecovery {
  /// What `recover(_:)` found and did.
  public struct Outcome: Sendable {
    /// Step rows kept (all that were flushed).
    public var steps: Int
    /// The last flushed step, nil when none was.
    public var lastStep: Int?
    /// The status before and after.
    public var previousStatus: String
    public var status: String
  }

  /// - Throws: `HDF5Error` naming the file when it cannot be opened even with the mark cleared.
  public static func recover(_ path: String) throws(HDF5Error) -> Outcome {
    try HDF5File.clearWriterMark(path)
    let file = try HDF5File(path, access: .update)
    let steps = file.exists(TraceSchema.step) ? try file.read(Int64.self, from: TraceSchema.step).values : []
    let previous = try file.stringAttribute("status", on: TraceSchema.summary)
    var status = previous
    if previous == "running" {
      status = steps.last.map { "killed after step \($0)" } ?? "killed before its first step was written"
      try file.setAttribute("status", status, on: TraceSchema.summary)
    }
    try file.close()
    return Outcome(steps: steps.count, lastStep: steps.last.map(Int.init), previousStatus: previous, status: status)
  }
}
