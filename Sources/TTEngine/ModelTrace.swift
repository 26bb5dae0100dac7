import TTCore

/// The points of `Model.backward()` at which a trace reads the backward scratch buffers
/// (they are reused by every layer, so each stage's values exist only for a moment).
enum BackwardPoint {
    /// dlogits and the loss head are done: `dres` holds d(top block output); gpt: `dln`
    /// holds d(ln_f output).
    case top
    /// gpt, layer l: the FFN and LayerNorm 2 are done: `dfchGelu`, `dfch`, `dln` (= d ln2
    /// output) and `dres` (= d(x + attention)) hold this layer's values.
    case afterFFN(Int)
    /// Layer l is done: `dres` holds d(layer input); the other scratch buffers hold this
    /// layer's last values.
    case afterLayer(Int)
}

extension Model {
    /// Runs `forward(batch)` and `backward()` exactly as `trainStep` does (same kernels, same
    /// order: `gradients` afterwards holds the training gradient bit for bit) and returns
    /// the value of every activation and activation-gradient entry of
    /// `TraceCatalog.entries(config:batchSize:seqLen:)`, by name, row-major.
    ///
    /// Copied from the engine's buffers: every activation the forward saves, dlogits, and
    /// the backward's per-layer gradients (read at `BackwardPoint`s). Computed here, in
    /// Float32 with plain loops, from saved values: the scores S_h = Q_h·K_hᵀ/√dk (the
    /// forward keeps only the softmax), dA_h = dhead_h·V_hᵀ and
    /// dS_h = A_h ⊙ (dA_h − rowsum(A_h ⊙ dA_h)) (the backward keeps them in per-thread
    /// scratch).
    public func traceForwardBackward(_ batch: Batch) -> (loss: Float, tensors: [String: [Float]]) {
        let loss = forward(batch)
        let B = lastBatchSize, S = lastSeqLen, BT = B * S
        let (C, V, H, L) = (config.dModel, config.vocabSize, config.nHeads, config.nLayers)
        let dk = C / H
        let a = actBuffer
        precondition(TraceCatalog.supports(config.arch), "no trace stages for arch \(config.arch)")
        let gpt = config.arch != .tutorial   // gpt2 saves the same buffers as gpt
        var out: [String: [Float]] = [:]
        func copy(_ p: UnsafePointer<Float>, _ n: Int) -> [Float] { Array(UnsafeBufferPointer(start: p, count: n)) }
        /// (B, S, width) rows, columns [offset, offset + H·dk) → (B, H, S, dk).
        func heads(_ p: UnsafePointer<Float>, width: Int, offset: Int) -> [Float] {
            var r = [Float](repeating: 0, count: B * H * S * dk)
            for b in 0..<B { for h in 0..<H { for t in 0..<S { for j in 0..<dk {
                r[((b * H + h) * S + t) * dk + j] = p[(b * S + t) * width + offset + h * dk + j]
            } } } }
            return r
        }

        // Forward.
        out["act.emb"] = copy(a + acts.encoded, BT * C)
        for l in 0..<L {
            let la = a + l * acts.layerStride
            let p = "act.layers.\(l)."
            if gpt {
                out[p + "ln1.mean"] = copy(la + acts.ln1Mean, BT)
                out[p + "ln1.rstd"] = copy(la + acts.ln1Rstd, BT)
                out[p + "ln1.out"] = copy(la + acts.ln1, BT * C)
            }
            let q = heads(la + acts.qkv, width: 3 * C, offset: 0)
            let k = heads(la + acts.qkv, width: 3 * C, offset: C)
            out[p + "attn.q"] = q
            out[p + "attn.k"] = k
            out[p + "attn.v"] = heads(la + acts.qkv, width: 3 * C, offset: 2 * C)
            let scale: Float = 1 / Float(dk).squareRoot()
            var scores = [Float](repeating: 0, count: B * H * S * S)
            q.withUnsafeBufferPointer { qp in
                k.withUnsafeBufferPointer { kp in
                    for bh in 0..<(B * H) { for t in 0..<S { for t2 in 0..<S {
                        let qi = qp.baseAddress! + (bh * S + t) * dk, ki = kp.baseAddress! + (bh * S + t2) * dk
                        scores[(bh * S + t) * S + t2] = dotProduct(qi, ki, dk) * scale
                    } } }
                }
            }
            out[p + "attn.scores"] = scores
            out[p + "attn.weights"] = copy(la + acts.att, B * H * S * S)
            out[p + "attn.heads"] = heads(la + acts.atty, width: C, offset: 0)
            out[p + "attn.concat"] = copy(la + acts.atty, BT * C)
            out[p + "attn.out"] = copy(la + acts.attproj, BT * C)
            if gpt {
                out[p + "attn.res"] = copy(la + acts.res2, BT * C)
                out[p + "ln2.mean"] = copy(la + acts.ln2Mean, BT)
                out[p + "ln2.rstd"] = copy(la + acts.ln2Rstd, BT)
                out[p + "ln2.out"] = copy(la + acts.ln2, BT * C)
            }
            let F = config.dFF
            out[p + "ffn.pre"] = copy(la + acts.fch, BT * F)
            out[p + "ffn.gelu"] = copy(la + acts.fchGelu, BT * F)
            out[p + "ffn.out"] = copy(la + acts.fcproj, BT * C)
            out[p + "ffn.res"] = copy(la + acts.res3, BT * C)
            if !gpt {
                out[p + "ln.mean"] = copy(la + acts.lnMean, BT)
                out[p + "ln.rstd"] = copy(la + acts.lnRstd, BT)
                out[p + "ln.out"] = copy(la + acts.lnOut, BT * C)
            }
        }
        if gpt {
            out["act.ln_f.mean"] = copy(a + acts.lnfMean, BT)
            out["act.ln_f.rstd"] = copy(a + acts.lnfRstd, BT)
            out["act.ln_f.out"] = copy(a + acts.lnf, BT * C)
        }
        out["act.logits"] = copy(a + acts.logits, BT * V)
        out["act.probs"] = copy(a + acts.probs, BT * V)
        out["act.losses"] = copy(a + acts.losses, BT)
        out["act.loss"] = [loss]

        // Backward, reading the scratch buffers at each point.
        let F = config.dFF
        let acts = self.acts
        /// The block input's gradient name for layer l.
        func inputGradient(_ l: Int) -> [String] {
            if l == 0 { return ["grad.emb"] }
            return gpt ? ["grad.layers.\(l - 1).ffn.res", "grad.layers.\(l - 1).ffn.out"] : ["grad.layers.\(l - 1).ln.out"]
        }
        backwardObserver = { point in
            switch point {
            case .top:
                if gpt {
                    out["grad.ln_f.out"] = copy(a + acts.dln, BT * C)
                    out["grad.layers.\(L - 1).ffn.res"] = copy(a + acts.dres, BT * C)
                    out["grad.layers.\(L - 1).ffn.out"] = copy(a + acts.dres, BT * C)
                } else {
                    out["grad.layers.\(L - 1).ln.out"] = copy(a + acts.dres, BT * C)
                }
            case .afterFFN(let l):
                let p = "grad.layers.\(l)."
                out[p + "ffn.gelu"] = copy(a + acts.dfchGelu, BT * F)
                out[p + "ffn.pre"] = copy(a + acts.dfch, BT * F)
                out[p + "ln2.out"] = copy(a + acts.dln, BT * C)
                out[p + "attn.res"] = copy(a + acts.dres, BT * C)
                out[p + "attn.out"] = copy(a + acts.dres, BT * C)
            case .afterLayer(let l):
                let p = "grad.layers.\(l)."
                if gpt {
                    out[p + "ln1.out"] = copy(a + acts.dln, BT * C)
                } else {
                    out[p + "ffn.res"] = copy(a + acts.dln, BT * C)
                    out[p + "ffn.out"] = copy(a + acts.dln, BT * C)
                    out[p + "ffn.gelu"] = copy(a + acts.dfchGelu, BT * F)
                    out[p + "ffn.pre"] = copy(a + acts.dfch, BT * F)
                    out[p + "attn.out"] = copy(a + acts.dmh, BT * C)
                }
                out[p + "attn.concat"] = copy(a + acts.datty, BT * C)
                let dhead = heads(a + acts.datty, width: C, offset: 0)
                out[p + "attn.heads"] = dhead
                out[p + "attn.q"] = heads(a + acts.dqkv, width: 3 * C, offset: 0)
                out[p + "attn.k"] = heads(a + acts.dqkv, width: 3 * C, offset: C)
                out[p + "attn.v"] = heads(a + acts.dqkv, width: 3 * C, offset: 2 * C)
                // dA_h = dhead_h·V_hᵀ over every (t, t2); dS_h = A ⊙ (dA − rowsum(A ⊙ dA)).
                let v = out["act.layers.\(l).attn.v"]!, w = out["act.layers.\(l).attn.weights"]!
                var dA = [Float](repeating: 0, count: B * H * S * S), dS = dA
                for bh in 0..<(B * H) {
                    for t in 0..<S {
                        var dot: Float = 0
                        for t2 in 0..<S {
                            var s: Float = 0
                            for j in 0..<dk { s = dhead[(bh * S + t) * dk + j] * v[(bh * S + t2) * dk + j] + s }
                            dA[(bh * S + t) * S + t2] = s
                            dot = w[(bh * S + t) * S + t2] * s + dot
                        }
                        for t2 in 0..<S {
                            let i = (bh * S + t) * S + t2
                            dS[i] = w[i] * (dA[i] - dot)
                        }
                    }
                }
                out[p + "attn.weights"] = dA
                out[p + "attn.scores"] = dS
                for name in inputGradient(l) { out[name] = copy(a + acts.dres, BT * C) }
            }
        }
        backward()
        backwardObserver = nil
        out["grad.logits"] = copy(a + acts.dlogits, BT * V)
        return (loss, out)
    }
}
