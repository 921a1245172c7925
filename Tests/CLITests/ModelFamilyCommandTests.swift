import Foundation
import Testing
import TraceIO

/// `--model` names every family, `--model-file` any description; options that do not apply are
/// refused (64); a bad file is named with its layer (1) before anything runs; checkpoints carry
/// the description, so `evaluate`, `probe` and `--resume` rebuild any network from them alone.
@Suite("Model families and model files on the command line")
struct ModelFamilyCommandTests {
  static var exampleModels: String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../examples/models").path
  }

  @Test(arguments: [
    (["--model", "densenet", "--residual"], "--residual does not apply to --model densenet"),
    (["--model", "resnet20", "--activation", "sigmoid"], "--activation does not apply to --model resnet20"),
    (["--model", "vgg38", "--depth", "40"], "--depth does not apply to --model vgg38"),
    (["--model", "resnet32", "--growth-rate", "8"], "--growth-rate does not apply"),
    (["--model", "densenet", "--depth", "41"], "6n + 4"),
    (["--model-file", "x.json", "--model", "vgg08"], "not both"),
    (["--model-file", "x.json", "--batchnorm"], "the file fixes the architecture"),
  ])
  func optionsThatDoNotApplyAreRefused(arguments: [String], message: String) throws {
    let run = try GradTraceRun(["describe"] + arguments)
    #expect(run.status == 64, "\(arguments): \(run.standardError)")
    #expect(run.standardError.contains(message), "\(run.standardError)")
  }

  @Test func badModelFilesNameTheLayer() throws {
    let directory = temporaryPath("bad-models")
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let cases = [
      (
        #"{"name": "x", "input": [1, 8, 8], "layers": [{"name": "a", "kind": "conv", "out_channels": 2}]}"#,
        "layer 'a': unknown kind 'conv'"
      ),
      (
        #"{"name": "x", "input": [1, 8, 8], "layers": [{"name": "a", "kind": "linear", "out_features": 2, "inputs": ["b"]}]}"#,
        "layer 'a' (#0): its input 'b' is not an earlier layer"
      ),
      (
        #"{"name": "x", "input": [1, 8, 8], "layers": [{"name": "a", "kind": "linear", "out_features": 2}]}"#,
        "layer 'a' (#0)"
      ),
      (#"{"name": "x", "input": [1, 8, 8], "layers": ["#, "not a JSON model description"),
    ]
    for (index, (json, message)) in cases.enumerated() {
      let path = "\(directory)/\(index).json"
      try json.write(toFile: path, atomically: true, encoding: .utf8)
      let run = try GradTraceRun(["train", "--model-file", path, "--output", temporaryPath("never")])
      #expect(run.status == 1, "\(json): \(run.standardError)")
      #expect(run.standardError.contains(path) && run.standardError.contains(message), "\(run.standardError)")
    }
    let missing = try GradTraceRun(["describe", "--model-file", "\(directory)/none.json"])
    #expect(missing.status == 1 && missing.standardError.contains("cannot read the model file"))
    let wrongShape = try GradTraceRun([
      "train", "--model-file", "\(Self.exampleModels)/small-cnn.json", "--output", temporaryPath("never"),
    ])
    #expect(wrongShape.status == 1 && wrongShape.standardError.contains("1x16x16"), "\(wrongShape.standardError)")
  }

  /// A model file trains with a trace; its checkpoint alone rebuilds it for evaluate, probe and
  /// resume; describe prints its layers.
  @Test func aModelFileTrainsAndItsCheckpointRebuildsIt() throws {
    let file = "\(Self.exampleModels)/fashion-cnn.json"
    let directory = temporaryPath("fashion-cnn")
    let trace = "\(directory)/trace.h5"
    let train = try GradTraceRun([
      "train", "--model-file", file, "--subset", "300", "--epochs", "1", "--test-examples", "200", "--output",
      directory, "--trace", trace, "--record", "gradients,curvature", "--curvature-every", "1", "--quiet",
    ])
    #expect(train.status == 0, "\(train.standardError)")
    let reader = try TraceReader(path: trace)
    #expect(reader.status == "finished" && reader.model.contains("\"family\":\"graph\""))
    #expect(try reader.stepCount() == 3)
    // Dropout's mask is the step's: the curvature passes and the actual change see the function
    // the gradient was taken of, so the second-order prediction tracks the actual change.
    let analysis = try GradTraceRun(["analyze", trace, "--json"])
    let taylor = try #require(
      (try JSONSerialization.jsonObject(with: Data(analysis.standardOutput.utf8)) as? [String: Any])?["taylor"]
        as? [String: Any])
    let correlation = try #require(taylor["correlation"] as? Double)
    let error = try #require(taylor["median_relative_error"] as? Double)
    #expect(
      correlation > 0.99 && error < 0.25, "Taylor on a dropout network: correlation \(correlation), error \(error)")
    let evaluate = try GradTraceRun([
      "evaluate", "--checkpoint", "\(directory)/best.h5", "--dataset", "fashion-mnist", "--examples", "200",
    ])
    #expect(evaluate.status == 0 && evaluate.standardOutput.contains("fashion-cnn on 200 examples"))
    let probe = try GradTraceRun([
      "probe", "--checkpoint", "\(directory)/last.h5", "--dataset", "fashion-mnist", "--examples", "50",
    ])
    #expect(probe.status == 0, "\(probe.standardError)")
    let resume = try GradTraceRun(["train", "--resume", directory, "--epochs", "2", "--extend-schedule", "--quiet"])
    #expect(resume.status == 0, "\(resume.standardError)")
    #expect(try TraceReader(path: trace).stepCount() == 6)
    let describe = try GradTraceRun(["describe", "--model-file", file])
    #expect(
      describe.status == 0 && describe.standardOutput.contains("merge") && describe.standardOutput.contains("maxpool"))
  }

  /// Each built-in family trains end to end (tiny subsets: the point is the wiring).
  @Test(arguments: [
    ["--model", "resnet20", "--batchnorm", "--residual"], ["--model", "resnet20"],
    ["--model", "densenet", "--depth", "10", "--growth-rate", "4", "--batchnorm"],
  ])
  func familiesTrain(_ model: [String]) throws {
    let directory = temporaryPath("family")
    let run = try GradTraceRun(
      ["train"] + model + [
        "--subset", "200", "--epochs", "1", "--test-examples", "100", "--batch-size", "50", "--output", directory,
        "--trace", "\(directory)/trace.h5", "--quiet",
      ])
    #expect(run.status == 0, "\(model): \(run.standardError)")
    let analyze = try GradTraceRun(["analyze", "\(directory)/trace.h5"])
    #expect(analyze.status == 0 && analyze.standardOutput.contains("verdict"), "\(analyze.standardError)")
  }
}
