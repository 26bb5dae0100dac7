import Foundation
@testable import TTCore
@testable import TTEngine

/// A plain, obviously-correct Double implementation of the three archs, written with loops
/// in the style of the tutorial series: one sequence at a time, every sum spelled out, its
/// own hand-written backward. The engine is checked against it; it is checked against
/// central finite differences and the series' published numbers.
///
/// Parameters are stored by canonical name, flat row-major, with the engine's shapes:
/// wq/wk/wv (H, D, dk) used as q_h = x·Wq[h]; wo (D, D) used as concat·Woᵀ;
/// w1 (F, D), w2 (D, F) used as z·W1ᵀ; lm_head (V, D).
/// gpt2: wqkv (3D, D) and bqkv (3D) used as qkv = x·Wqkvᵀ + bqkv with q_h = qkv[h·dk ..< (h+1)·dk],
/// k_h and v_h the same D and 2D further; wo with bias bo; the head is tok_emb (tied), so
/// tok_emb's gradient is the sum of its two uses.
final class ReferenceModel {
    let config: ModelConfig
    var params: [String: [Double]]
    /// Replaces `geluPrime` in `trace`'s backward (tests build a wrong derivative with it).
    var geluPrimeOverride: ((Double) -> Double)?

    init(config: ModelConfig, params: [String: [Double]]) {
        self.config = config
        self.params = params
    }

    /// Copies the engine's Float parameters.
    convenience init(copying model: Model) {
        var params: [String: [Double]] = [:]
        for slot in model.layout.slots {
            params[slot.name] = model.view(model.parameters, slot).map(Double.init)
        }
        self.init(config: model.config, params: params)
    }

    var D: Int { config.dModel }
    var H: Int { config.nHeads }
    var dk: Int { config.headDim }
    var F: Int { config.dFF }
    var V: Int { config.vocabSize }

    struct Output {
        /// Mean loss over all non-ignored targets of the batch.
        var loss: Double
        /// logits[b][t][v]
        var logits: [[[Double]]]
        /// Per-position losses (0 where ignored).
        var losses: [[Double]]
        /// d loss / d param by name (empty when not asked for).
        var grads: [String: [Double]]
    }

    // MARK: building blocks

    /// y[t][o] = Σ_i x[t][i]·W[o][i] (+ b[o]), W stored (out, in).
    func linear(_ x: [[Double]], _ W: [Double], _ b: [Double]?, out: Int) -> [[Double]] {
        let n = x[0].count
        var y = [[Double]](repeating: [Double](repeating: 0, count: out), count: x.count)
        for t in 0..<x.count {
            for o in 0..<out {
                var s = b?[o] ?? 0
                for i in 0..<n { s += x[t][i] * W[o * n + i] }
                y[t][o] = s
            }
        }
        return y
    }

    /// Backward of `linear`: returns dx, adds into dW (and db).
    func linearBackward(_ dy: [[Double]], _ x: [[Double]], _ W: [Double],
                        _ dW: inout [Double], _ db: inout [Double]?) -> [[Double]] {
        let n = x[0].count, out = dy[0].count
        var dx = [[Double]](repeating: [Double](repeating: 0, count: n), count: x.count)
        for t in 0..<x.count {
            for o in 0..<out {
                db?[o] += dy[t][o]
                for i in 0..<n {
                    dx[t][i] += dy[t][o] * W[o * n + i]
                    dW[o * n + i] += dy[t][o] * x[t][i]
                }
            }
        }
        return dx
    }

    func layerNorm(_ x: [[Double]], _ gamma: [Double], _ beta: [Double]) -> [[Double]] {
        var y = x
        for t in 0..<x.count {
            let n = Double(x[t].count)
            let mean = x[t].reduce(0, +) / n
            var variance = 0.0
            for v in x[t] { variance += (v - mean) * (v - mean) }
            variance /= n  // biased
            let denom = (variance + 1e-5).squareRoot()
            for i in 0..<x[t].count { y[t][i] = gamma[i] * (x[t][i] - mean) / denom + beta[i] }
        }
        return y
    }

