/// Recovery of a trace whose writer was killed (SIGKILL, a crash, a lost machine): the writer
/// mark is cleared, so plain h5py and h5dump open the file again, and a status still reading
/// "running" becomes "killed after step N", N the last flushed step. Every flushed row stays.
///
/// A kill inside a flush can leave two more traces of the flush it interrupted: datasets of one
/// group that already hold its rows while others do not, and a last chunk torn mid-write (see
/// `HDF5File.repairTornLastChunk`). Each group is cut to the rows all its datasets hold, the rows
/// every completed flush wrote, and a torn last chunk is rewritten from the bytes of those rows.
public enum TraceRecovery {
  /// What `recover(_:)` found and did.
  public struct Outcome: Sendable {
    /// Step rows kept (all that were flushed).
    public var steps: Int
    /// The last flushed step of a killed writer's trace, nil when none was (or the trace was closed).
    public var lastStep: Int?
    /// The status before and after.
    public var previousStatus: String
    public var status: String
    /// Rows of the interrupted flush that some datasets held and were cut, per group index path.
    public var rowsCut: [String: Int] = [:]
    /// Datasets whose torn last chunk was rewritten.
    public var repairedDatasets: [String] = []
  }

  /// - Throws: `HDF5Error` naming the file when it cannot be opened even with the mark cleared,
  ///   or (for a killed writer's trace) when a chunk other than a dataset's last fails its checksum.
  public static func recover(_ path: String) throws(HDF5Error) -> Outcome {
    try HDF5File.clearWriterMark(path)
    let file = try HDF5File(path, access: .update)
    let previous = try file.stringAttribute("status", on: TraceSchema.summary)
    var outcome = Outcome(steps: 0, lastStep: nil, previousStatus: previous, status: previous)
    // Only a trace whose writer never closed it can hold an interrupted flush; in a closed one a
    // failing checksum is damage and is left for readers to report.
    if previous == "running" {
      let version = try file.attribute("format_version", as: Int64.self)
      for group in TraceSchema.appendableGroups(version: version) {
        let present = group.filter(file.exists)
        guard !present.isEmpty else { continue }
        var lengths: [Int] = []
        for objectPath in present { lengths.append(try file.shape(of: objectPath)[0]) }
        let kept = lengths.min() ?? 0
        if let longest = lengths.max(), longest > kept { outcome.rowsCut[group[0]] = longest - kept }
        for objectPath in present where try file.repairTornLastChunk(objectPath, keepingRows: kept) {
          outcome.repairedDatasets.append(objectPath)
        }
      }
    }
    outcome.steps = file.exists(TraceDataset.step.path) ? try file.shape(of: TraceDataset.step.path)[0] : 0
    if previous == "running" {
      // A closed trace is only reported on: its rows are read by whoever analyses it.
      if outcome.steps > 0 {
        let last = try file.readRows(Int64.self, from: TraceDataset.step.path, start: outcome.steps - 1, count: 1)
        outcome.lastStep = Int(last[0])
      }
      outcome.status = outcome.lastStep.map { "killed after step \($0)" } ?? "killed before its first step was written"
      try file.setAttribute("status", outcome.status, on: TraceSchema.summary)
    }
    try file.close()
    return outcome
  }
}
