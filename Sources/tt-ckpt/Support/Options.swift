import ArgumentParser
import TTCore
import TTEngine
import TTFormat
import TTTraining

extension LRSchedule: ExpressibleByArgument {}
extension Preset: ExpressibleByArgument {}
extension TokenizerKind: ExpressibleByArgument {}
extension Architecture: ExpressibleByArgument {}

/// Config fields given on the command line (`init`, `import`); each overrides the preset,
/// the metadata or the shapes.
struct ConfigOptions: ParsableArguments {
    @Option(help: "Block type: tutorial, gpt or gpt2.")
    var arch: Architecture?
    @Option(name: .customLong("vocab-size"), help: "V; must equal the vocabulary's size when that is known.")
    var vocabSize: Int?
    @Option(name: .customLong("d-model"), help: "D, the model width.")
    var dModel: Int?
    @Option(help: "H, attention heads (must divide D).")
    var heads: Int?
    @Option(name: .customLong("d-ff"), help: "F, the FFN hidden width.")
    var dFF: Int?
    @Option(help: "L, the number of blocks.")
    var layers: Int?
    @Option(help: "T, the context length.")
    var context: Int?

    /// Refuses sizes below 1 (the config's own validation bounds the rest).
    func validate() throws {
        for (name, value) in [("--vocab-size", vocabSize), ("--d-model", dModel), ("--heads", heads),
                              ("--d-ff", dFF), ("--layers", layers), ("--context", context)] {
            if let value, value < 1 { throw InputError(name, "must be at least 1, got \(value)") }
        }
    }

    var overrides: ConfigOverrides {
        var o = ConfigOverrides()
        o.arch = arch
        o.vocabSize = vocabSize
        o.dModel = dModel
        o.nHeads = heads
        o.dFF = dFF
        o.nLayers = layers
        o.context = context
        return o
    }
}

/// AdamW and batch settings. `train` applies the ones given on top of what the checkpoint
/// records; `resume` refuses all of them.
struct HyperparameterOptions: ParsableArguments {
    @Option(name: .customLong("batch-size"), help: "Sequences per step, B (recorded; default: the checkpoint's, 1 for a new one).")
    var batchSize: Int?
    @Option(name: .customLong("lr"), help: "Peak learning rate (default 1e-3).")
    var learningRate: Double?
    @Option(help: "AdamW β1 (default 0.9).")
    var beta1: Double?
    @Option(help: "AdamW β2 (default 0.999).")
    var beta2: Double?
    @Option(name: .customLong("eps"), help: "AdamW ε (default 1e-8).")
    var epsilon: Double?
    @Option(name: .customLong("weight-decay"), help: "Decoupled weight decay (default 0.01).")
    var weightDecay: Double?
    @Option(name: .customLong("grad-clip"), help: "Clip the gradient to this global ℓ2 norm; 0 = off (default).")
    var gradClip: Double?
    @Option(name: .customLong("warmup"), help: "Linear warmup steps (default 0).")
    var warmupSteps: Int?
    @Option(help: "Learning-rate schedule: constant or cosine.")
    var schedule: LRSchedule?
    @Option(name: .customLong("decay-steps"), help: "Global step where cosine decay reaches its floor (default: current step + --steps).")
    var decaySteps: Int?
    @Option(name: .customLong("min-lr-ratio"), help: "Cosine floor as a fraction of --lr (default 0.1).")
    var minLRRatio: Double?
    @Flag(name: .customLong("decay-norm-bias"), inversion: .prefixedNo,
          help: "Apply weight decay to biases and LayerNorm γ/β (default) or exempt them. For gpt2, --no-decay-norm-bias is nanoGPT's grouping: decay on the 2-D weights only.")
    var decayNormBias: Bool?

    /// The flags given, by their option names, in declaration order.
    var given: [String] {
        var names: [String] = []
        if batchSize != nil { names.append("--batch-size") }
        if learningRate != nil { names.append("--lr") }
        if beta1 != nil { names.append("--beta1") }
        if beta2 != nil { names.append("--beta2") }
        if epsilon != nil { names.append("--eps") }
        if weightDecay != nil { names.append("--weight-decay") }
        if gradClip != nil { names.append("--grad-clip") }
        if warmupSteps != nil { names.append("--warmup") }
        if schedule != nil { names.append("--schedule") }
        if decaySteps != nil { names.append("--decay-steps") }
        if minLRRatio != nil { names.append("--min-lr-ratio") }
        if let d = decayNormBias { names.append(d ? "--decay-norm-bias" : "--no-decay-norm-bias") }
        return names
    }