    /// Backward of `layerNorm` through the mean and the variance, written out term by term.
    /// `norm` is the tensor prefix, e.g. "ln_f" or "layers.0.ln1".
    func layerNormBackward(_ dy: [[Double]], _ x: [[Double]], _ norm: String,
                           grads: inout [String: [Double]]) -> [[Double]] {
        let gamma = params[norm + ".gamma"]!
        var dgamma = grads[norm + ".gamma"]!, dbeta = grads[norm + ".beta"]!
        defer { grads[norm + ".gamma"] = dgamma; grads[norm + ".beta"] = dbeta }
        var dx = x
        for t in 0..<x.count {
            let C = x[t].count
            let n = Double(C)
            let mean = x[t].reduce(0, +) / n
            var variance = 0.0
            for v in x[t] { variance += (v - mean) * (v - mean) }
            variance /= n
            let sigma = (variance + 1e-5).squareRoot()
            var xhat = [Double](repeating: 0, count: C)
            for i in 0..<C { xhat[i] = (x[t][i] - mean) / sigma }
            // dxhat, then through xhat = (x − μ)/σ with μ and σ² functions of x
            var dxhat = [Double](repeating: 0, count: C)
            for i in 0..<C {
                dgamma[i] += dy[t][i] * xhat[i]
                dbeta[i] += dy[t][i]
                dxhat[i] = dy[t][i] * gamma[i]
            }
            var dvar = 0.0
            for i in 0..<C { dvar += dxhat[i] * (x[t][i] - mean) * -0.5 * pow(variance + 1e-5, -1.5) }
            var dmean = 0.0
            for i in 0..<C { dmean += -dxhat[i] / sigma }
            for i in 0..<C { dmean += dvar * -2 * (x[t][i] - mean) / n }
            for i in 0..<C {
                dx[t][i] = dxhat[i] / sigma + dvar * 2 * (x[t][i] - mean) / n + dmean / n
            }
        }
        return dx
    }

    func gelu(_ x: Double) -> Double {
        0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
    }

    /// The true derivative of `gelu` (product and chain rule).
    func geluPrime(_ x: Double) -> Double {
        let c = (2 / Double.pi).squareRoot()
        let u = c * (x + 0.044715 * x * x * x)
        let th = tanh(u)
        return 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * c * (1 + 3 * 0.044715 * x * x)
    }

    struct AttentionCache {
        var q: [[[Double]]] = [], k: [[[Double]]] = [], v: [[[Double]]] = []  // [h][t][j]
        var att: [[[Double]]] = []                                            // [h][t][t2]
        var concat: [[Double]] = []                                           // [t][D]
    }

    /// Causal multi-head attention of one sequence x (S, D); returns concat·Woᵀ.
    func attention(_ x: [[Double]], layer l: Int, cache: inout AttentionCache) -> [[Double]] {
        let S = x.count
        let p = "layers.\(l).attn."
        let Wo = params[p + "wo"]!
        let Wq = params[p + "wq"] ?? [], Wk = params[p + "wk"] ?? [], Wv = params[p + "wv"] ?? []   // not gpt2
        let zero = [[Double]](repeating: [Double](repeating: 0, count: dk), count: S)
        cache.q = Array(repeating: zero, count: H)
        cache.k = cache.q
        cache.v = cache.q
        cache.att = Array(repeating: Array(repeating: Array(repeating: 0, count: S), count: S), count: H)
        cache.concat = Array(repeating: Array(repeating: 0, count: D), count: S)
        // gpt2: one fused projection with bias, split into q | k | v, heads in order
        let qkv = config.arch == .gpt2 ? linear(x, params[p + "wqkv"]!, params[p + "bqkv"]!, out: 3 * D) : []
        for h in 0..<H {
            for t in 0..<S {
                for j in 0..<dk {
                    if config.arch == .gpt2 {
                        cache.q[h][t][j] = qkv[t][h * dk + j]
                        cache.k[h][t][j] = qkv[t][D + h * dk + j]
                        cache.v[h][t][j] = qkv[t][2 * D + h * dk + j]
                        continue
                    }
                    for d in 0..<D {
                        let w = (h * D + d) * dk + j
                        cache.q[h][t][j] += x[t][d] * Wq[w]
                        cache.k[h][t][j] += x[t][d] * Wk[w]
                        cache.v[h][t][j] += x[t][d] * Wv[w]
                    }
                }
            }
            for t in 0..<S {
                var scores = [Double](repeating: -Double.infinity, count: S)
                for t2 in 0...t {
                    var s = 0.0
                    for j in 0..<dk { s += cache.q[h][t][j] * cache.k[h][t2][j] }
                    scores[t2] = s / Double(dk).squareRoot()
                }
                let m = scores.max()!
                var sum = 0.0
                for t2 in 0...t { sum += exp(scores[t2] - m) }
                for t2 in 0...t { cache.att[h][t][t2] = exp(scores[t2] - m) / sum }
                for j in 0..<dk {
                    var o = 0.0
                    for t2 in 0...t { o += cache.att[h][t][t2] * cache.v[h][t2][j] }
                    cache.concat[t][h * dk + j] = o
                }
            }
        }
        return linear(cache.concat, Wo, config.arch == .gpt2 ? params[p + "bo"]! : nil, out: D)
    }

