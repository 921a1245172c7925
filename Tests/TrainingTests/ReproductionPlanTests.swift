import Foundation
import Testing
import TraceIO
import Training

/// The paper's Table 1 as runs: every row at small and paper scale, the headline rows at smoke.
@Suite("Reproduction plan")
struct ReproductionPlanTests {
  @Test func tableOneRowsAndScales() {
    let paper = ReproductionPlan.runs(scale: .paper, dataDirectory: "/data")
    #expect(paper.count == 18, "Table 1's 16 rows and 2 beyond the paper")
    #expect(Set(paper.map(\.name)).count == 18, "one directory and trace per row")
    let beyond = paper.filter { $0.paperTestAccuracy == nil }
    #expect(beyond.map(\.configuration.model.shortName) == ["densenet40-bn", "densenet40"])
    #expect(beyond.allSatisfy { $0.label.contains("beyond the paper") && $0.paperTrainAccuracy == nil })
    #expect(paper.allSatisfy { $0.configuration.dataset == .cifar100 && $0.configuration.epochs == 100 })
    #expect(paper.allSatisfy { $0.configuration.model.classes == 100 && $0.configuration.model.inputShape[0] == 3 })
    let best = paper.first { $0.paperTestAccuracy == 0.6181 }!
    #expect(best.label == "VGG38 BN + Resnet" && best.configuration.batchSize == 256)
    #expect(best.configuration.weightDecay == 1e-4 && best.configuration.model.residual && best.recordsCurvature)
    let sigmoid = paper.first { $0.label == "VGG38 Sigmoid BN" }!
    #expect(sigmoid.configuration.model.shortName == "vgg38-bn-sigmoid" && sigmoid.configuration.batchSize == 512)

    let small = ReproductionPlan.runs(scale: .small)
    #expect(small.count == 18 && small.allSatisfy { $0.configuration.dataset == .fashionMNIST })
    #expect(small.allSatisfy { $0.configuration.model.inputShape[0] == 1 && $0.configuration.model.classes == 10 })
    #expect(small.map(\.configuration.batchSize) == paper.map(\.configuration.batchSize))

    let smoke = ReproductionPlan.runs(scale: .smoke)
    #expect(
      smoke.map(\.label) == [
        "VGG08 baseline", "VGG38 baseline", "VGG38 BN", "VGG38 BN + Resnet", "DenseNet-BC 40 BN (beyond the paper)",
        "DenseNet-BC 40 (beyond the paper)",
      ])
    #expect(smoke.allSatisfy { $0.recordsCurvature == ($0.paperTestAccuracy != nil) })
    #expect(smoke.allSatisfy { $0.configuration.batchSize == 100 })
    #expect(smoke.allSatisfy { (try? $0.configuration.model.model()) != nil })
  }

  /// A finished run is reused; one whose summary is missing (interrupted after its last
  /// checkpoint) resumes and its trace continues; another configuration is trained afresh.
  @Test func runnerReusesResumesAndRetrains() throws {
    let directory = temporaryDirectory("reproduce")
    let runner = ReproductionRunner(directory: directory)
    var run = ReproductionRun(
      name: "tiny", label: "tiny", configuration: syntheticConfiguration(epochs: 2), recordsCurvature: true,
      paperTestAccuracy: 0.5, paperTrainAccuracy: 0.5)
    let first = try runner.execute(run)
    #expect(first.outcome == .trained)
    let steps = try TraceReader(path: runner.tracePath(run)).stepCount()
    #expect(try runner.execute(run).outcome == .reused)
    try FileManager.default.removeItem(atPath: "\(runner.runDirectory(run))/summary.json")
    let resumed = try runner.execute(run)
    #expect(resumed.outcome == .resumed && resumed.summary.testAccuracy == first.summary.testAccuracy)
    do {
      let reader = try TraceReader(path: runner.tracePath(run))
      #expect(try reader.stepCount() == steps && reader.status == "finished")
    }
    run.configuration.learningRate = 2e-3
    #expect(try runner.execute(run).outcome == .trained)
  }
}
