// swift-tools-version:6.2
// A network of one's own, written in Swift as a model description, trained with a trace and
// analysed: gradtrace used as a library. `make test` builds and runs it; by hand:
//
//     swift run -c release custom-network [output-directory]
import PackageDescription

let package = Package(
  name: "custom-network",
  platforms: [.macOS(.v15)],
  dependencies: [.package(name: "gradtrace", path: "../..")],
  targets: [
    .executableTarget(
      name: "custom-network",
      dependencies: [.product(name: "GradTraceKit", package: "gradtrace")],
      // As in gradtrace itself: lets this module specialise the engine's generic code.
      swiftSettings: [.unsafeFlags(["-cross-module-optimization"])])
  ]
)
