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
