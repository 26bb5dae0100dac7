
/// One tensor of a traced training step: its canonical name, role, shape and formula.
/// spec/TRACE.md lists them all; `TraceCatalog.entries` is the one source of that list.
public struct TraceEntry: Equatable, Sendable {
    /// `act.<stage>`, `grad.<stage>`, the parameter's own name (its gradient), or `update.<param>`.
    public var name: String
    /// activation, activationGrad, gradient or update.
    public var role: TensorRole
    /// Row-major shape for this batch (B sequences of S positions).
    public var shape: [Int]
    /// The formula in one line, in the series' notation.
    public var formula: String
    /// The walk-through block the entry belongs to (`trace --print` prints one block per stage).
    public var block: String

    public var elementCount: Int { shape.reduce(1, *) }
}

/// The canonical list of a trace's tensors, in walk order: the forward activations in the
/// order the forward computes them, then the backward pass in the order it runs (each
/// activation's gradient, and each parameter's gradient where the pass produces it), then
/// the AdamW updates. `diff` against a trace lists tensors in this order, so the first wrong
/// stage of a learner's backprop is the first line.
///
/// Names: the stage path is the parameter prefix of the part that computes it
/// (`layers.0.attn.q`, `layers.0.ffn.pre`, `ln_f.out`); an activation is `act.<stage>`, its
/// gradient `grad.<stage>` (same shape), a parameter's gradient is the parameter's name, its
/// update `update.<name>`. LayerNorm statistics, probabilities, per-position losses and the
/// mean loss have no stored gradient (the series folds them into dlogits and the LayerNorm
/// backward).
///
/// Letters: B sequences, S positions (≤ T), D d_model, H heads, dk = D/H, F d_ff, V vocab.
public enum TraceCatalog {
    /// The archs whose stages are listed here (all three). A new arch is added to the
    /// catalog, to `Model.traceForwardBackward` and to this list together.
    public static func supports(_ arch: Architecture) -> Bool { [.tutorial, .gpt, .gpt2].contains(arch) }

