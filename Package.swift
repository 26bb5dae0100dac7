// swift-tools-version:5.10
import PackageDescription

// Targets by layer; each imports only the layers below it, so a back edge (Format importing
// Training, say) does not compile (.ci/run builds with
// --explicit-target-dependency-import-check error). README "Development" draws the graph.
//
//   TTCore       value types every layer shares, errors, the text escaper, the JSON writer
//   TTEngine     ops, model, kernels                       (TTCore, CKernels)
//   TTFormat     .ttc reader/writer, zlib, the file layer  (TTCore, CZlib, CBlobCodec, TTTokenizer: a bpe vocabulary is checked by its tokenizer)
//   TTTokenizer  text <-> token ids                        (TTCore)
//   TTTraining   data, sessions, the training loop, generation (TTCore, TTEngine, TTFormat, TTTokenizer)
//   TTInterop    safetensors                               (TTCore, TTFormat, TTTokenizer)
//   TTAnalysis   stats, diff, plots, inspect's JSON        (TTCore, TTFormat, TTInterop)
//   TTCkpt       the library product: all of the above behind one import
//   tt-ckpt      the command line                          (the layers it uses, ArgumentParser)
let package = Package(
    name: "tt-ckpt",
    products: [
        .executable(name: "tt-ckpt", targets: ["tt-ckpt"]),
        .library(name: "TTCkpt", targets: ["TTCkpt"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
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
        // Blob byte work in C: CRC-32/Adler-32, the byte shuffle, byte-plane zlib streams
        // (the system zlib through CZlib for the `small` effort), the reader's inflater.
        .target(name: "CBlobCodec", dependencies: ["CZlib"]),
        // SHA-256 blocks with the x86 SHA extensions when the CPU has them (TTCore's SHA256
        // falls back to its portable Swift code otherwise).
        .target(name: "CDigest"),
        .target(name: "TTCore", dependencies: ["CDigest"]),
        .target(name: "TTEngine", dependencies: ["TTCore", "CKernels"]),
        .target(name: "TTFormat", dependencies: ["TTCore", "CZlib", "CBlobCodec", "TTTokenizer"]),
        .target(name: "TTTokenizer", dependencies: ["TTCore"]),
        .target(name: "TTTraining", dependencies: ["TTCore", "TTEngine", "TTFormat", "TTTokenizer"]),
        .target(name: "TTInterop", dependencies: ["TTCore", "TTFormat", "TTTokenizer"]),
        .target(name: "TTAnalysis", dependencies: ["TTCore", "TTFormat", "TTInterop"]),
        .target(
            name: "TTCkpt",
            dependencies: ["TTCore", "TTEngine", "TTFormat", "TTTokenizer", "TTTraining", "TTInterop", "TTAnalysis"]
        ),
        // The command line: parses, calls the library, formats.
        .executableTarget(
            name: "tt-ckpt",
            dependencies: [
                "TTCore", "TTEngine", "TTFormat", "TTTokenizer", "TTTraining", "TTInterop", "TTAnalysis",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // libFuzzer target for the reader; Tests/Fuzz/run.sh builds it with the fuzzer. A plain
        // build gives a replay tool (`ttc-fuzz FILE...`).
        .executableTarget(
            name: "ttc-fuzz",
            dependencies: ["TTCore", "TTFormat"]
        ),
        // libFuzzer target for the GGUF and safetensors readers; Tests/Fuzz/run-interop.sh builds
        // it with the fuzzer. A plain build gives a replay tool (`interop-fuzz gguf FILE...`).
        .executableTarget(
            name: "interop-fuzz",
            dependencies: ["TTCore", "TTInterop"]
        ),
        // libFuzzer target for the safetensors reader and importer (Tests/Fuzz/run.sh
        // safetensors); a plain build gives a replay tool (`safetensors-fuzz FILE...`).
        .executableTarget(
            name: "safetensors-fuzz",
            dependencies: ["TTCore", "TTFormat", "TTInterop"]
        ),
        // Benchmarks (matmul, training, checkpoint I/O, peers): swift run -c release tt-bench
        .executableTarget(
            name: "tt-bench",
            dependencies: [
                "TTCore", "TTEngine", "TTFormat", "TTTraining",
                "CKernels",
                "CZlib",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "TTCkptTests",
            dependencies: ["TTCore", "TTEngine", "TTFormat", "TTTokenizer", "TTTraining", "TTInterop", "TTAnalysis",
                           "tt-ckpt", "CKernels", "CBlobCodec", "CZlib"]
        ),
    ]
)