    /// `base` with the given fields replaced. A cosine schedule without --decay-steps decays
    /// over this run: decaySteps = step + steps.
    /// - Throws: `InputError` naming the option whose value is out of range.
    func apply(to base: AdamWConfig, step: Int, steps: Int) throws -> AdamWConfig {
        var c = base
        if let v = learningRate { c.learningRate = v }
        if let v = beta1 { c.beta1 = v }
        if let v = beta2 { c.beta2 = v }
        if let v = epsilon { c.epsilon = v }
        if let v = weightDecay { c.weightDecay = v }
        if let v = gradClip { c.gradClip = v }
        if let v = warmupSteps { c.warmupSteps = v }
        if let v = schedule { c.schedule = v }
        if let v = minLRRatio { c.minLRRatio = v }
        if let v = decayNormBias { c.exemptNormAndBias = !v }
        if let v = decaySteps {
            c.decaySteps = v
        } else if c.schedule == .cosine {
            c.decaySteps = step + steps
        }
        do { try c.validate() } catch let e as ConfigError { throw InputError(OptionNames.option(forConfigField: e.field), e.message) }
        return c
    }
}

/// Where and how often training saves.
struct SaveOptions: ParsableArguments {
    @Option(name: [.customShort("o"), .customLong("output")],
            help: ArgumentHelp("Write the result here (default: replace CKPT in place, atomically).", valueName: "out"))
    var output: String?
    @Option(name: .customLong("save-every"), help: ArgumentHelp("Also save every K global steps (0 = only at the end).", valueName: "k"))
    var saveEvery: Int = 0
    @Option(help: ArgumentHelp("With --save-every, keep the N newest step-numbered copies OUT-stem.stepNNNNNN.ttc (default: all; 0: none).", valueName: "n"))
    var keep: Int?
    @Flag(help: "Replace an existing file at -o OUT. (Training CKPT in place needs no flag; step copies belong to OUT and are replaced.)")
    var force = false
    @Option(help: ArgumentHelp("How saves compress: fast (default; sign and exponent bytes Huffman-coded, the near-random mantissa bytes stored), small (also tries zlib level 9 on the byte planes with runs and both filters on every tensor: never larger than fast, slower) or none (stored, raw size). Recorded only in the blobs: every reader reads all three.", valueName: "mode"))
    var compression: CompressionOption = .fast

    func validate() throws {
        guard saveEvery >= 0 else { throw InputError("--save-every", "must be ≥ 0, got \(saveEvery)") }
        if let keep, keep < 0 { throw InputError("--keep", "must be ≥ 0, got \(keep)") }
        if keep != nil && saveEvery == 0 { throw InputError("--keep", "only applies with --save-every K") }
        if let output, output.isEmpty { throw InputError("--output", "empty path") }
    }
}

/// `--compression`: the writer's `BlobEncoding` choices a user picks from.
enum CompressionOption: String, CaseIterable, ExpressibleByArgument {
    case none, fast, small

    var encoding: BlobEncoding {
        switch self {
        case .none: return .none
        case .fast: return .fast
        case .small: return .small
        }
    }
}

/// How many threads training uses.
struct ThreadOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Threads for training and compressing saves (default: TTCKPT_THREADS if set, else the CPU count). Results are identical for any count.", valueName: "n"))
    var threads: Int?

    func validate() throws {
        if let threads, !(1...256).contains(threads) { throw InputError("--threads", "must be in 1...256, got \(threads)") }
    }

    /// The count to use: --threads, else `ThreadPool.defaultThreadCount`.
    var count: Int { threads ?? ThreadPool.defaultThreadCount }
}

/// How training reports progress.
struct ProgressOptions: ParsableArguments {
    @Flag(help: "Print nothing but errors and the interruption notice.")
    var quiet = false
    @Flag(help: "Print one JSON object per logged step on stdout.")
    var json = false
    @Option(name: .customLong("log-every"), help: ArgumentHelp("Log every N steps (default: steps/10; a terminal gets a live line).", valueName: "n"))
    var logEvery: Int?

    func validate() throws {
        if quiet && json { throw InputError("--quiet", "cannot be combined with --json") }
        if let logEvery, logEvery < 1 { throw InputError("--log-every", "must be at least 1, got \(logEvery)") }
    }
}

func validateSteps(_ steps: Int) throws {
    guard steps >= 1 else { throw InputError("--steps", "must be at least 1, got \(steps)") }
    guard steps <= TrainingLimits.maxSteps else { throw InputError("--steps", "must be at most \(TrainingLimits.maxSteps), got \(steps)") }
}