    func attentionBackward(_ dout: [[Double]], _ x: [[Double]], layer l: Int, cache: AttentionCache,
                           grads: inout [String: [Double]]) -> [[Double]] {
        let S = x.count
        let p = "layers.\(l).attn."
        let gpt2 = config.arch == .gpt2
        let Wo = params[p + "wo"]!
        let Wq = params[p + "wq"] ?? [], Wk = params[p + "wk"] ?? [], Wv = params[p + "wv"] ?? []   // not gpt2
        var dbo: [Double]? = gpt2 ? grads[p + "bo"]! : nil
        let dconcat = linearBackward(dout, cache.concat, Wo, &grads[p + "wo"]!, &dbo)
        if gpt2 { grads[p + "bo"] = dbo! }
        var dx = [[Double]](repeating: [Double](repeating: 0, count: D), count: S)
        // gpt2: d(qkv) gathered from every head, then one linear backward
        var dqkv = [[Double]](repeating: [Double](repeating: 0, count: 3 * D), count: S)
        for h in 0..<H {
            var dq = [[Double]](repeating: [Double](repeating: 0, count: dk), count: S)
            var dkk = dq, dv = dq
            for t in 0..<S {
                // out[t][j] = Σ_t2 att[t][t2]·v[t2][j]
                var datt = [Double](repeating: 0, count: S)
                for t2 in 0...t {
                    for j in 0..<dk {
                        datt[t2] += dconcat[t][h * dk + j] * cache.v[h][t2][j]
                        dv[t2][j] += cache.att[h][t][t2] * dconcat[t][h * dk + j]
                    }
                }
                // softmax Jacobian: dscore[i] = Σ_j att[j]·(δij − att[i])·datt[j]
                for i in 0...t {
                    var ds = 0.0
                    for j in 0...t {
                        let jac = cache.att[h][t][j] * ((i == j ? 1 : 0) - cache.att[h][t][i])
                        ds += jac * datt[j]
                    }
                    // score = q·k / √dk
                    for j in 0..<dk {
                        dq[t][j] += ds * cache.k[h][i][j] / Double(dk).squareRoot()
                        dkk[i][j] += ds * cache.q[h][t][j] / Double(dk).squareRoot()
                    }
                }
            }
            for t in 0..<S {
                for j in 0..<dk {
                    if gpt2 {
                        dqkv[t][h * dk + j] = dq[t][j]
                        dqkv[t][D + h * dk + j] = dkk[t][j]
                        dqkv[t][2 * D + h * dk + j] = dv[t][j]
                        continue
                    }
                    for d in 0..<D {
                        let w = (h * D + d) * dk + j
                        grads[p + "wq"]![w] += x[t][d] * dq[t][j]
                        grads[p + "wk"]![w] += x[t][d] * dkk[t][j]
                        grads[p + "wv"]![w] += x[t][d] * dv[t][j]
                        dx[t][d] += dq[t][j] * Wq[w] + dkk[t][j] * Wk[w] + dv[t][j] * Wv[w]
                    }
                }
            }
        }
        if gpt2 {
            var dbqkv: [Double]? = grads[p + "bqkv"]!
            dx = linearBackward(dqkv, x, params[p + "wqkv"]!, &grads[p + "wqkv"]!, &dbqkv)
            grads[p + "bqkv"] = dbqkv!
        }
        return dx
    }

    func add(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] {
        var c = a
        for t in 0..<a.count { for i in 0..<a[t].count { c[t][i] += b[t][i] } }
        return c
    }

    // MARK: the model

    struct LayerCache {
        var input: [[Double]] = []
        var attnIn: [[Double]] = []       // gpt, gpt2: LN1(x); tutorial: x
        var attn = AttentionCache()
        var mh: [[Double]] = []           // attention output
        var ffnIn: [[Double]] = []        // gpt: LN2(x + mh); tutorial: mh
        var z: [[Double]] = []            // pre-GELU
        var a: [[Double]] = []            // GELU(z)
        var r: [[Double]] = []            // tutorial: mh + FFN(mh); gpt: x + mh
        var output: [[Double]] = []
    }

