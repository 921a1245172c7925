import Foundation
import TensorCore
import Testing

@Suite("oneDNN's channel-blocked layout")
struct TensorLayoutTests {
  /// `.blocked16` puts (n, c, h, w) at ((n·C/16 + c/16)·H·W + h·W + w)·16 + c mod 16, and the
  /// conversion back restores the NCHW tensor exactly.
  @Test func blockedOffsetsAndRoundTrip() {
    let shape = [3, 32, 5, 7]
    let x = Tensor<Float>(shape: shape, scalars: (0..<shape.reduce(1, *)).map { Float($0) })
    let blocked = x.inLayout(.blocked16)
    #expect(blocked.layout == .blocked16 && blocked.shape == shape)
    let (c, pixels) = (shape[1], shape[2] * shape[3])
    var misplaced = 0
    for n in 0..<shape[0] {
      for ch in 0..<c {
        for p in 0..<pixels {
          let offset = ((n * c / 16 + ch / 16) * pixels + p) * 16 + ch % 16
          if blocked.scalars[offset] != x.scalars[(n * c + ch) * pixels + p] { misplaced += 1 }
        }
      }
    }
    #expect(misplaced == 0)
    let back = blocked.inLayout(.nchw)
    #expect(back.layout == .nchw && back.scalars == x.scalars)
  }

  /// oneDNN reads and writes the blocked layout as `TensorLayout` describes it: a convolution
  /// of a blocked input into a blocked output equals the NCHW one, element for element.
  @Test func convolutionsTakeAndGiveEitherLayout() throws {
    let g = ConvolutionGeometry(
      batch: 2, inputChannels: 16, height: 6, width: 6, outputChannels: 32, kernelSize: 3, stride: 1, padding: 1)
    let x = ConvolutionTests.random(g.inputShape, seed: 1).converted(to: Float.self)
    let w = ConvolutionTests.random(g.filterShape, seed: 2).converted(to: Float.self)
    let dY = ConvolutionTests.random(g.outputShape, seed: 3).converted(to: Float.self)
    let plain = try #require(OneDNNConvolution.forward(x, filter: w, bias: nil, geometry: g))
    let blocked = try #require(
      OneDNNConvolution.forward(x.inLayout(.blocked16), filter: w, bias: nil, geometry: g, preferring: .blocked16))
    // oneDNN computes in nChw16c on AVX-512 (this project's machines); elsewhere it may choose
    // another blocking, and the output then comes back NCHW.
    let avx512 = ((try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? "").contains("avx512f")
    if avx512 { #expect(blocked.layout == .blocked16, "oneDNN computes this geometry blocked on AVX-512") }
    #expect(blocked.inLayout(.nchw).scalars == plain.scalars)
    let grads = try #require(
      OneDNNConvolution.backward(outputGradient: dY, input: x, filter: w, geometry: g, needInput: true, hasBias: false))
    let blockedGrads = try #require(
      OneDNNConvolution.backward(
        outputGradient: dY.inLayout(.blocked16), input: x.inLayout(.blocked16), filter: w, geometry: g,
        needInput: true, hasBias: false))
    #expect(blockedGrads.input!.layout == .blocked16)
    #expect(blockedGrads.input!.inLayout(.nchw).scalars == grads.input!.scalars)
    #expect(blockedGrads.filter.scalars == grads.filter.scalars)
  }
}
