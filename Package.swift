// swift-tools-version:6.2
// gradtrace: see why very deep networks do or do not learn.
import PackageDescription

/// Every numeric target is generic over its scalar (Float for training, Double for test
/// oracles). Cross-module optimisation lets a client specialise those generics: without it
/// `Tensor<Float>` code called from another module runs unspecialised, hundreds of times slower.
let optimised: [SwiftSetting] = [
  .unsafeFlags(["-cross-module-optimization"]),
  .treatAllWarnings(as: .error),
]

let package = Package(
  name: "gradtrace",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "gradtrace", targets: ["gradtrace"]),
    .library(name: "Networks", targets: ["Networks"]),
    .library(name: "TraceIO", targets: ["TraceIO"]),
    // Everything a program needs to define, train, trace and analyse its own network
    // (examples/custom-network uses it).
    .library(
      name: "GradTraceKit",
      targets: ["Networks", "Training", "TraceIO", "Analysis", "Datasets", "TensorCore", "Autodiff", "Curvature"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
  ],
  targets: [
    .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
    .systemLibrary(name: "CHDF5", pkgConfig: "hdf5-serial", providers: [.apt(["libhdf5-dev"])]),
    .systemLibrary(name: "CMalloc"),
    .systemLibrary(name: "CConsole"),
    // oneDNN's convolutions (libdnnl-dev) behind a small C bridge; oneDNN runs on OpenMP (gomp).
    .target(name: "CDNNL", linkerSettings: [.linkedLibrary("dnnl"), .linkedLibrary("gomp")]),
    .target(name: "TensorCore", dependencies: ["CBLAS", "CMalloc", "CDNNL"], swiftSettings: optimised),
    // Open MPI's C API, opened with dlopen only by a run started under mpirun (or srun) with
    // more than one rank (a single-process gradtrace neither links nor loads MPI).
    .target(name: "CMPI", linkerSettings: [.linkedLibrary("dl")]),
    .target(name: "DataParallel", dependencies: ["CMPI", "TensorCore"], swiftSettings: optimised),
    .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
    .target(name: "Autodiff", dependencies: ["TensorCore"], swiftSettings: optimised),
    .target(name: "Datasets", dependencies: ["TensorCore", "TraceIO", "CZlib"], swiftSettings: optimised),
    .target(name: "Curvature", dependencies: ["Networks", "TensorCore"], swiftSettings: optimised),
    .target(name: "Networks", dependencies: ["Autodiff", "TensorCore"], swiftSettings: optimised),
    .target(name: "TraceIO", dependencies: ["CHDF5"], swiftSettings: optimised),
    .target(name: "Analysis", dependencies: ["TraceIO"], swiftSettings: optimised),
    // TensorBoard event files from traces. Generated/ is protoc-gen-swift's output for
    // proto/tensorboard_events.proto (`make tensorboard-proto`), committed.
    .target(
      name: "TensorBoard", dependencies: ["TraceIO", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
      swiftSettings: optimised),
    .target(
      name: "Training",
      dependencies: ["Networks", "TraceIO", "TensorCore", "Datasets", "Autodiff", "Curvature"],
      swiftSettings: optimised),
    .executableTarget(
      name: "gradtrace",
      dependencies: [
        "Networks", "Training", "TraceIO", "Datasets", "Curvature", "TensorCore", "Analysis", "CConsole",
        "TensorBoard", "DataParallel", .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: optimised),
    .executableTarget(
      name: "gradtrace-benchmarks",
      dependencies: ["Networks", "Autodiff", "TensorCore", "TraceIO", "Analysis", "Training"],
      swiftSettings: optimised),
    // Float32 bounds from the computation's measured rounding sensitivity, and the tests'
    // scratch directory (tests only).
    .target(name: "_NumericalTestSupport", dependencies: ["TensorCore"], swiftSettings: optimised),
    .testTarget(
      name: "TensorCoreTests", dependencies: ["TensorCore"], swiftSettings: optimised),
    .testTarget(
      name: "AutodiffTests", dependencies: ["Autodiff", "TensorCore"], swiftSettings: optimised),
    .testTarget(
      name: "NetworksTests",
      dependencies: ["_NumericalTestSupport", "Networks", "Autodiff", "TensorCore", "Training", "TraceIO", "Datasets"],
      resources: [.copy("Golden")],
      swiftSettings: optimised),
    .testTarget(
      name: "DatasetsTests", dependencies: ["_NumericalTestSupport", "Datasets", "TensorCore"],
      swiftSettings: optimised),
    .testTarget(
      name: "CurvatureTests",
      dependencies: ["_NumericalTestSupport", "Curvature", "Datasets", "Networks", "TensorCore", "TraceIO"],
      resources: [.copy("Golden")], swiftSettings: optimised),
    .testTarget(
      name: "TrainingTests",
      dependencies: [
        "_NumericalTestSupport", "Training", "Autodiff", "Curvature", "Datasets", "Networks", "TensorCore", "TraceIO",
      ],
      swiftSettings: optimised),
    .testTarget(
      name: "AnalysisTests", dependencies: ["Analysis", "TraceIO"], swiftSettings: optimised),
    .testTarget(
      name: "CLITests", dependencies: ["_NumericalTestSupport", "gradtrace", "TraceIO"], swiftSettings: optimised),
  ]
)