    /// Runs the batch; with `gradients`, also the exact backward of the mean loss.
    func run(tokens: [[Int]], targets: [[Int]], gradients: Bool) -> Output {
        var grads: [String: [Double]] = [:]
        if gradients { for (k, v) in params { grads[k] = [Double](repeating: 0, count: v.count) } }
        var count = 0
        for row in targets { for y in row where y != -1 { count += 1 } }
        var out = Output(loss: 0, logits: [], losses: [], grads: [:])
        var total = 0.0
        for b in 0..<tokens.count {
            let S = tokens[b].count
            var x = [[Double]](repeating: [Double](repeating: 0, count: D), count: S)
            for t in 0..<S {
                for d in 0..<D {
                    x[t][d] = params["tok_emb"]![tokens[b][t] * D + d] + params["pos_emb"]![t * D + d]
                }
            }
            var caches: [LayerCache] = []
            for l in 0..<config.nLayers {
                let p = "layers.\(l)."
                var c = LayerCache()
                c.input = x
                switch config.arch {
                case .tutorial:
                    c.attnIn = x
                    c.mh = attention(x, layer: l, cache: &c.attn)
                    c.ffnIn = c.mh
                case .gpt, .gpt2:
                    c.attnIn = layerNorm(x, params[p + "ln1.gamma"]!, params[p + "ln1.beta"]!)
                    c.mh = attention(c.attnIn, layer: l, cache: &c.attn)
                    c.r = add(x, c.mh)
                    c.ffnIn = layerNorm(c.r, params[p + "ln2.gamma"]!, params[p + "ln2.beta"]!)
                }
                c.z = linear(c.ffnIn, params[p + "ffn.w1"]!, params[p + "ffn.b1"]!, out: F)
                c.a = c.z.map { $0.map(gelu) }
                let ffn = linear(c.a, params[p + "ffn.w2"]!, params[p + "ffn.b2"]!, out: D)
                switch config.arch {
                case .tutorial:
                    c.r = add(c.mh, ffn)
                    c.output = layerNorm(c.r, params[p + "ln.gamma"]!, params[p + "ln.beta"]!)
                case .gpt, .gpt2:
                    c.output = add(c.r, ffn)
                }
                x = c.output
                caches.append(c)
            }
            let top = x
            if config.arch != .tutorial { x = layerNorm(top, params["ln_f.gamma"]!, params["ln_f.beta"]!) }
            let head = config.arch == .gpt2 ? "tok_emb" : "lm_head"   // gpt2: tied
            let logits = linear(x, params[head]!, nil, out: V)
            out.logits.append(logits)
            var losses = [Double](repeating: 0, count: S)
            var dlogits = [[Double]](repeating: [Double](repeating: 0, count: V), count: S)
            for t in 0..<S {
                let m = logits[t].max()!
                var sum = 0.0
                for v in 0..<V { sum += exp(logits[t][v] - m) }
                let y = targets[b][t]
                guard y != -1 else { continue }
                losses[t] = -(logits[t][y] - m - log(sum))
                total += losses[t]
                for v in 0..<V {
                    let prob = exp(logits[t][v] - m) / sum
                    dlogits[t][v] = (prob - (v == y ? 1 : 0)) / Double(count)
                }
            }
            out.losses.append(losses)
            guard gradients else { continue }

            var none: [Double]? = nil
            var dx = linearBackward(dlogits, x, params[head]!, &grads[head]!, &none)
            if config.arch != .tutorial {
                dx = layerNormBackward(dx, top, "ln_f", grads: &grads)
            }
            for l in stride(from: config.nLayers - 1, through: 0, by: -1) {
                let p = "layers.\(l)."
                let c = caches[l]
                var db1: [Double]? = grads[p + "ffn.b1"]!
                var db2: [Double]? = grads[p + "ffn.b2"]!
                switch config.arch {
                case .tutorial:
                    let dr = layerNormBackward(dx, c.r, p + "ln", grads: &grads)
                    let da = linearBackward(dr, c.a, params[p + "ffn.w2"]!, &grads[p + "ffn.w2"]!, &db2)
                    var dz = da
                    for t in 0..<S { for f in 0..<F { dz[t][f] = da[t][f] * geluPrime(c.z[t][f]) } }
                    let dmhFFN = linearBackward(dz, c.mh, params[p + "ffn.w1"]!, &grads[p + "ffn.w1"]!, &db1)
                    let dmh = add(dr, dmhFFN)
                    dx = attentionBackward(dmh, c.input, layer: l, cache: c.attn, grads: &grads)
                case .gpt, .gpt2:
                    let da = linearBackward(dx, c.a, params[p + "ffn.w2"]!, &grads[p + "ffn.w2"]!, &db2)
                    var dz = da
                    for t in 0..<S { for f in 0..<F { dz[t][f] = da[t][f] * geluPrime(c.z[t][f]) } }
                    let dln2 = linearBackward(dz, c.ffnIn, params[p + "ffn.w1"]!, &grads[p + "ffn.w1"]!, &db1)
                    let dr = add(dx, layerNormBackward(dln2, c.r, p + "ln2", grads: &grads))
                    let dln1 = attentionBackward(dr, c.attnIn, layer: l, cache: c.attn, grads: &grads)
                    dx = add(dr, layerNormBackward(dln1, c.input, p + "ln1", grads: &grads))
                }
                grads[p + "ffn.b1"] = db1!
                grads[p + "ffn.b2"] = db2!
            }
            for t in 0..<S {
                for d in 0..<D {
                    grads["tok_emb"]![tokens[b][t] * D + d] += dx[t][d]
                    grads["pos_emb"]![t * D + d] += dx[t][d]
                }
            }
        }
        out.loss = count > 0 ? total / Double(count) : 0
        out.grads = grads
        return out
    }
}

