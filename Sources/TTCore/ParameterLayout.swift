/// One named tensor: a view at a fixed offset into a flat Float buffer.
public struct TensorSlot: Equatable, Sendable {
    /// Canonical name, e.g. `layers.0.attn.wq`.
    public let name: String
    /// Row-major shape, e.g. [H, D, dk].
    public let shape: [Int]
    /// Offset in elements into the flat buffer.
    public let offset: Int
    /// Element count: product of `shape`.
    public let count: Int

    /// What initialization draws for this tensor.
    public enum Kind: Sendable, Equatable {
        case weight        // drawn from the Gaussian
        case bias          // zeros (gpt, gpt2); drawn in the tutorial (b1, b2)
        case normGain      // LayerNorm gamma: ones
        case normBias      // LayerNorm beta: zeros
    }
    public let kind: Kind

    /// True for biases and LayerNorm parameters, the tensors that
    /// `AdamWConfig.exemptNormAndBias` keeps out of weight decay.
    public var isNormOrBias: Bool { kind != .weight }
}

/// The canonical list of tensors for a config, in canonical order, with offsets into
/// one contiguous buffer. Parameters, gradients and both AdamW moments share this
/// layout, so a checkpoint is "the same list of named views, three times".
///
/// Order (also the tutorial's initialization draw order, LayerNorm excepted):
/// - tutorial: tok_emb, pos_emb, then per layer attn.wq, wk, wv, wo, ffn.w1, b1, w2, b2,
///   ln.gamma, ln.beta; then lm_head.
/// - gpt: tok_emb, pos_emb, then per layer ln1.gamma, ln1.beta, attn.wq, wk, wv, wo,
///   ln2.gamma, ln2.beta, ffn.w1, b1, w2, b2; then ln_f.gamma, ln_f.beta, lm_head.
/// - gpt2: tok_emb, pos_emb, then per layer ln1.gamma, ln1.beta, attn.wqkv, bqkv, wo, bo,
///   ln2.gamma, ln2.beta, ffn.w1, b1, w2, b2; then ln_f.gamma, ln_f.beta. No lm_head: the
///   head is tok_emb (tied).
public struct ParameterLayout: Equatable, Sendable {
    public let config: ModelConfig
    public let slots: [TensorSlot]
    /// Total element count of all slots.
    public let totalCount: Int

    public init(config: ModelConfig) {
        self.config = config
        let (V, D, H, F, T) = (config.vocabSize, config.dModel, config.nHeads, config.dFF, config.context)
        let dk = config.headDim
        var slots: [TensorSlot] = []
        var offset = 0
        func add(_ name: String, _ shape: [Int], _ kind: TensorSlot.Kind) {
            let count = shape.reduce(1, *)
            slots.append(TensorSlot(name: name, shape: shape, offset: offset, count: count, kind: kind))
            offset += count
        }
        add("tok_emb", [V, D], .weight)           // (V, D)
        add("pos_emb", [T, D], .weight)           // (T, D)
        for i in 0..<config.nLayers {
            let p = "layers.\(i)."
            if config.arch.isPreLN {
                add(p + "ln1.gamma", [D], .normGain)
                add(p + "ln1.beta", [D], .normBias)
            }
            if config.arch == .gpt2 {
                add(p + "attn.wqkv", [3 * D, D], .weight)  // (3D, D) rows [q; k; v], head h at rows h·dk of each
                add(p + "attn.bqkv", [3 * D], .bias)       // (3D)
                add(p + "attn.wo", [D, D], .weight)        // (D, D), used as concat(heads)·Woᵀ + bo
                add(p + "attn.bo", [D], .bias)             // (D)
            } else {
                add(p + "attn.wq", [H, D, dk], .weight)  // (H, D, dk)
                add(p + "attn.wk", [H, D, dk], .weight)
                add(p + "attn.wv", [H, D, dk], .weight)
                add(p + "attn.wo", [D, D], .weight)      // (D, D), used as concat(heads)·Woᵀ
            }
            if config.arch.isPreLN {
                add(p + "ln2.gamma", [D], .normGain)
                add(p + "ln2.beta", [D], .normBias)
            }
            add(p + "ffn.w1", [F, D], .weight)       // (F, D)
            add(p + "ffn.b1", [F], .bias)
            add(p + "ffn.w2", [D, F], .weight)       // (D, F)
            add(p + "ffn.b2", [D], .bias)
            if config.arch == .tutorial {
                add(p + "ln.gamma", [D], .normGain)
                add(p + "ln.beta", [D], .normBias)
            }
        }
        if config.arch.isPreLN {
            add("ln_f.gamma", [D], .normGain)
            add("ln_f.beta", [D], .normBias)
        }
        if config.arch != .gpt2 {
            add("lm_head", [V, D], .weight)       // (V, D); gpt2 ties the head to tok_emb
        }
        self.slots = slots
        self.totalCount = offset
    }

    /// Parameter count without building the layout (used to validate configs):
    /// - tutorial: 2VD + TD + L(4D² + 2DF + F + D + 2D)
    /// - gpt:      2VD + TD + L(4D² + 2DF + F + D + 4D) + 2D
    /// - gpt2:     VD + TD + L(4D² + 2DF + F + 9D) + 2D (fused QKV and output biases 3D + D,
    ///   LayerNorms 4D, b2 D; the head is tok_emb)
    public static func parameterCount(_ c: ModelConfig) -> Int {
        let (V, D, F, T, L) = (c.vocabSize, c.dModel, c.dFF, c.context, c.nLayers)
        switch c.arch {
        case .tutorial: return 2 * V * D + T * D + L * (4 * D * D + 2 * D * F + F + 3 * D)
        case .gpt: return 2 * V * D + T * D + L * (4 * D * D + 2 * D * F + F + 5 * D) + 2 * D
        case .gpt2: return V * D + T * D + L * (4 * D * D + 2 * D * F + F + 9 * D) + 2 * D
        }
    }

    /// The slot with this canonical name, if any.
    public func slot(named name: String) -> TensorSlot? {
        slots.first { $0.name == name }
    }
}
