import TensorCore
import TraceIO

/// A fixed batch in HDF5, for probing curvature reproducibly and across tools
/// (docs/design.md): `/images` float32 [N, C, H, W], already normalised; `/labels` int64 [N].
public enum BatchFile {
  /// Reads a batch file.
  /// - Throws: `DatasetError` naming the file, the path inside it and what was expected.
  public static func read(_ path: String) throws(DatasetError) -> (images: Tensor<Float>, labels: [Int]) {
    do {
      let file = try HDF5File(reading: path)
      for objectPath in ["/images", "/labels"] where !file.exists(objectPath) {
        throw DatasetError(
          file: path, message: "missing \(objectPath) (a batch file holds /images [N, C, H, W] and /labels [N])")
      }
      let (pixels, shape) = try file.read(Float.self, from: "/images")
      guard shape.count == 4, shape[0] >= 1 else {
        throw DatasetError(file: path, message: "/images has shape \(shape), expected [N, C, H, W]")
      }
      let (labels, labelShape) = try file.read(Int64.self, from: "/labels")
      guard labelShape == [shape[0]] else {
        throw DatasetError(
          file: path, message: "/labels has shape \(labelShape), expected [\(shape[0])] to match /images")
      }
      if let bad = pixels.firstIndex(where: { !$0.isFinite }) {
        throw DatasetError(
          file: path, message: "/images holds a non-finite value (\(pixels[bad])) at flat index \(bad)")
      }
      return (Tensor(shape: shape, scalars: pixels), labels.map { Int($0) })
    } catch let error as DatasetError {
      throw error
    } catch {
      throw DatasetError(file: path, message: "\(error)")
    }
  }

  /// Writes a batch file.
  public static func write(images: Tensor<Float>, labels: [Int], to path: String) throws(HDF5Error) {
    let file = try HDF5File(creating: path)
    try file.write(images.scalars, shape: images.shape, to: "/images")
    try file.write(labels.map { Int64($0) }, shape: [labels.count], to: "/labels")
    try file.close()
  }
}
