import Foundation
import TensorCore
import Testing

@Suite("One thread pool for every kernel, and the profile that measures them")
struct ParallelTests {
  /// Every worker index runs exactly once, also from inside a parallel region (where the
  /// OpenMP team is a single thread and runs them all).
  @Test func everyWorkerRunsOnce() {
    for workers in [1, 2, 3, 7] {
      let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: workers * workers)
      counts.initialize(repeating: 0)
      defer { counts.deallocate() }
      runWorkers(workers) { outer in
        runWorkers(workers) { inner in counts[outer * workers + inner] += 1 }
      }
      #expect(counts.allSatisfy { $0 == 1 }, "\(workers) workers: \(Array(counts))")
    }
  }

  /// Chunks of `parallelElements` tile the range in order, whatever the thread count.
  @Test func elementChunksTileTheRange() {
    for threads in [1, 2, 5] {
      ComputeThreads.$override.withValue(threads) {
        for count in [0, 1, 100, 1 << 17] {
          let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(count, 1))
          hits.initialize(repeating: 0)
          defer { hits.deallocate() }
          parallelElements(count, grain: 1000) { range in for i in range { hits[i] += 1 } }
          #expect(hits.prefix(count).allSatisfy { $0 == 1 }, "\(count) elements on \(threads) threads")
        }
      }
    }
  }

  /// Nested measurements are charged their own time: the kinds add up to the outer
  /// measurement, a kind nested in itself is one call, and only declared FLOPs are counted.
  @Test func profileChargesOwnTime() {
    let profile = KernelProfile()
    let start = Date()
    KernelProfile.$active.withValue(profile) {
      KernelProfile.measure("layer") {
        usleep(20_000)
        KernelProfile.measure("kernel", flops: 1e9) { usleep(30_000) }
        KernelProfile.measure("layer", flops: 5) { usleep(10_000) }
      }
    }
    let elapsed = Date().timeIntervalSince(start)
    let entries = profile.entries
    let (layer, kernel) = (entries["layer"]!, entries["kernel"]!)
    #expect(layer.calls == 1 && kernel.calls == 1)
    #expect(kernel.flops == 1e9 && layer.flops == 5)
    #expect(kernel.seconds >= 0.030 && layer.seconds >= 0.030, "\(entries)")
    #expect(layer.seconds + kernel.seconds <= elapsed, "\(entries) in \(elapsed) s")
    // Outside `withValue` nothing is charged.
    KernelProfile.measure("layer") { usleep(1000) }
    #expect(profile.entries == entries)
  }
}
