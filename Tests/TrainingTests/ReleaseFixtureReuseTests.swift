import Foundation
import Testing
import Training

/// `reproduce` reuses a run that release 0.1.0 finished (Tests/Fixtures/release-0.1.0): its
/// checkpoint's configuration and summary still decode and match the plan, so nothing is moved
/// aside or trained again.
@Suite("Reproduction reuses release 0.1.0's runs")
struct ReleaseFixtureReuseTests {
  @Test func theSmokeRunIsReused() throws {
    let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("Fixtures/release-0.1.0/reproduce-smoke").path
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reuse-\(UUID().uuidString)").path
    try FileManager.default.copyItem(atPath: fixture, toPath: directory)
    let run = try #require(ReproductionPlan.runs(scale: .smoke).first)
    var runner = ReproductionRunner(directory: directory)
    nonisolated(unsafe) var notices: [String] = []
    runner.notice = { notices.append($0) }
    let result = try runner.execute(run)
    #expect(result.outcome == .reused)
    #expect(notices.isEmpty, "\(notices)")
    #expect(result.summary.testAccuracy == 0.227)
    #expect(result.summary.epochs.count == 2)
  }
}
