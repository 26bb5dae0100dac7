// swift-tools-version:5.10
import PackageDescription

let package = Package(
    name: "tt-ckpt",
    products: [
        .executable(name: "tt-ckpt", targets: ["tt-ckpt"]),
        .library(name: "TTCkpt", targets: ["TTCkpt"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
    ],
    targets: [
        // zlib from the system (zlib1g-dev), reached through a shim header.
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // Matrix-multiply kernels in C: AVX2/FMA chosen at run time, portable fallback.
        .target(name: "CKernels"),
        // The engine, the .ttc format and the training loop.
        .target(
            name: "TTCkpt",
            dependencies: [
                "CZlib",
                "CKernels",
                .product(name: "RealModule", package: "swift-numerics"),
            ]
        ),
        // The command line: parses, calls TTCkpt, formats.
        .executableTarget(
            name: "tt-ckpt",
            dependencies: [
                "TTCkpt",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // libFuzzer target for the reader; Tests/Fuzz/run.sh builds it with the fuzzer. A plain
        // build gives a replay tool (`ttc-fuzz FILE...`).
        .executableTarget(
            name: "ttc-fuzz",
            dependencies: ["TTCkpt"]
        ),
        // Benchmarks (matmul, training, checkpoint I/O, peers): swift run -c release tt-bench
        .executableTarget(
            name: "tt-bench",
            dependencies: [
                "TTCkpt",
                "CKernels",
                "CZlib",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "TTCkptTests",
            dependencies: ["TTCkpt", "tt-ckpt", "CKernels"]
        ),
    ]
)
