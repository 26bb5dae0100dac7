import TTCore
import TTEngine
import TTTokenizer
/// The model presets of `tt-ckpt init`.
public enum Preset: String, CaseIterable, Sendable {
    /// The series' model and data: arch tutorial, V 6, D 16, H 2, F 64, L 1, T 5, word tokens.
    case tutorial
    /// Char-level GPT: D 128, H 4, F 512, L 4, T 64; vocabulary from the corpus.
    case gptSmall = "gpt-small"
    /// GPT: D 256, H 8, F 1024, L 6, T 128; 256 byte tokens, or the corpus's own vocabulary
    /// with `--tokenizer char|word`.
    case gptMedium = "gpt-medium"
    /// GPT-2 (arch gpt2) for tests: D 64, H 4, F 256, L 2, T 64; 256 byte tokens, or the
    /// corpus's own vocabulary.
    case gpt2Tiny = "gpt2-tiny"
    /// GPT-2 124M (arch gpt2): D 768, H 12, F 3072, L 12, T 1024; V 50257 with GPT-2's own
    /// tokenizer (124 439 808 parameters), else the vocabulary's size.
    case gpt2Small124M = "gpt2-124m"

    public var defaultTokenizer: TokenizerKind {
        switch self {
        case .tutorial: return .word
        case .gptSmall: return .char
        case .gptMedium, .gpt2Tiny, .gpt2Small124M: return .byte
        }
    }

    public func config(vocabSize: Int) -> ModelConfig {
        switch self {
        case .tutorial:
            var c = ModelConfig.tutorial
            c.vocabSize = vocabSize
            return c
        case .gptSmall: return .gptSmall(vocabSize: vocabSize)
        case .gptMedium: return .gptMedium(vocabSize: vocabSize)
        case .gpt2Tiny: return .gpt2Tiny(vocabSize: vocabSize)
        case .gpt2Small124M: return .gpt2Small124M(vocabSize: vocabSize)
        }
    }
}

/// What `tt-ckpt init` makes.
public struct InitRequest: Sendable {
    public var preset: Preset = .tutorial
    public var overrides = ConfigOverrides()
    /// Corpus to build the vocabulary from; its identity is recorded in the checkpoint.
    public var corpusPath: String?
    /// nil: the preset's default.
    public var tokenizer: TokenizerKind?
    /// A vocabulary given whole (a BPE loaded from tokenizer files); the corpus, if any, is
    /// then only recorded and checked to encode.
    public var vocabulary: Vocabulary?
    public var seed: UInt64 = 42
    public init() {}

    /// Practical bounds for a model `init` will allocate (four parameter-sized buffers plus
    /// activations), far below the format's `ModelConfig.limits`.
    public static let maxParameters = 1 << 27
    public static let maxContext = 2048

    /// Resolves the vocabulary, data identity and config, and draws the initial weights.
    /// - Throws: `InputError` naming the setting or file at fault.
    public func makeCheckpoint() throws -> Checkpoint {
        let kind = self.vocabulary?.kind ?? tokenizer ?? preset.defaultTokenizer
        let vocabulary: Vocabulary
        var data: DataIdentity? = nil
        // A learned BPE has up to vocab_size tokens (fewer when the corpus runs out of pairs).
        let learnsBPE = self.vocabulary == nil && kind == .bpe
        if let given = self.vocabulary {
            vocabulary = given
            if let path = corpusPath {
                data = try TrainingData(corpus: try TrainingData.readCorpus(path), path: path, vocabulary: vocabulary).identity
            }
        } else if let path = corpusPath {
            let bytes = try TrainingData.readCorpus(path)
            vocabulary = try Vocabulary(building: kind, from: bytes, source: path, vocabularySize: learnsBPE ? overrides.vocabSize : nil)
            data = try TrainingData(corpus: bytes, path: path, vocabulary: vocabulary).identity
        } else if kind == .byte {
            vocabulary = .bytes
        } else if preset == .tutorial && kind == .word {
            vocabulary = .tutorial
            data = TrainingData.tutorial().identity
        } else {
            throw InputError(setting: .corpus, "\(preset.rawValue) with the \(kind.rawValue) tokenizer builds its vocabulary from a corpus",
                             remedy: .giveFile(.corpus))
        }
        if let v = overrides.vocabSize, v != vocabulary.tokens.count, !learnsBPE {
            throw InputError(setting: .vocabSize, "is \(v) but the \(kind.rawValue) vocabulary has \(vocabulary.tokens.count) tokens")
        }
        var config = preset.config(vocabSize: vocabulary.tokens.count)
        if let v = overrides.arch { config.arch = v }
        if let v = overrides.dModel { config.dModel = v }
        if let v = overrides.nHeads { config.nHeads = v }
        if let v = overrides.dFF { config.dFF = v }
        if let v = overrides.nLayers { config.nLayers = v }
        if let v = overrides.context { config.context = v }
        do {
            try config.validate()
        } catch let e as ConfigError {
            if let setting = Setting(configField: e.field) { throw InputError(setting: setting, e.message) }
            throw InputError(e.field, e.message)
        }
        guard config.context <= Self.maxContext else {
            throw InputError(setting: .context, "must be at most \(Self.maxContext), got \(config.context)")
        }
        let parameters = ParameterLayout.parameterCount(config)
        guard parameters <= Self.maxParameters else {
            throw InputError("config", "\(parameters) parameters is more than init's limit of \(Self.maxParameters)")
        }
        let activations = Model.activationCount(config: config, maxBatchSize: 1)
        guard activations <= TrainingLimits.maxActivationFloats else {
            throw InputError("config", "one sequence needs \(activations / (1 << 18)) MiB of activations, more than the limit \(TrainingLimits.maxActivationFloats / (1 << 18)) MiB")
        }
        return try TrainingSession.initialCheckpoint(config: config, vocabulary: vocabulary, seed: seed, data: data)
    }
}