// MARK: - Named activations and their gradients (what `tt-ckpt trace` stores)

extension ReferenceModel {
    /// Every activation of spec/TRACE.md and the gradient of the mean loss with respect to
    /// each, by the trace's names and flat row-major layouts, plus the parameter gradients.
    struct Trace {
        var loss: Double
        var acts: [String: [Double]]
        var grads: [String: [Double]]
        var paramGrads: [String: [Double]]
    }

    /// Runs the batch stage by stage, recording each activation under its `act.` name; with
    /// `perturb`, adds `delta` to element `index` of that activation right after computing
    /// it (so the rest of the pass sees the change: central differences of the loss give
    /// the activation's gradient). With `gradients`, also the backward, written out stage by
    /// stage, independent of `run`: the softmax through its Jacobian, the LayerNorm term by
    /// term, masked weights included in the value sum (their gradient is dA = dhead·Vᵀ).
    func trace(tokens: [[Int]], targets: [[Int]], perturb: (name: String, index: Int, delta: Double)? = nil,
               gradients: Bool = true) -> Trace {
        let B = tokens.count, S = tokens[0].count, L = config.nLayers
        let gpt = config.arch != .tutorial, gpt2 = config.arch == .gpt2
        let head = gpt2 ? "tok_emb" : "lm_head"   // gpt2: the tied head
        var acts: [String: [Double]] = [:], dacts: [String: [Double]] = [:]
        var grads: [String: [Double]] = [:]
        for (k, v) in params { grads[k] = [Double](repeating: 0, count: v.count) }
        var count = 0
        for row in targets { for y in row where y != -1 { count += 1 } }
        var total = 0.0

        // Flat layouts: (B, S, X) and (B, H, S, X) and (B, S).
        func put(_ into: inout [String: [Double]], _ name: String, _ b: Int, _ flat: [Double]) {
            if into[name] == nil { into[name] = [Double](repeating: 0, count: B * flat.count) }
            for i in 0..<flat.count { into[name]![b * flat.count + i] = flat[i] }
        }
        func perturbed(_ name: String, _ b: Int, _ flat: inout [Double]) {
            guard let p = perturb, p.name == name else { return }
            let i = p.index - b * flat.count
            if i >= 0 && i < flat.count { flat[i] += p.delta }
        }
        func stage(_ name: String, _ b: Int, _ x: inout [[Double]]) {
            var flat = x.flatMap { $0 }
            put(&acts, "act." + name, b, flat)
            perturbed("act." + name, b, &flat)
            let w = x[0].count
            for t in 0..<x.count { for i in 0..<w { x[t][i] = flat[t * w + i] } }
        }
        func stageHeads(_ name: String, _ b: Int, _ x: inout [[[Double]]]) {
            var flat = x.flatMap { $0.flatMap { $0 } }
            put(&acts, "act." + name, b, flat)
            perturbed("act." + name, b, &flat)
            let (s, w) = (x[0].count, x[0][0].count)
            for h in 0..<x.count { for t in 0..<s { for i in 0..<w { x[h][t][i] = flat[(h * s + t) * w + i] } } }
        }
        func stageRow(_ name: String, _ b: Int, _ x: inout [Double]) {
            put(&acts, "act." + name, b, x)
            perturbed("act." + name, b, &x)
        }
        func grad(_ name: String, _ b: Int, _ x: [[Double]]) { put(&dacts, "grad." + name, b, x.flatMap { $0 }) }
        func gradHeads(_ name: String, _ b: Int, _ x: [[[Double]]]) {
            put(&dacts, "grad." + name, b, x.flatMap { $0.flatMap { $0 } })
        }
        /// LayerNorm with its mean and rstd as stages (the output uses them as perturbed).
        func norm(_ prefix: String, _ b: Int, _ x: [[Double]], _ gamma: [Double], _ beta: [Double]) -> [[Double]] {
            var mean = x.map { $0.reduce(0, +) / Double($0.count) }
            var rstd = [Double](repeating: 0, count: x.count)
            for t in 0..<x.count {
                var v = 0.0
                for c in x[t] { v += (c - mean[t]) * (c - mean[t]) }
                rstd[t] = 1 / (v / Double(x[t].count) + 1e-5).squareRoot()
            }
            stageRow(prefix + ".mean", b, &mean)
            stageRow(prefix + ".rstd", b, &rstd)
            var y = x
            for t in 0..<x.count { for i in 0..<x[t].count { y[t][i] = (x[t][i] - mean[t]) * rstd[t] * gamma[i] + beta[i] } }
            stage(prefix + ".out", b, &y)
            return y
        }

        struct Saved {
            var input: [[Double]] = [], attnIn: [[Double]] = []
            var q: [[[Double]]] = [], k: [[[Double]]] = [], v: [[[Double]]] = [], A: [[[Double]]] = []
            var concat: [[Double]] = [], r1: [[Double]] = [], ffnIn: [[Double]] = []
            var z: [[Double]] = [], a: [[Double]] = [], res: [[Double]] = []
        }

        for b in 0..<B {
            var x = [[Double]](repeating: [Double](repeating: 0, count: D), count: S)
            for t in 0..<S { for d in 0..<D { x[t][d] = params["tok_emb"]![tokens[b][t] * D + d] + params["pos_emb"]![t * D + d] } }
            stage("emb", b, &x)
            var saved: [Saved] = []
            for l in 0..<L {
                let p = "layers.\(l)."
                var c = Saved()
                c.input = x
                c.attnIn = gpt ? norm(p + "ln1", b, x, params[p + "ln1.gamma"]!, params[p + "ln1.beta"]!) : x
                let zero = [[Double]](repeating: [Double](repeating: 0, count: dk), count: S)
                c.q = Array(repeating: zero, count: H); c.k = c.q; c.v = c.q
                if gpt2 {
                    let qkv = linear(c.attnIn, params[p + "attn.wqkv"]!, params[p + "attn.bqkv"]!, out: 3 * D)
                    for h in 0..<H { for t in 0..<S { for j in 0..<dk {
                        c.q[h][t][j] = qkv[t][h * dk + j]
                        c.k[h][t][j] = qkv[t][D + h * dk + j]
                        c.v[h][t][j] = qkv[t][2 * D + h * dk + j]
                    } } }
                } else {
                    for h in 0..<H { for t in 0..<S { for j in 0..<dk { for d in 0..<D {
                        let w = (h * D + d) * dk + j
                        c.q[h][t][j] += c.attnIn[t][d] * params[p + "attn.wq"]![w]
                        c.k[h][t][j] += c.attnIn[t][d] * params[p + "attn.wk"]![w]
                        c.v[h][t][j] += c.attnIn[t][d] * params[p + "attn.wv"]![w]
                    } } } }
                }
                stageHeads(p + "attn.q", b, &c.q)
                stageHeads(p + "attn.k", b, &c.k)
                stageHeads(p + "attn.v", b, &c.v)
                var scores = Array(repeating: Array(repeating: Array(repeating: 0.0, count: S), count: S), count: H)
                for h in 0..<H { for t in 0..<S { for t2 in 0..<S {
                    var s = 0.0
                    for j in 0..<dk { s += c.q[h][t][j] * c.k[h][t2][j] }
                    scores[h][t][t2] = s / Double(dk).squareRoot()
                } } }
                stageHeads(p + "attn.scores", b, &scores)
                c.A = scores
                for h in 0..<H { for t in 0..<S {
                    let m = scores[h][t][0...t].max()!
                    var sum = 0.0
                    for t2 in 0...t { sum += exp(scores[h][t][t2] - m) }
                    for t2 in 0..<S { c.A[h][t][t2] = t2 <= t ? exp(scores[h][t][t2] - m) / sum : 0 }
                } }
                stageHeads(p + "attn.weights", b, &c.A)
                var heads = Array(repeating: zero, count: H)
                for h in 0..<H { for t in 0..<S { for j in 0..<dk {
                    var o = 0.0
                    for t2 in 0..<S { o += c.A[h][t][t2] * c.v[h][t2][j] }   // masked weights included
                    heads[h][t][j] = o
                } } }
                stageHeads(p + "attn.heads", b, &heads)
                c.concat = Array(repeating: Array(repeating: 0, count: D), count: S)
                for h in 0..<H { for t in 0..<S { for j in 0..<dk { c.concat[t][h * dk + j] = heads[h][t][j] } } }
                stage(p + "attn.concat", b, &c.concat)
                var mh = linear(c.concat, params[p + "attn.wo"]!, gpt2 ? params[p + "attn.bo"]! : nil, out: D)
                stage(p + "attn.out", b, &mh)
                if gpt {
                    c.r1 = add(x, mh)
                    stage(p + "attn.res", b, &c.r1)
                    c.ffnIn = norm(p + "ln2", b, c.r1, params[p + "ln2.gamma"]!, params[p + "ln2.beta"]!)
                } else {
                    c.ffnIn = mh
                }
                c.z = linear(c.ffnIn, params[p + "ffn.w1"]!, params[p + "ffn.b1"]!, out: F)
                stage(p + "ffn.pre", b, &c.z)
                c.a = c.z.map { $0.map(gelu) }
                stage(p + "ffn.gelu", b, &c.a)
                var f = linear(c.a, params[p + "ffn.w2"]!, params[p + "ffn.b2"]!, out: D)
                stage(p + "ffn.out", b, &f)
                c.res = add(gpt ? c.r1 : mh, f)
                stage(p + "ffn.res", b, &c.res)
                x = gpt ? c.res : norm(p + "ln", b, c.res, params[p + "ln.gamma"]!, params[p + "ln.beta"]!)
                saved.append(c)
            }
            let top = x
            if gpt { x = norm("ln_f", b, top, params["ln_f.gamma"]!, params["ln_f.beta"]!) }
            var logits = linear(x, params[head]!, nil, out: V)
            stage("logits", b, &logits)
            var probs = logits, losses = [Double](repeating: 0, count: S)
            var dlogits = [[Double]](repeating: [Double](repeating: 0, count: V), count: S)
            for t in 0..<S {
                let m = logits[t].max()!
                var sum = 0.0
                for v in 0..<V { sum += exp(logits[t][v] - m) }
                for v in 0..<V { probs[t][v] = exp(logits[t][v] - m) / sum }
                let y = targets[b][t]
                guard y != -1 else { continue }
                losses[t] = -log(probs[t][y])
                total += losses[t]
                for v in 0..<V { dlogits[t][v] = (probs[t][v] - (v == y ? 1 : 0)) / Double(count) }
            }
            put(&acts, "act.probs", b, probs.flatMap { $0 })
            put(&acts, "act.losses", b, losses)
            guard gradients else { continue }

            // Backward, stage by stage.
            grad("logits", b, dlogits)
            var none: [Double]? = nil
            var dx = linearBackward(dlogits, x, params[head]!, &grads[head]!, &none)
            if gpt {
                grad("ln_f.out", b, dx)
                dx = layerNormBackward(dx, top, "ln_f", grads: &grads)
            }
            for l in stride(from: L - 1, through: 0, by: -1) {
                let p = "layers.\(l)."
                let c = saved[l]
                var db1: [Double]? = grads[p + "ffn.b1"]!, db2: [Double]? = grads[p + "ffn.b2"]!
                let dres: [[Double]]
                if gpt {
                    dres = dx
                } else {
                    grad(p + "ln.out", b, dx)
                    dres = layerNormBackward(dx, c.res, p + "ln", grads: &grads)
                }
                grad(p + "ffn.res", b, dres)
                grad(p + "ffn.out", b, dres)
                let da = linearBackward(dres, c.a, params[p + "ffn.w2"]!, &grads[p + "ffn.w2"]!, &db2)
                grad(p + "ffn.gelu", b, da)
                var dz = da
                let derivative = geluPrimeOverride ?? geluPrime
                for t in 0..<S { for f in 0..<F { dz[t][f] = da[t][f] * derivative(c.z[t][f]) } }
                grad(p + "ffn.pre", b, dz)
                let dffnIn = linearBackward(dz, c.ffnIn, params[p + "ffn.w1"]!, &grads[p + "ffn.w1"]!, &db1)
                grads[p + "ffn.b1"] = db1!
                grads[p + "ffn.b2"] = db2!
                let dmh: [[Double]]
                if gpt {
                    grad(p + "ln2.out", b, dffnIn)
                    dmh = add(dres, layerNormBackward(dffnIn, c.r1, p + "ln2", grads: &grads))
                    grad(p + "attn.res", b, dmh)
                } else {
                    dmh = add(dres, dffnIn)
                }
                grad(p + "attn.out", b, dmh)
                var dbo: [Double]? = gpt2 ? grads[p + "attn.bo"]! : nil
                let dconcat = linearBackward(dmh, c.concat, params[p + "attn.wo"]!, &grads[p + "attn.wo"]!, &dbo)
                if gpt2 { grads[p + "attn.bo"] = dbo! }
                grad(p + "attn.concat", b, dconcat)
                let zero = [[Double]](repeating: [Double](repeating: 0, count: dk), count: S)
                var dheads = Array(repeating: zero, count: H)
                for h in 0..<H { for t in 0..<S { for j in 0..<dk { dheads[h][t][j] = dconcat[t][h * dk + j] } } }
                gradHeads(p + "attn.heads", b, dheads)
                let square = Array(repeating: Array(repeating: Array(repeating: 0.0, count: S), count: S), count: H)
                var dA = square, dS = square
                var dq = Array(repeating: zero, count: H), dkk = dq, dv = dq
                for h in 0..<H {
                    for t in 0..<S { for t2 in 0..<S { for j in 0..<dk { dA[h][t][t2] += dheads[h][t][j] * c.v[h][t2][j] } } }
                    for t in 0..<S {
                        // dS[i] = Σ_j ∂A[j]/∂S[i]·dA[j] over the unmasked j ≤ t
                        for i in 0...t {
                            var s = 0.0
                            for j in 0...t { s += c.A[h][t][j] * ((i == j ? 1 : 0) - c.A[h][t][i]) * dA[h][t][j] }
                            dS[h][t][i] = s
                        }
                    }
                    let scale = 1 / Double(dk).squareRoot()
                    for t in 0..<S { for t2 in 0..<S { for j in 0..<dk {
                        dq[h][t][j] += dS[h][t][t2] * c.k[h][t2][j] * scale
                        dkk[h][t2][j] += dS[h][t][t2] * c.q[h][t][j] * scale
                        dv[h][t2][j] += c.A[h][t][t2] * dheads[h][t][j]
                    } } }
                }
                gradHeads(p + "attn.weights", b, dA)
                gradHeads(p + "attn.scores", b, dS)
                gradHeads(p + "attn.q", b, dq)
                gradHeads(p + "attn.k", b, dkk)
                gradHeads(p + "attn.v", b, dv)
                var dIn = [[Double]](repeating: [Double](repeating: 0, count: D), count: S)
                if gpt2 {
                    var dqkv = [[Double]](repeating: [Double](repeating: 0, count: 3 * D), count: S)
                    for h in 0..<H { for t in 0..<S { for j in 0..<dk {
                        dqkv[t][h * dk + j] = dq[h][t][j]
                        dqkv[t][D + h * dk + j] = dkk[h][t][j]
                        dqkv[t][2 * D + h * dk + j] = dv[h][t][j]
                    } } }
                    var dbqkv: [Double]? = grads[p + "attn.bqkv"]!
                    dIn = linearBackward(dqkv, c.attnIn, params[p + "attn.wqkv"]!, &grads[p + "attn.wqkv"]!, &dbqkv)
                    grads[p + "attn.bqkv"] = dbqkv!
                }
                for h in 0..<H where !gpt2 { for t in 0..<S { for j in 0..<dk { for d in 0..<D {
                    let w = (h * D + d) * dk + j
                    grads[p + "attn.wq"]![w] += c.attnIn[t][d] * dq[h][t][j]
                    grads[p + "attn.wk"]![w] += c.attnIn[t][d] * dkk[h][t][j]
                    grads[p + "attn.wv"]![w] += c.attnIn[t][d] * dv[h][t][j]
                    dIn[t][d] += dq[h][t][j] * params[p + "attn.wq"]![w] + dkk[h][t][j] * params[p + "attn.wk"]![w]
                        + dv[h][t][j] * params[p + "attn.wv"]![w]
                } } } }
                if gpt {
                    grad(p + "ln1.out", b, dIn)
                    dx = add(dmh, layerNormBackward(dIn, c.input, p + "ln1", grads: &grads))
                } else {
                    dx = dIn
                }
            }
            grad("emb", b, dx)
            for t in 0..<S { for d in 0..<D {
                grads["tok_emb"]![tokens[b][t] * D + d] += dx[t][d]
                grads["pos_emb"]![t * D + d] += dx[t][d]
            } }
        }
        let loss = count > 0 ? total / Double(count) : 0
        acts["act.loss"] = [loss]
        return Trace(loss: loss, acts: acts, grads: dacts, paramGrads: grads)
    }
}
