import ArgumentParser
import TTCkpt

@main
struct TTBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tt-bench",
        abstract: "Benchmarks tt-ckpt: matmul kernels, training throughput, checkpoint I/O, and PyTorch/JAX peers.",
        discussion: "Run in a release build: swift run -c release tt-bench")

    @Option(help: "Sections to run, comma-separated: matmul, training, checkpoint.")
    var sections: String = "matmul,training,checkpoint"

    @Option(help: "Minimum seconds to time each matmul case.")
    var matmulSeconds: Double = 0.3

    @Option(help: "Threads for the multi-threaded columns.")
    var threads: Int = 2

    func validate() throws {
        guard threads >= 1 && threads <= 256 else { throw ValidationError("--threads must be in 1...256") }
        guard matmulSeconds > 0 && matmulSeconds <= 60 else { throw ValidationError("--matmul-seconds must be in (0, 60]") }
    }

    func run() throws {
        let wanted = Set(sections.split(separator: ",").map { String($0.filter { $0 != " " }) })
        if wanted.contains("matmul") {
            print(MatmulBench.run(minSeconds: matmulSeconds, maxThreads: threads))
        }
    }
}
