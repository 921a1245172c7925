import Foundation
import Testing

/// `reproduce --plan`, `--row` and `--collect`: Table 1 as a job array. A row of the smoke scale
/// trained as its own process, given its index as a Slurm array task is, then collected with
/// another row still missing, gives the table that one `reproduce` of that row gives. (Only the
/// smoke scale's first row is fast enough for the suite; rows 0 and 1 apart and together give
/// the same table too: BENCHMARKS.md.)
@Suite("reproduce as a job array")
struct ReproduceArrayTests {
  @Test func rowsRunApartGiveTheTableOfOneRun() throws {
    let (apart, once) = (temporaryPath("apart"), temporaryPath("once"))
    let shared = ["reproduce", "--scale", "smoke", "--threads", "2"]

    let plan = try GradTraceRun(shared + ["--output", apart, "--rows", "0,1", "--plan"])
    #expect(plan.status == 0, "\(plan.standardError)")
    let script = try String(contentsOfFile: "\(apart)/plan/slurm.sh", encoding: .utf8)
    #expect(script.contains("#SBATCH --array=0,1") && script.contains("--row auto"), "\(script)")
    let rows = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(apart)/plan/rows.json")))
    #expect((rows as? [[String: Any]])?.map { $0["row"] as? Int } == [0, 1])

    // Nothing finished yet: collect says so.
    let early = try GradTraceRun(shared + ["--output", apart, "--rows", "0,1", "--collect"])
    #expect(early.status == 1 && early.standardError.contains("no row of Table 1 has finished"))
    let row = try GradTraceRun(
      shared + ["--output", apart, "--row", "auto"], environment: ["SLURM_ARRAY_TASK_ID": "0"])
    #expect(row.status == 0 && row.standardOutput.contains("row from SLURM_ARRAY_TASK_ID=0"), "\(row.standardError)")
    #expect(!FileManager.default.fileExists(atPath: "\(apart)/table.csv"), "a row alone writes no table")
    let collected = try GradTraceRun(shared + ["--output", apart, "--rows", "0,1", "--collect"])
    #expect(collected.status == 0, "\(collected.standardError)")
    #expect(collected.standardOutput.contains("missing rows (not finished in \(apart)): 1 (vgg38-b100-lr0.001)"))
    // Row 1 is missing: the table of row 0 only.
    let apartTable = try String(contentsOfFile: "\(apart)/table.csv", encoding: .utf8)

    let single = try GradTraceRun(shared + ["--output", once, "--rows", "0"])
    #expect(single.status == 0, "\(single.standardError)")
    let onceTable = try String(contentsOfFile: "\(once)/table.csv", encoding: .utf8)
    // The run column names the run, not its directory: the tables are the same text.
    #expect(apartTable == onceTable, "apart:\n\(apartTable)\nonce:\n\(onceTable)")
    #expect(apartTable.split(separator: "\n").count == 2)
  }

  /// `mpirun -np 2 gradtrace reproduce --farm`: rows 0 and 1 on one rank each, then rank 0
  /// collects: the table of one `reproduce` of both rows (each row is a single-process run
  /// with the same thread count, so the same bits).
  @Test func farmUnderMPIGivesTheTableOfOneRun() throws {
    let (farm, once) = (temporaryPath("farm"), temporaryPath("once"))
    let shared = ["reproduce", "--scale", "smoke", "--threads", "1", "--rows", "0,1"]
    let farmed = try GradTraceRun(shared + ["--output", farm, "--farm"], ranks: 2, timeout: 600)
    #expect(farmed.status == 0, "\(farmed.standardError)")
    #expect(
      farmed.standardOutput.contains("rank 0 of 2: rows 0") && farmed.standardOutput.contains("rank 1 of 2: rows 1"),
      "\(farmed.standardOutput)")
    let single = try GradTraceRun(shared + ["--output", once], timeout: 600)
    #expect(single.status == 0, "\(single.standardError)")
    let (farmTable, onceTable) = (
      try String(contentsOfFile: "\(farm)/table.csv", encoding: .utf8),
      try String(contentsOfFile: "\(once)/table.csv", encoding: .utf8)
    )
    #expect(farmTable == onceTable, "farm:\n\(farmTable)\nonce:\n\(onceTable)")
    #expect(farmTable.split(separator: "\n").count == 3)
    // Outside mpirun --farm says what it needs.
    let alone = try GradTraceRun(shared + ["--output", temporaryPath("alone"), "--farm"])
    #expect(alone.status != 0 && alone.standardError.contains("mpirun -np K"), "\(alone.standardError)")
  }

  @Test func rowOptionsAreChecked() throws {
    for (arguments, environment, message) in [
      (["--row", "auto"], [:], "none of SLURM_ARRAY_TASK_ID"),
      (["--row", "6"], [:], "has rows 0 to 5"),
      (["--row", "0", "--collect"], [:], "exclude each other"),
      (["--rows", "0,9", "--plan"], [:], "--rows takes row numbers from 0 to 5"),
      (["--row", "auto"], ["SLURM_ARRAY_TASK_ID": "x"], "got 'x'"),
    ] as [([String], [String: String], String)] {
      let run = try GradTraceRun(
        ["reproduce", "--scale", "smoke", "--output", temporaryPath("checks")] + arguments,
        environment: environment.merging([
          "SLURM_ARRAY_TASK_ID": "", "JOB_COMPLETION_INDEX": "", "OMPI_COMM_WORLD_RANK": "",
        ]) { a, _ in a })
      #expect(run.status != 0 && run.standardError.contains(message), "\(arguments): \(run.standardError)")
    }
  }
}
