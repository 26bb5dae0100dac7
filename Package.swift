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
        // The engine, the .ttc format and the training loop.
        .target(
            name: "TTCkpt",
            dependencies: [
                "CZlib",
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
        // libFuzzer target for the reader; Fuzz/run.sh builds it with the fuzzer. A plain
        // build gives a replay tool (`ttc-fuzz FILE...`).
        .executableTarget(
            name: "ttc-fuzz",
            dependencies: ["TTCkpt"]
        ),
        .testTarget(
            name: "TTCkptTests",
            dependencies: ["TTCkpt", "tt-ckpt"]
        ),
    ]
)