    /// Every entry for `config` and a batch of B × S, in walk order.
    public static func entries(config: ModelConfig, batchSize B: Int, seqLen S: Int) -> [TraceEntry] {
        let (D, H, F, V, L) = (config.dModel, config.nHeads, config.dFF, config.vocabSize, config.nLayers)
        let dk = config.headDim
        precondition(TraceCatalog.supports(config.arch), "no trace stages for arch \(config.arch)")
        // gpt2 has gpt's stages; its attention has fused QKV and output biases, its head is tok_emb.
        let gpt = config.arch != .tutorial, gpt2 = config.arch == .gpt2
        let head = gpt2 ? "tok_emb" : "lm_head"
        var forward: [TraceEntry] = []
        var backward: [TraceEntry] = []
        func act(_ stage: String, _ shape: [Int], _ formula: String, _ block: String) {
            forward.append(TraceEntry(name: "act." + stage, role: .activation, shape: shape, formula: formula, block: block))
        }
        func grad(_ stage: String, _ shape: [Int], _ formula: String, _ block: String) {
            backward.append(TraceEntry(name: "grad." + stage, role: .activationGrad, shape: shape, formula: formula, block: block))
        }
        func param(_ name: String, _ shape: [Int], _ formula: String, _ block: String) {
            backward.append(TraceEntry(name: name, role: .gradient, shape: shape, formula: formula, block: block))
        }
        let BSD = [B, S, D], BSF = [B, S, F], BS = [B, S], heads = [B, H, S, dk], square = [B, H, S, S]

        // MARK: forward
        act("emb", BSD, "X = tok_emb[tokens] + pos_emb[0..<S]", "embeddings")
        for l in 0..<L {
            let p = "layers.\(l)."
            let n = "layer \(l)"
            let x = l == 0 ? "X" : "x\(l - 1)"     // the block's input
            var attnIn = x
            if gpt {
                act(p + "ln1.mean", BS, "μ = mean(\(x)) over D", n + " LayerNorm 1")
                act(p + "ln1.rstd", BS, "rstd = 1/√(var(\(x)) + 1e-5)", n + " LayerNorm 1")
                act(p + "ln1.out", BSD, "h = (\(x) − μ)·rstd·γ1 + β1", n + " LayerNorm 1")
                attnIn = "h"
            }
            let ab = n + " attention"
            if gpt2 {
                act(p + "attn.q", heads, "Q_h = (\(attnIn)·Wqkvᵀ + bqkv)[:, h·dk ..< (h+1)·dk]", ab)
                act(p + "attn.k", heads, "K_h = (\(attnIn)·Wqkvᵀ + bqkv)[:, D + h·dk ..< D + (h+1)·dk]", ab)
                act(p + "attn.v", heads, "V_h = (\(attnIn)·Wqkvᵀ + bqkv)[:, 2D + h·dk ..< 2D + (h+1)·dk]", ab)
            } else {
                act(p + "attn.q", heads, "Q_h = \(attnIn)·Wq[h]", ab)
                act(p + "attn.k", heads, "K_h = \(attnIn)·Wk[h]", ab)
                act(p + "attn.v", heads, "V_h = \(attnIn)·Wv[h]", ab)
            }
            act(p + "attn.scores", square, "S_h = Q_h·K_hᵀ/√dk (before the causal mask)", ab)
            act(p + "attn.weights", square, "A_h = softmax(S_h + causal mask) by row (0 above the diagonal)", ab)
            act(p + "attn.heads", heads, "head_h = A_h·V_h", ab)
            act(p + "attn.concat", BSD, "concat = [head_0 | … | head_H−1]", ab)
            act(p + "attn.out", BSD, gpt2 ? "mh = concat·Woᵀ + bo" : "mh = concat·Woᵀ", ab)
            var ffnIn = "mh"
            if gpt {
                act(p + "attn.res", BSD, "r1 = \(x) + mh", ab)
                act(p + "ln2.mean", BS, "μ = mean(r1) over D", n + " LayerNorm 2")
                act(p + "ln2.rstd", BS, "rstd = 1/√(var(r1) + 1e-5)", n + " LayerNorm 2")
                act(p + "ln2.out", BSD, "h2 = (r1 − μ)·rstd·γ2 + β2", n + " LayerNorm 2")
                ffnIn = "h2"
            }
            let fb = n + " FFN"
            act(p + "ffn.pre", BSF, "z = \(ffnIn)·W1ᵀ + b1", fb)
            act(p + "ffn.gelu", BSF, "a = GELU(z) = 0.5·z·(1 + tanh(√(2/π)·(z + 0.044715·z³)))", fb)
            act(p + "ffn.out", BSD, "f = a·W2ᵀ + b2", fb)
            if gpt {
                act(p + "ffn.res", BSD, "x\(l) = r1 + f", fb)
            } else {
                act(p + "ffn.res", BSD, "r = mh + f", fb)
                let lb = n + " LayerNorm"
                act(p + "ln.mean", BS, "μ = mean(r) over D", lb)
                act(p + "ln.rstd", BS, "rstd = 1/√(var(r) + 1e-5)", lb)
                act(p + "ln.out", BSD, "x\(l) = (r − μ)·rstd·γ + β", lb)
            }
        }
        let top = "x\(L - 1)"
        var final = top
        if gpt {
            act("ln_f.mean", BS, "μ = mean(\(top)) over D", "final LayerNorm")
            act("ln_f.rstd", BS, "rstd = 1/√(var(\(top)) + 1e-5)", "final LayerNorm")
            act("ln_f.out", BSD, "xf = (\(top) − μ)·rstd·γf + βf", "final LayerNorm")
            final = "xf"
        }
        act("logits", [B, S, V], "logits = \(final)·\(head)ᵀ" + (gpt2 ? " (the head is tied to tok_emb)" : ""), "output")
        act("probs", [B, S, V], "P = softmax(logits) by row", "output")
        act("losses", BS, "loss_t = −log P[t, target_t] (0 where the target is ignored)", "output")
        act("loss", [], "L = Σ loss_t / N, N = targets counted", "output")

        // MARK: backward
        grad("logits", [B, S, V], "dlogits = (P − onehot(target))/N (0 on ignored rows)", "loss gradient")
        if !gpt2 { param("lm_head", [V, D], "dlm_head = dlogitsᵀ·\(final)", "output layer") }
        if gpt {
            grad("ln_f.out", BSD, "dxf = dlogits·\(head)", "output layer")
            param("ln_f.gamma", [D], "dγf = Σ_rows dxf·x̂", "final LayerNorm")
            param("ln_f.beta", [D], "dβf = Σ_rows dxf", "final LayerNorm")
        }
        for l in stride(from: L - 1, through: 0, by: -1) {
            let p = "layers.\(l)."
            let n = "layer \(l)"
            let x = l == 0 ? "X" : "x\(l - 1)"
            let lnBack = "rstd·(g − mean(g) − x̂·mean(g·x̂)), g = d(out)·γ, x̂ = (in − μ)·rstd"
            if gpt {
                let fb = n + " FFN"
                grad(p + "ffn.res", BSD, l == L - 1 ? "dx\(l) = d(ln_f input) = " + lnBack : "dx\(l) = d(layer \(l + 1) input)", fb)
                grad(p + "ffn.out", BSD, "df = dx\(l)", fb)
                param(p + "ffn.w2", [D, F], "dW2 = dfᵀ·a", fb)
                param(p + "ffn.b2", [D], "db2 = Σ_rows df", fb)
                grad(p + "ffn.gelu", BSF, "da = df·W2", fb)
                grad(p + "ffn.pre", BSF, "dz = da·GELU′(z), GELU′ the true derivative of the tanh form", fb)
                param(p + "ffn.w1", [F, D], "dW1 = dzᵀ·h2", fb)
                param(p + "ffn.b1", [F], "db1 = Σ_rows dz", fb)
                grad(p + "ln2.out", BSD, "dh2 = dz·W1", fb)
                let l2 = n + " LayerNorm 2"
                param(p + "ln2.gamma", [D], "dγ2 = Σ_rows dh2·x̂", l2)
                param(p + "ln2.beta", [D], "dβ2 = Σ_rows dh2", l2)
                grad(p + "attn.res", BSD, "dr1 = dx\(l) + " + lnBack.replacingOccurrences(of: "d(out)", with: "dh2"), l2)
            } else {
                let lb = n + " LayerNorm"
                grad(p + "ln.out", BSD, l == L - 1 ? "dx\(l) = dlogits·lm_head" : "dx\(l) = d(layer \(l + 1) input)", lb)
                param(p + "ln.gamma", [D], "dγ = Σ_rows dx\(l)·x̂", lb)
                param(p + "ln.beta", [D], "dβ = Σ_rows dx\(l)", lb)
                grad(p + "ffn.res", BSD, "dr = " + lnBack.replacingOccurrences(of: "d(out)", with: "dx\(l)"), lb)
                let fb = n + " FFN"
                grad(p + "ffn.out", BSD, "df = dr", fb)
                param(p + "ffn.w2", [D, F], "dW2 = dfᵀ·a", fb)
                param(p + "ffn.b2", [D], "db2 = Σ_rows df", fb)
                grad(p + "ffn.gelu", BSF, "da = df·W2", fb)
                grad(p + "ffn.pre", BSF, "dz = da·GELU′(z), GELU′ the true derivative of the tanh form", fb)
                param(p + "ffn.w1", [F, D], "dW1 = dzᵀ·mh", fb)
                param(p + "ffn.b1", [F], "db1 = Σ_rows dz", fb)
            }
            let ab = n + " attention"
            let attnIn = gpt ? "h" : x
            grad(p + "attn.out", BSD, gpt ? "dmh = dr1" : "dmh = dr + dz·W1 (residual + FFN path)", ab)
            param(p + "attn.wo", [D, D], "dWo = dmhᵀ·concat", ab)
            if gpt2 { param(p + "attn.bo", [D], "dbo = Σ_rows dmh", ab) }
            grad(p + "attn.concat", BSD, "dconcat = dmh·Wo", ab)
            grad(p + "attn.heads", heads, "dhead_h = dconcat[:, h·dk ..< (h+1)·dk]", ab)
            grad(p + "attn.weights", square, "dA_h = dhead_h·V_hᵀ", ab)
            grad(p + "attn.scores", square, "dS_h = A_h ⊙ (dA_h − rowsum(A_h ⊙ dA_h))", ab)
            grad(p + "attn.q", heads, "dQ_h = dS_h·K_h/√dk", ab)
            grad(p + "attn.k", heads, "dK_h = dS_hᵀ·Q_h/√dk", ab)
            grad(p + "attn.v", heads, "dV_h = A_hᵀ·dhead_h", ab)
            let dIn: String
            if gpt2 {
                param(p + "attn.wqkv", [3 * D, D], "dWqkv = [dQ | dK | dV]ᵀ·\(attnIn) (heads side by side in each block)", ab)
                param(p + "attn.bqkv", [3 * D], "dbqkv = Σ_rows [dQ | dK | dV]", ab)
                dIn = "[dQ | dK | dV]·Wqkv"
            } else {
                param(p + "attn.wq", [H, D, dk], "dWq[h] = \(attnIn)ᵀ·dQ_h", ab)
                param(p + "attn.wk", [H, D, dk], "dWk[h] = \(attnIn)ᵀ·dK_h", ab)
                param(p + "attn.wv", [H, D, dk], "dWv[h] = \(attnIn)ᵀ·dV_h", ab)
                dIn = "Σ_h dQ_h·Wq[h]ᵀ + dK_h·Wk[h]ᵀ + dV_h·Wv[h]ᵀ"
            }
            if gpt {
                let l1 = n + " LayerNorm 1"
                grad(p + "ln1.out", BSD, "dh = " + dIn, l1)
                param(p + "ln1.gamma", [D], "dγ1 = Σ_rows dh·x̂", l1)
                param(p + "ln1.beta", [D], "dβ1 = Σ_rows dh", l1)
                if l == 0 {
                    grad("emb", BSD, "dX = dr1 + " + lnBack.replacingOccurrences(of: "d(out)", with: "dh"), "embeddings")
                }
            } else if l == 0 {
                grad("emb", BSD, "dX = " + dIn, "embeddings")
            }
        }
        param("tok_emb", [V, D], gpt2 ? "dtok_emb = dlogitsᵀ·xf (the tied head) + Σ of dX over the positions holding each id"
                                      : "dtok_emb[id] = Σ of dX over the positions holding token id", "embeddings")
        param("pos_emb", [config.context, D], "dpos_emb[t] = Σ_b dX[b, t] (rows ≥ S are 0)", "embeddings")

        // MARK: updates
        var updates: [TraceEntry] = []
        for slot in ParameterLayout(config: config).slots {
            updates.append(TraceEntry(name: TensorRole.update.namePrefix + slot.name, role: .update, shape: slot.shape,
                                      formula: "Δθ = θ′ − θ, θ′ = θ·(1 − lr·wd) − lr·m̂/(√v̂ + ε)", block: "AdamW update"))
        }
        return forward + backward + updates
    }

    /// Elements of every tensor of a trace: the catalog plus the batch's tokens and targets
    /// (2·B·S). Saturates at Int.max instead of overflowing.
    public static func elementCount(config: ModelConfig, batchSize B: Int, seqLen S: Int) -> Int {
        var total = 2 &* B &* S
        for e in entries(config: config, batchSize: B, seqLen: S) {
            var n = 1
            for d in e.shape {
                let (p, o) = n.multipliedReportingOverflow(by: d)
                n = o ? Int.max : p
            }
            let (s, o) = total.addingReportingOverflow(n)
            total = o ? Int.max : s
        }
        return total
    }
}
