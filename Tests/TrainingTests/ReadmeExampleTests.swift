import Foundation
import Testing
import TraceIO

// README example: begin
func instrumentMyTrainingLoop(path: String) throws {
  // Declare the layers (weight tensors) and, optionally, the blocks whose activations you log.
  let layout = TraceLayout(
    layerNames: ["conv1", "conv2", "fc"], layerKinds: ["conv", "conv", "linear"],
    layerParameters: [864, 9216, 330], activationNames: nil, recordsCurvature: false)
  let trace = try TraceWriter(
    path: path, configuration: #"{"lr": 0.001}"#, model: #"{"name": "my-net"}"#,
    toolVersion: "my-trainer 1.0", layout: layout, flushEvery: 100)
  for step in 0..<1000 {
    // … your forward, backward and update here; then the step's row, keyed by the schema's
    // entries (docs/trace-format.md). What a row leaves out is stored as NaN: not measured.
    var row = TraceRow(.steps, at: step)
    row[.epoch] = Double(step / 100)
    row[.loss] = 2.3
    row[.learningRate] = 1e-3
    row[values: .gradientMeanAbs] = [1e-3, 2e-3, 5e-3]  // one value per layer
    row[values: .gradientL2Norm] = [0.1, 0.2, 0.3]
    try trace.append(row)
  }
  try trace.finish(status: "finished")
}
// README example: end

@Suite("README example")
struct ReadmeExampleTests {
  /// The README shows exactly the code above, which this file compiles and runs.
  @Test func readmeShowsTheCompiledExample() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
    let source = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8)
    let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
    let begin = source.range(of: "// README example: begin\n")!.upperBound
    let end = source.range(of: "// README example: end")!.lowerBound
    let example = String(source[begin..<end])
    #expect(
      readme.contains("```swift\nimport TraceIO\n\n" + example + "```"),
      "README's example differs from ReadmeExampleTests.swift")

    let path = FileManager.default.temporaryDirectory.appendingPathComponent("readme-\(UUID().uuidString).h5").path
    try instrumentMyTrainingLoop(path: path)
    let reader = try TraceReader(path: path)
    #expect(try reader.stepCount() == 1000 && reader.status == "finished")
  }
}
