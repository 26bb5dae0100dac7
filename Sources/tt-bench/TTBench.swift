import ArgumentParser
import Foundation

@main
struct TTBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tt-bench",
        abstract: "Benchmarks tt-ckpt: matmul kernels, training throughput, checkpoint I/O, and PyTorch/JAX peers.",
        discussion: "Run in a release build: swift run -c release tt-bench")

    @Option(help: "Sections to run, comma-separated: matmul, training, generate, checkpoint, command, stall, memory, identity, inspect (two 420 MB safetensors files against sft and ckptkit; not in the default).")
    var sections: String = "training,generate,checkpoint,command,stall,memory,identity"

    @Flag(help: "A fast check: 0.5 s per training measurement, one stall repetition.")
    var quick = false

    @Flag(help: .hidden)
    var memoryProbe = false

    @Option(help: "Minimum seconds to time each matmul case.")
    var matmulSeconds: Double = 0.3

    @Option(help: "Clock for timings: wall (default) or cpu (process CPU seconds; for single-thread kernel work on a busy machine).")
    var clock: String = "wall"

    @Option(help: "Threads for the multi-threaded columns.")
    var threads: Int = 2

    @Option(help: "Presets for the training table, comma-separated: tutorial, small, medium, gpt2-124m.")
    var presets: String = "tutorial,small,medium,gpt2-124m"

    @Option(help: "Minimum timed seconds per training measurement (tt-ckpt and each peer).")
    var trainSeconds: Double = 3

    @Flag(help: "Skip the PyTorch and JAX peers.")
    var noPeers = false

    @Option(help: "Directory holding torch_peer.py and jax_peer.py.")
    var peersDir: String?

    func validate() throws {
        guard BenchClock(rawValue: clock) != nil else { throw ValidationError("--clock must be wall or cpu") }
        guard threads >= 1 && threads <= 256 else { throw ValidationError("--threads must be in 1...256") }
        let known = Set(BenchPreset.all.map(\.name))
        for name in presets.split(separator: ",") where !known.contains(String(name)) {
            throw ValidationError("unknown preset '\(name)' (tutorial, small, medium, gpt2-124m)")
        }
        guard trainSeconds > 0 && trainSeconds <= 600 else { throw ValidationError("--train-seconds must be in (0, 600]") }
        guard matmulSeconds > 0 && matmulSeconds <= 60 else { throw ValidationError("--matmul-seconds must be in (0, 60]") }
    }

    func run() throws {
        if memoryProbe {
            SystemBench.memoryProbe()
            return
        }
        let seconds = quick ? 0.5 : trainSeconds
        let tmp = NSTemporaryDirectory().hasSuffix("/") ? String(NSTemporaryDirectory().dropLast()) : NSTemporaryDirectory()
        BenchClock.current = BenchClock(rawValue: clock) ?? .wall
        print("tt-bench: clock \(clock), load average \(fmt(loadAverage(), 2)) at start\n")
        let wanted = Set(sections.split(separator: ",").map { String($0.filter { $0 != " " }) })
        // First, while this process is small (see SystemBench.memory).
        if wanted.contains("memory") { print(SystemBench.memory()) }
        if wanted.contains("matmul") {
            print(MatmulBench.run(minSeconds: matmulSeconds, maxThreads: threads))
        }
        let peers = noPeers ? nil : PeerRunner(directory: peersDir ?? PeerRunner.defaultDirectory())
        if wanted.contains("training") {
            let names = Set(presets.split(separator: ",").map(String.init))
            let chosen = BenchPreset.all.filter { names.contains($0.name) }
            // The peak first, in the same run as the figures it is compared with.
            let peak = PeakBench.measure(threads: [threads])
            print(PeakBench.describe(peak))
            print(TrainingBench.run(presets: chosen, seconds: seconds, threadCounts: Array(Set([1, threads])).sorted(), peers: peers,
                                    peak: peak))
        }
        if wanted.contains("generate") {
            print(GenerationBench.run(threads: threads, trials: quick ? 1 : 3, peers: peers))
        }
        var io: [String: Any]? = nil
        if wanted.contains("checkpoint") {
            let result = CheckpointBench.run(seconds: quick ? 0.3 : 1, directory: tmp, threads: threads, peers: peers)
            io = result.io
            print(result.table)
        }
        if wanted.contains("command") {
            if io == nil, let p = peers, let c = try? CheckpointBench.mediumCheckpoint() {
                io = try? CheckpointBench.peerFigures(c, directory: tmp, peers: p).get()
            }
            print(CommandBench.run(directory: tmp, threads: threads, trials: quick ? 1 : 3,
                                   peerCycle: io?["torch_cycle_s"] as? Double, peers: peers))
        }
        if wanted.contains("stall") { print(SystemBench.stall(quick: quick, directory: tmp)) }
        if wanted.contains("identity") { print(SystemBench.identity(directory: tmp)) }
        if wanted.contains("inspect") { print(InspectBench.run(directory: tmp, trials: quick ? 1 : 3)) }
        print("tt-bench: load average \(fmt(loadAverage(), 2)) at the end")
    }
}
