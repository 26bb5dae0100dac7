import TTCore
import TTFormat

/// transformers' GPT-2 `config.json` (a `GPT2Config`) to and from a gpt2 `ModelConfig`.
///
/// Reading: `model_type` must be `gpt2` when present; `vocab_size`, `n_embd`, `n_head`,
/// `n_layer` and `n_positions` are required (GPT2Config would default a missing one to the
/// 124M model's value, which for any other model is a silent mismatch); `n_inner` null or
/// absent means 4·n_embd. Every setting that would change what the model computes must have
/// the value tt-ckpt's gpt2 computes, or its absence (GPT2Config's default is that value):
///
/// | key | accepted | why |
/// |---|---|---|
/// | `activation_function` | `gelu_new`, `gelu_pytorch_tanh` | tanh GELU (the two differ only in rounding) |
/// | `layer_norm_epsilon` | 1e-5 | |
/// | `tie_word_embeddings` | true | the head is `tok_emb` |
/// | `scale_attn_weights` | true | scores · 1/√dk |
/// | `scale_attn_by_inverse_layer_idx` | false | |
/// | `add_cross_attention` | false | |
///
/// Other keys (dropout rates, `bos_token_id`, `reorder_and_upcast_attn`, which only changes
/// rounding, the summary_* keys of other heads) do not change the logits and are ignored.
///
/// Writing: every key transformers 5.24 writes for a GPT2LMHeadModel, with the values of
/// the model tt-ckpt trains (dropout 0: tt-ckpt does not use dropout), `dtype` float32,
/// and no `transformers_version` (this file was not written by transformers).
public enum TransformersConfig {
    /// Largest config.json read (real ones are under 2 KB).
    public static let maxFileSize = 1 << 20

    /// The settings of config.json beyond the model's shape.
    public struct Extras: Equatable, Sendable {
        public var bosTokenID: Int?
        public var eosTokenID: Int?
        public init(bosTokenID: Int? = nil, eosTokenID: Int? = nil) {
            self.bosTokenID = bosTokenID
            self.eosTokenID = eosTokenID
        }
    }

    /// The gpt2 config of a parsed config.json.
    /// - Throws: `FormatError` naming `path` and the key.
    public static func modelConfig(_ json: HeaderJSON, path: String) throws -> (ModelConfig, Extras) {
        func fail(_ message: String) -> FormatError { FormatError(path: path, message: message) }
        guard case .object = json else { throw fail("is not a JSON object") }
        if let type = json["model_type"] {
            guard let name = type.stringValue else { throw fail("model_type is not a string") }
            guard name == "gpt2" else { throw fail("model_type \(quotedName(name)) is not gpt2 (only GPT-2 checkpoints are read)") }
        }
        func int(_ key: String) throws -> Int {
            guard let v = json[key] else { throw fail("missing key '\(key)'") }
            guard let n = v.nonNegativeInt, n >= 1 else { throw fail("\(key) is not a positive integer") }
            return n
        }
        let d = try int("n_embd")
        var f = 4 * d
        if let inner = json["n_inner"], inner != .null {
            guard let n = inner.nonNegativeInt, n >= 1 else { throw fail("n_inner is not a positive integer or null") }
            f = n
        }
        let config = ModelConfig(arch: .gpt2, vocabSize: try int("vocab_size"), dModel: d, nHeads: try int("n_head"),
                                 dFF: f, nLayers: try int("n_layer"), context: try int("n_positions"))
        func check(_ key: String, _ accepted: (HeaderJSON) -> Bool, _ what: String) throws {
            guard let v = json[key] else { return }
            guard accepted(v) else { throw fail("\(key) is \(display(v)); tt-ckpt's gpt2 computes \(what)") }
        }
        try check("activation_function", { ["gelu_new", "gelu_pytorch_tanh"].contains($0.stringValue ?? "") },
                  "the tanh GELU (gelu_new)")
        try check("layer_norm_epsilon", { if case let .number(t) = $0 { return Double(t) == 1e-5 }; return false }, "LayerNorm with eps 1e-5")
        try check("tie_word_embeddings", { $0 == .bool(true) }, "logits with the head tied to wte (true)")
        try check("scale_attn_weights", { $0 == .bool(true) }, "scores scaled by 1/sqrt(d_k) (true)")
        try check("scale_attn_by_inverse_layer_idx", { $0 == .bool(false) }, "no per-layer score scaling (false)")
        try check("add_cross_attention", { $0 == .bool(false) }, "no cross-attention (false)")
        do {
            try config.validate()
        } catch let e as ConfigError {
            throw fail("config \(e)")
        }
        func tokenID(_ key: String) -> Int? { json[key]?.nonNegativeInt }
        return (config, Extras(bosTokenID: tokenID("bos_token_id"), eosTokenID: tokenID("eos_token_id")))
    }

    /// A JSON value for messages: strings quoted, others as written.
    static func display(_ v: HeaderJSON) -> String {
        switch v {
        case .string(let s): return quotedName(s)
        case .number(let t): return t
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// config.json for `config` (arch gpt2), keys sorted as transformers writes them.
    /// - Precondition: `config.arch == .gpt2`.
    public static func json(_ config: ModelConfig, extras: Extras) -> JSONValue {
        precondition(config.arch == .gpt2)
        func id(_ v: Int?) -> JSONValue { v.map { .int($0) } ?? .null }
        return .object([
            ("activation_function", .string("gelu_new")),
            ("add_cross_attention", .bool(false)),
            ("architectures", .array([.string("GPT2LMHeadModel")])),
            ("attn_pdrop", .double(0)),
            ("bos_token_id", id(extras.bosTokenID)),
            ("dtype", .string("float32")),
            ("embd_pdrop", .double(0)),
            ("eos_token_id", id(extras.eosTokenID)),
            ("initializer_range", .double(0.02)),
            ("layer_norm_epsilon", .double(1e-5)),
            ("model_type", .string("gpt2")),
            ("n_embd", .int(config.dModel)),
            ("n_head", .int(config.nHeads)),
            ("n_inner", config.dFF == 4 * config.dModel ? .null : .int(config.dFF)),
            ("n_layer", .int(config.nLayers)),
            ("n_positions", .int(config.context)),
            ("pad_token_id", .null),
            ("reorder_and_upcast_attn", .bool(false)),
            ("resid_pdrop", .double(0)),
            ("scale_attn_by_inverse_layer_idx", .bool(false)),
            ("scale_attn_weights", .bool(true)),
            ("summary_activation", .null),
            ("summary_first_dropout", .double(0.1)),
            ("summary_proj_to_labels", .bool(true)),
            ("summary_type", .string("cls_index")),
            ("summary_use_proj", .bool(true)),
            ("tie_word_embeddings", .bool(true)),
            ("use_cache", .bool(true)),
            ("vocab_size", .int(config.vocabSize)),
        ])
    }
}
