import Foundation
import _NumericalTestSupport
import Testing
import TraceIO

/// The schema table is the one declaration of the format: the document is it, its entries are
/// consistent, and version 1 files read through it.
@Suite("Trace schema")
struct TraceSchemaTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  @Test func theDocumentHoldsExactlyTheSchemaTable() throws {
    let document = try String(
      contentsOf: Self.root.appendingPathComponent("docs/trace-format.md"), encoding: .utf8)
    let begin = try #require(document.range(of: "do not edit by hand -->\n")).upperBound
    let end = try #require(document.range(of: "<!-- end of schema table -->")).lowerBound
    #expect(
      String(document[begin..<end]) == TraceSchema.markdownTable,
      "docs/trace-format.md's table differs from the schema: regenerate it with `gradtrace inspect --schema`")
  }

  @Test func entriesAreConsistent() {
    for index in TraceIndex.allCases {
      let datasets = TraceSchema.datasets(following: index)
      #expect(datasets.first == index.dataset && index.dataset.width == .one, "\(index)'s index dataset comes first")
      #expect(Set(datasets.map(\.name)).count == datasets.count, "\(index): names are unique (export columns)")
      // (Block outputs' histograms also need the activations recorded, noise's curvature side
      // the curvature.)
      #expect(
        datasets.allSatisfy {
          $0.presence == index.presence || index.presence == .always
            || ($0.presence == .activationHistograms && index.presence == .histograms)
            || ($0.presence == .noiseCurvature && index.presence == .noise)
        }, "\(index): a dataset is recorded whenever its index is")
      #expect(index.dataset.element != .float32, "\(index): steps and epochs are integers")
    }
    #expect(Set(TraceSchema.all.map(\.path)).count == TraceSchema.all.count)
    #expect(TraceSchema.all.allSatisfy { !$0.meaning.isEmpty })
    // Recovery's groups: each index with its datasets; version 1 without the new indices.
    #expect(TraceSchema.appendableGroups(version: 2).count == TraceIndex.allCases.count)
    let versionOne = TraceSchema.appendableGroups(version: 1)
    #expect(versionOne.count == 3 && versionOne[1].contains("/curvature/layer_gHg"))
    #expect(!versionOne.joined().contains("/updates/gradient_cosine"))
  }

  /// Release 0.1.0's trace (curvature every 2 steps; per-layer split every 2nd measurement, trace
  /// every 3rd, eigenvalue every 2nd): its NaN rows become the sparse indices' absent rows.
  @Test func aVersionOneTraceReadsOnTheSparseIndices() throws {
    let path = Self.root.appendingPathComponent("Tests/Fixtures/release-0.1.0/trace-sparse-curvature.h5").path
    let reader = try TraceReader(path: path)
    #expect(reader.formatVersion == 1)
    #expect(try reader.steps(.curvature) == [0, 2, 4, 6, 8, 10])
    #expect(try reader.steps(.layerCurvature) == [0, 4, 8])
    #expect(try reader.steps(.hessianTrace) == [0, 6])
    #expect(try reader.steps(.eigenvalue) == [0, 4, 8])
    let split = try reader.rows(.layerGHg)
    #expect(split.count == 3 && split.allSatisfy { $0.count == 9 && $0.allSatisfy(\.isFinite) })
    #expect(try reader.values(.hessianTrace).allSatisfy(\.isFinite))
    #expect(try reader.rows(.layerHessianTrace).count == 2)
    #expect(!reader.holds(.updateGradientCosine))
    #expect(try reader.values(.updateGradientCosine).isEmpty)
    #expect(try reader.rowCount(.steps) == 12)
    #expect(try reader.rowCount(.epochs) == 2)
  }

  /// Each dataset of a version 2 file says what it is, for h5py users.
  @Test func datasetsCarryTheirUnitMeaningAndIndex() throws {
    let path = ScratchDirectory.path("schema") + ".h5"
    let layout = TraceLayout(
      layerNames: ["a"], layerKinds: ["conv"], layerParameters: [3], activationNames: ["b"], recordsCurvature: true,
      spectrum: TraceLayout.SpectrumShape(topK: 2, probes: 1, steps: 3, gridPoints: 5),
      histogramBins: LogHistogramBins(lowDecade: -2, highDecade: 1, binsPerDecade: 2), recordsNoise: true,
      merges: [TraceLayout.MergeColumn(layer: "add", kind: "add", input: "b")])
    let writer = try TraceWriter(path: path, configuration: "{}", model: "{}", toolVersion: "t", layout: layout)
    try writer.finish(status: "finished")
    let file = try HDF5File(reading: path)
    for dataset in TraceSchema.all {
      #expect(try file.stringAttribute("description", on: dataset.path) == dataset.meaning)
      if !dataset.unit.isEmpty { #expect(try file.stringAttribute("unit", on: dataset.path) == dataset.unit) }
      if let index = dataset.index {
        #expect(try file.stringAttribute("index", on: dataset.path) == index.dataset.path)
      }
    }
  }
}
