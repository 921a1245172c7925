import Datasets
import Foundation
import _NumericalTestSupport
import TensorCore
import Testing

func temporaryDirectory() -> String {
  let path = ScratchDirectory.path("data")
  try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  return path
}

/// Writes an IDX file, gzip-compressed through the system's gzip.
func writeIDX(_ path: String, dimensions: [Int], bytes: [UInt8], compress: Bool = true) throws {
  var data: [UInt8] = [0, 0, 0x08, UInt8(dimensions.count)]
  for d in dimensions { data += [UInt8(d >> 24 & 255), UInt8(d >> 16 & 255), UInt8(d >> 8 & 255), UInt8(d & 255)] }
  data += bytes
  let raw = compress ? String(path.dropLast(3)) : path
  try Data(data).write(to: URL(fileURLWithPath: raw))
  if compress {
    let gzip = Process()
    gzip.executableURL = URL(fileURLWithPath: "/bin/gzip")
    gzip.arguments = ["-f", raw]
    try gzip.run()
    gzip.waitUntilExit()
  }
}

@Suite("Datasets")
struct DatasetTests {
  @Test func fashionMNISTStatisticsAndPadding() throws {
    let (images, labels) = try FashionMNIST.load(split: .train)
    #expect(images.shape == [60_000, 1, 32, 32])
    #expect(labels.count == 60_000 && Set(labels) == Set(0..<10))
    // Undo the normalisation on the 28×28 interior: the documented mean and std are the data's.
    var sum = 0.0
    var squares = 0.0
    for n in 0..<60_000 {
      for row in 2..<30 {
        for column in 2..<30 {
          let pixel =
            Double(images.scalars[n * 1024 + row * 32 + column]) * FashionMNIST.standardDeviation + FashionMNIST.mean
          sum += pixel
          squares += pixel * pixel
        }
      }
    }
    let count = 60_000.0 * 784
    let mean = sum / count
    #expect(abs(mean - FashionMNIST.mean) < 1e-4)
    #expect(abs((squares / count - mean * mean).squareRoot() - FashionMNIST.standardDeviation) < 1e-4)
    // The padding is black: the normalised value of 0.
    #expect(abs(Double(images.scalars[0]) - (-FashionMNIST.mean / FashionMNIST.standardDeviation)) < 1e-6)
    let unpadded = try FashionMNIST.load(split: .test, limit: 5, pad: false)
    #expect(unpadded.images.shape == [5, 1, 28, 28])
  }

  @Test func missingDirectoryIsNamed() {
    #expect { try FashionMNIST.load(directory: "/no/such/dir", split: .train) } throws: {
      "\($0)".contains("/no/such/dir") && "\($0)".contains("no such directory")
    }
  }

  @Test func truncatedAndCorruptFilesAreNamed() throws {
    let directory = temporaryDirectory()
    let images = "\(directory)/train-images-idx3-ubyte.gz"
    let labels = "\(directory)/train-labels-idx1-ubyte.gz"
    try writeIDX(images, dimensions: [3, 28, 28], bytes: [UInt8](repeating: 7, count: 3 * 784 - 10))
    try writeIDX(labels, dimensions: [3], bytes: [1, 2, 3])
    #expect { try FashionMNIST.load(directory: directory, split: .train) } throws: {
      "\($0)".contains(images) && "\($0)".contains("truncated")
    }
    try Data([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xde, 0xad, 0xbe, 0xef]).write(to: URL(fileURLWithPath: images))
    #expect { try FashionMNIST.load(directory: directory, split: .train) } throws: {
      "\($0)".contains(images)
    }
    try writeIDX(images, dimensions: [3, 28, 28], bytes: [UInt8](repeating: 7, count: 3 * 784))
    try writeIDX(labels, dimensions: [3], bytes: [1, 12, 3])
    #expect { try FashionMNIST.load(directory: directory, split: .train) } throws: {
      "\($0)".contains(labels) && "\($0)".contains("label 12")
    }
    try writeIDX(labels, dimensions: [3], bytes: [1, 2, 3])
    let loaded = try FashionMNIST.load(directory: directory, split: .train)
    #expect(loaded.labels == [1, 2, 3])
  }

  @Test func batchFileRoundTripAndErrors() throws {
    let directory = temporaryDirectory()
    let path = "\(directory)/batch.h5"
    let images = Tensor<Float>(shape: [2, 1, 2, 2], scalars: [1, 2, 3, 4, 5, 6, 7, 8])
    try BatchFile.write(images: images, labels: [3, 1], to: path)
    let read = try BatchFile.read(path)
    #expect(read.images.shape == [2, 1, 2, 2] && read.images.scalars == images.scalars && read.labels == [3, 1])
    #expect { try BatchFile.read("\(directory)/missing.h5") } throws: { "\($0)".contains("missing.h5") }
    let text = "\(directory)/text.h5"
    try "not hdf5".write(toFile: text, atomically: true, encoding: .utf8)
    #expect { try BatchFile.read(text) } throws: { "\($0)".contains("not an HDF5 file") }
    try BatchFile.write(images: Tensor(shape: [3, 1, 1, 1], scalars: [0, .nan, 1]), labels: [0, 1, 2], to: path)
    #expect { try BatchFile.read(path) } throws: { "\($0)".contains("/images") && "\($0)".contains("non-finite") }
  }
}
