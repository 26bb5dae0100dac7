/// The block types the engine computes. See README "The model".
public enum Architecture: String, CaseIterable, Sendable, Codable {
    /// The tutorial series' block: attention, then r = mh + FFN(mh), then one
    /// LayerNorm; no residual from the block input and no final LayerNorm.
    case tutorial
    /// Pre-LN GPT-2 style: x += Attn(LN1(x)); x += FFN(LN2(x)); then LN_f. Per-head
    /// Q/K/V without biases, output projection without bias, untied `lm_head`.
    case gpt
    /// GPT-2 exactly as transformers' `GPT2LMHeadModel` computes it: the gpt block with a
    /// fused QKV projection with bias, an output projection with bias, and the LM head
    /// tied to `tok_emb` (one tensor).
    case gpt2

    /// True for the pre-LN archs (`ln1`, `ln2` per block and `ln_f`).
    public var isPreLN: Bool { self != .tutorial }
}

/// A model's shape. Field names follow the spec (`d_model` is `dModel`).
public struct ModelConfig: Equatable, Hashable, Sendable {
    public var arch: Architecture
    /// V: vocabulary size.
    public var vocabSize: Int
    /// D: model width.
    public var dModel: Int
    /// H: attention heads; D must be divisible by H.
    public var nHeads: Int
    /// F: FFN hidden width.
    public var dFF: Int
    /// L: number of blocks.
    public var nLayers: Int
    /// T: context length (positions in `pos_emb`).
    public var context: Int

    public init(arch: Architecture, vocabSize: Int, dModel: Int, nHeads: Int,
                dFF: Int, nLayers: Int, context: Int) {
        self.arch = arch
        self.vocabSize = vocabSize
        self.dModel = dModel
        self.nHeads = nHeads
        self.dFF = dFF
        self.nLayers = nLayers
        self.context = context
    }

    /// dk = D / H, the width of one attention head.
    public var headDim: Int { dModel / nHeads }

    /// LayerNorm epsilon, fixed by the spec for both archs.
    public static let layerNormEpsilon: Float = 1e-5

    /// The series' model: V 6, D 16, H 2, F 64, L 1, T 5.
    public static let tutorial = ModelConfig(arch: .tutorial, vocabSize: 6, dModel: 16, nHeads: 2,
                                             dFF: 64, nLayers: 1, context: 5)
    /// Char-level GPT: D 128, H 4, F 512, L 4, T 64 (vocabulary from the corpus).
    public static func gptSmall(vocabSize: Int) -> ModelConfig {
        ModelConfig(arch: .gpt, vocabSize: vocabSize, dModel: 128, nHeads: 4, dFF: 512, nLayers: 4, context: 64)
    }
    /// GPT: D 256, H 8, F 1024, L 6, T 128, vocabulary 256 by default (bytes).
    public static func gptMedium(vocabSize: Int = 256) -> ModelConfig {
        ModelConfig(arch: .gpt, vocabSize: vocabSize, dModel: 256, nHeads: 8, dFF: 1024, nLayers: 6, context: 128)
    }
    /// A small GPT-2 for tests: D 64, H 4, F 256, L 2, T 64, vocabulary 256 by default (bytes).
    public static func gpt2Tiny(vocabSize: Int = 256) -> ModelConfig {
        ModelConfig(arch: .gpt2, vocabSize: vocabSize, dModel: 64, nHeads: 4, dFF: 256, nLayers: 2, context: 64)
    }
    /// GPT-2 124M: D 768, H 12, F 3072, L 12, T 1024, V 50257 by default (GPT-2's tokenizer).
    public static func gpt2Small124M(vocabSize: Int = 50257) -> ModelConfig {
        ModelConfig(arch: .gpt2, vocabSize: vocabSize, dModel: 768, nHeads: 12, dFF: 3072, nLayers: 12, context: 1024)
    }

    /// Upper bounds that keep a config (and so any file claiming it) from asking for
    /// absurd allocations. Each is far above what a CPU model of this kind uses.
    public static let limits = (vocabSize: 1 << 20, dModel: 1 << 14, nHeads: 1 << 10, dFF: 1 << 16,
                                nLayers: 1 << 10, context: 1 << 16, parameters: 1 << 31)

    /// Checks every field and the total parameter count.
    /// - Throws: `ConfigError` naming the offending field.
    public func validate() throws {
        func check(_ name: String, _ value: Int, _ max: Int) throws {
            guard value >= 1 else { throw ConfigError(field: name, message: "must be at least 1, got \(value)") }
            guard value <= max else { throw ConfigError(field: name, message: "must be at most \(max), got \(value)") }
        }
        try check("vocab_size", vocabSize, Self.limits.vocabSize)
        try check("d_model", dModel, Self.limits.dModel)
        try check("n_heads", nHeads, Self.limits.nHeads)
        try check("d_ff", dFF, Self.limits.dFF)
        try check("n_layers", nLayers, Self.limits.nLayers)
        try check("context", context, Self.limits.context)
        guard dModel % nHeads == 0 else {
            throw ConfigError(field: "n_heads", message: "\(nHeads) heads do not divide d_model \(dModel)")
        }
        let count = ParameterLayout.parameterCount(self)
        guard count <= Self.limits.parameters else {
            throw ConfigError(field: "config", message: "\(count) parameters is more than the limit \(Self.limits.parameters)")
        }
    }
}

/// Explicit config fields that override a preset's.
public struct ConfigOverrides: Sendable {
    public var arch: Architecture?
    public var vocabSize: Int?
    public var dModel: Int?
    public var nHeads: Int?
    public var dFF: Int?
    public var nLayers: Int?
    public var context: Int?
    public init() {}
}

/// A config field that is out of range or inconsistent.
public struct ConfigError: Error, Equatable, CustomStringConvertible, Sendable {
    public var field: String
    public var message: String
    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }
    public var description: String { "\(field): \(message)" }
}
