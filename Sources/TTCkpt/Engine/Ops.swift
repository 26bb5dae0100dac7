#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The engine's operations, in the llm.c style: one forward/backward pair per op, outputs
// first, then inputs, then weights, then dimensions. Backward functions accumulate (+=)
// into their gradient outputs; the caller zeroes them. All tensors are row-major Float32.
//
// Dimension legend:
//   B  sequences in the batch          T  positions in this batch (seqLen ≤ context)
//   C  channels, d_model               F  FFN hidden width, d_ff
//   V  vocabulary                      H  attention heads
//   hs head size, dk = C / H           N  rows (usually B·T)
// Matmuls live in Matmul.swift.

// MARK: - Embeddings

/// out(B,T,C) = wte[token] + wpe[position].
func encoderForward(_ out: UnsafeMutablePointer<Float>,
                    _ tokens: UnsafePointer<Int32>,              // (B, T)
                    _ wte: UnsafePointer<Float>,                 // (V, C)
                    _ wpe: UnsafePointer<Float>,                 // (≥T, C)
                    _ B: Int, _ T: Int, _ C: Int) {
    for b in 0..<B {
        for t in 0..<T {
            let o = out + (b &* T &+ t) &* C
            let e = wte + Int(tokens[b &* T &+ t]) &* C
            let p = wpe + t &* C
            for c in 0..<C { o[c] = e[c] + p[c] }
        }
    }
}

/// dwte[token] += dout, dwpe[position] += dout, in (b, t) order.
func encoderBackward(_ dwte: UnsafeMutablePointer<Float>, _ dwpe: UnsafeMutablePointer<Float>,
                     _ dout: UnsafePointer<Float>,               // (B, T, C)
                     _ tokens: UnsafePointer<Int32>,             // (B, T)
                     _ B: Int, _ T: Int, _ C: Int) {
    for b in 0..<B {
        for t in 0..<T {
            let d = dout + (b &* T &+ t) &* C
            let e = dwte + Int(tokens[b &* T &+ t]) &* C
            let p = dwpe + t &* C
            for c in 0..<C {
                e[c] += d[c]
                p[c] += d[c]
            }
        }
    }
}

// MARK: - LayerNorm

/// out(N,C) = (inp − mean) · rstd · weight + bias, biased variance, ε = `eps`.
/// Saves mean(N) and rstd(N) = 1/√(var + ε) for the backward.
func layernormForward(_ out: UnsafeMutablePointer<Float>,
                      _ mean: UnsafeMutablePointer<Float>, _ rstd: UnsafeMutablePointer<Float>,
                      _ inp: UnsafePointer<Float>,               // (N, C)
                      _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,  // (C)
                      _ N: Int, _ C: Int, eps: Float) {
    let invC = 1 / Float(C)
    for i in 0..<N {
        let x = inp + i &* C
        var m: Float = 0
        for c in 0..<C { m += x[c] }
        m *= invC
        var v: Float = 0
        for c in 0..<C {
            let d = x[c] - m
            v = d * d + v
        }
        v *= invC
        let s = 1 / (v + eps).squareRoot()
        let o = out + i &* C
        for c in 0..<C { o[c] = (s * (x[c] - m)) * weight[c] + bias[c] }
        mean[i] = m
        rstd[i] = s
    }
}

/// Exact LayerNorm gradient through the mean and the variance:
/// dinp += rstd · (g − mean(g) − x̂ · mean(g · x̂)), g = dout · weight;
/// dweight += Σ dout · x̂; dbias += Σ dout.
func layernormBackward(_ dinp: UnsafeMutablePointer<Float>,
                       _ dweight: UnsafeMutablePointer<Float>, _ dbias: UnsafeMutablePointer<Float>,
                       _ dout: UnsafePointer<Float>, _ inp: UnsafePointer<Float>,   // (N, C)
                       _ weight: UnsafePointer<Float>,
                       _ mean: UnsafePointer<Float>, _ rstd: UnsafePointer<Float>,  // (N)
                       _ N: Int, _ C: Int) {
    let invC = 1 / Float(C)
    for i in 0..<N {
        let x = inp + i &* C
        let d = dout + i &* C
        let di = dinp + i &* C
        let m = mean[i], s = rstd[i]
        var dnormMean: Float = 0
        var dnormNormMean: Float = 0
        for c in 0..<C {
            let xhat = (x[c] - m) * s
            let g = weight[c] * d[c]
            dnormMean += g
            dnormNormMean = g * xhat + dnormNormMean
        }
        dnormMean *= invC
        dnormNormMean *= invC
        for c in 0..<C {
            let xhat = (x[c] - m) * s
            let g = weight[c] * d[c]
            dbias[c] += d[c]
            dweight[c] = xhat * d[c] + dweight[c]
            di[c] += s * (g - dnormMean - xhat * dnormNormMean)
        }
    }
}

// MARK: - Attention

/// Causal multi-head attention on packed q, k, v.
/// inp(B,T,3C) holds q | k | v, head h at columns h·hs ..< (h+1)·hs of each part.
/// out(B,T,C) = concat over heads of softmax(q·kᵀ/√hs, causal) · v.
/// Saves att(B,H,T,T): the softmax weights, 0 above the diagonal.
func attentionForward(_ out: UnsafeMutablePointer<Float>,
                      _ att: UnsafeMutablePointer<Float>,        // (B, H, T, T)
                      _ inp: UnsafePointer<Float>,               // (B, T, 3C)
                      _ B: Int, _ T: Int, _ C: Int, _ H: Int) {
    let C3: Int = C &* 3
    let hs: Int = C / H
    let scale: Float = 1 / Float(hs).squareRoot()
    for b in 0..<B {
        let seq: UnsafePointer<Float> = inp + b &* T &* C3     // this sequence's (T, 3C)
        for t in 0..<T {
            for h in 0..<H {
                let headCol: Int = h &* hs
                let q: UnsafePointer<Float> = seq + (t &* C3 &+ headCol)
                let row: UnsafeMutablePointer<Float> = att + ((b &* H &+ h) &* T &+ t) &* T
                // scores and their max, over t2 ≤ t
                var maxv = -Float.infinity
                for t2 in 0...t {
                    let k: UnsafePointer<Float> = seq + (t2 &* C3 &+ C &+ headCol)
                    var s: Float = 0
                    for i in 0..<hs { s = q[i] * k[i] + s }
                    s *= scale
                    row[t2] = s
                    if s > maxv { maxv = s }
                }
                var sum: Float = 0
                for t2 in 0...t {
                    let e = expf(row[t2] - maxv)
                    row[t2] = e
                    sum += e
                }
                let inv: Float = 1 / sum
                for t2 in 0...t { row[t2] *= inv }
                var t2 = t &+ 1
                while t2 < T { row[t2] = 0; t2 &+= 1 }
                // weighted sum of values
                let o: UnsafeMutablePointer<Float> = out + ((b &* T &+ t) &* C &+ headCol)
                for i in 0..<hs { o[i] = 0 }
                for t2 in 0...t {
                    let v: UnsafePointer<Float> = seq + (t2 &* C3 &+ 2 &* C &+ headCol)
                    let w: Float = row[t2]
                    for i in 0..<hs { o[i] = w * v[i] + o[i] }
                }
            }
        }
    }
}

/// Gradient of `attentionForward` through the value sum, the softmax Jacobian
/// (dpre = att · (datt − Σ att·datt)), the causal mask (masked scores get none) and the
/// scale. dinp(B,T,3C) += d(q | k | v). `scratch` holds T floats.
func attentionBackward(_ dinp: UnsafeMutablePointer<Float>,
                       _ scratch: UnsafeMutablePointer<Float>,   // (T)
                       _ dout: UnsafePointer<Float>,             // (B, T, C)
                       _ inp: UnsafePointer<Float>,              // (B, T, 3C)
                       _ att: UnsafePointer<Float>,              // (B, H, T, T)
                       _ B: Int, _ T: Int, _ C: Int, _ H: Int) {
    let C3: Int = C &* 3
    let hs: Int = C / H
    let scale: Float = 1 / Float(hs).squareRoot()
    for b in 0..<B {
        let seq: UnsafePointer<Float> = inp + b &* T &* C3
        let dseq: UnsafeMutablePointer<Float> = dinp + b &* T &* C3
        for t in 0..<T {
            for h in 0..<H {
                let headCol: Int = h &* hs
                let row: UnsafePointer<Float> = att + ((b &* H &+ h) &* T &+ t) &* T
                let d: UnsafePointer<Float> = dout + ((b &* T &+ t) &* C &+ headCol)
                // backward through out = Σ att·v: datt into scratch, and dv
                var dot: Float = 0
                for t2 in 0...t {
                    let vOffset: Int = t2 &* C3 &+ 2 &* C &+ headCol
                    let v: UnsafePointer<Float> = seq + vOffset
                    let dv: UnsafeMutablePointer<Float> = dseq + vOffset
                    let w: Float = row[t2]
                    var s: Float = 0
                    for i in 0..<hs {
                        s = v[i] * d[i] + s
                        dv[i] = w * d[i] + dv[i]
                    }
                    scratch[t2] = s
                    dot = w * s + dot
                }
                // softmax Jacobian, then the 1/√hs scale
                for t2 in 0...t { scratch[t2] = row[t2] * (scratch[t2] - dot) * scale }
                // backward through s = q·k
                let qOffset: Int = t &* C3 &+ headCol
                let q: UnsafePointer<Float> = seq + qOffset
                let dq: UnsafeMutablePointer<Float> = dseq + qOffset
                for t2 in 0...t {
                    let kOffset: Int = t2 &* C3 &+ C &+ headCol
                    let k: UnsafePointer<Float> = seq + kOffset
                    let dk: UnsafeMutablePointer<Float> = dseq + kOffset
                    let gs: Float = scratch[t2]
                    for i in 0..<hs {
                        dq[i] = gs * k[i] + dq[i]
                        dk[i] = gs * q[i] + dk[i]
                    }
                }
            }
        }
    }
}

// MARK: - GELU (tanh approximation)

private let geluScale: Float = 0.7978845608028654   // √(2/π)
private let geluCubic: Float = 0.044715

/// σ(2u) and 1 − σ(2u), each without cancellation or overflow: with e = e^(−2|u|) ≤ 1,
/// σ(2|u|) = 1/(1 + e) and σ(−2|u|) = e/(1 + e).
@inline(__always)
func sigmoidPair(_ u: Float) -> (s: Float, oneMinusS: Float) {
    let e = expf(-2 * abs(u))
    let large = 1 / (1 + e)
    let small = e * large
    return u >= 0 ? (large, small) : (small, large)
}

/// out = 0.5·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³).
/// Evaluated as x·σ(2u), the same function (0.5·(1 + tanh u) = σ(2u)), because one
/// `expf` is several times cheaper than glibc's `tanhf` and this form keeps full relative
/// precision in both tails.
func geluForward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ N: Int) {
    for i in 0..<N {
        let x = inp[i]
        let u = geluScale * (x + geluCubic * x * x * x)
        out[i] = x * sigmoidPair(u).s
    }
}

/// dinp += gelu′(x) · dout with the true derivative of the forward above:
/// gelu′(x) = 0.5·(1 + tanh u) + 0.5·x·(1 − tanh²u)·√(2/π)·(1 + 3·0.044715·x²),
/// evaluated with s = σ(2u) = 0.5·(1 + tanh u) and 1 − tanh²u = 4·s·(1 − s).
func geluBackward(_ dinp: UnsafeMutablePointer<Float>,
                  _ inp: UnsafePointer<Float>, _ dout: UnsafePointer<Float>, _ N: Int) {
    for i in 0..<N {
        let x = inp[i]
        let u = geluScale * (x + geluCubic * x * x * x)
        let (s, sc) = sigmoidPair(u)
        let local = s + 2 * x * s * sc * geluScale * (1 + 3 * geluCubic * x * x)
        dinp[i] = local * dout[i] + dinp[i]
    }
}

// MARK: - Residual

/// out = a + b, elementwise.
func residualForward(_ out: UnsafeMutablePointer<Float>,
                     _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ N: Int) {
    for i in 0..<N { out[i] = a[i] + b[i] }
}

// MARK: - Softmax and cross-entropy

/// probs(N,V) = softmax(logits) per row, max-subtracted.
func softmaxForward(_ probs: UnsafeMutablePointer<Float>, _ logits: UnsafePointer<Float>, _ N: Int, _ V: Int) {
    for i in 0..<N {
        let l = logits + i &* V
        let p = probs + i &* V
        var maxv = -Float.infinity
        for j in 0..<V where l[j] > maxv { maxv = l[j] }
        var sum: Float = 0
        for j in 0..<V {
            let e = expf(l[j] - maxv)
            p[j] = e
            sum += e
        }
        let inv = 1 / sum
        for j in 0..<V { p[j] *= inv }
    }
}

/// losses(N) = −log probs[target]; 0 where the target is `Batch.ignore`.
/// Returns the sum over non-ignored rows, added in row order in Double.
func crossEntropyForward(_ losses: UnsafeMutablePointer<Float>,
                         _ probs: UnsafePointer<Float>, _ targets: UnsafePointer<Int32>,
                         _ N: Int, _ V: Int) -> Double {
    var total: Double = 0
    for i in 0..<N {
        let y = targets[i]
        if y == Batch.ignore {
            losses[i] = 0
            continue
        }
        let loss = -logf(probs[i &* V &+ Int(y)])
        losses[i] = loss
        total += Double(loss)
    }
    return total
}

/// Gradient of the mean loss over `count` targets w.r.t. the logits:
/// dlogits(N,V) = (P − onehot) / count on non-ignored rows, 0 on ignored rows.
/// `dlogits` is overwritten.
func crossEntropySoftmaxBackward(_ dlogits: UnsafeMutablePointer<Float>,
                                 _ probs: UnsafePointer<Float>, _ targets: UnsafePointer<Int32>,
                                 _ N: Int, _ V: Int, count: Int) {
    let inv: Float = count > 0 ? Float(1.0 / Double(count)) : 0
    for i in 0..<N {
        let d = dlogits + i &* V
        let y = targets[i]
        if y == Batch.ignore {
            for j in 0..<V { d[j] = 0 }
            continue
        }
        let p = probs + i &* V
        for j in 0..<V { d[j] = p[j] * inv }
        d[Int(y)] = (p[Int(y)] - 1) * inv
    }
}

// MARK: - AdamW

/// The step's scalars, computed once per step in Double and rounded to Float.
struct AdamWScalars {
    var beta1: Float, oneMinusBeta1: Float
    var beta2: Float, oneMinusBeta2: Float
    /// 1 − β1^t, 1 − β2^t
    var biasCorrection1: Float, biasCorrection2: Float
    var learningRate: Float
    var epsilon: Float
    /// Multiplies g before the moments (global-norm clipping; 1 when not clipping).
    var gradScale: Float
}

/// One AdamW update over `n` elements, as the series' notebook 10:
/// m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; m̂ = m/(1−β1^t); v̂ = v/(1−β2^t);
/// θ ← θ·decay − lr·m̂/(√v̂ + ε), with decay = 1 − lr·wd (1 for exempt tensors).
func adamWUpdate(_ params: UnsafeMutablePointer<Float>,
                 _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>,
                 _ grads: UnsafePointer<Float>,
                 _ n: Int, _ s: AdamWScalars, decay: Float) {
    for i in 0..<n {
        let g = grads[i] * s.gradScale
        let mi = s.beta1 * m[i] + s.oneMinusBeta1 * g
        let vi = s.beta2 * v[i] + s.oneMinusBeta2 * (g * g)
        m[i] = mi
        v[i] = vi
        let mhat = mi / s.biasCorrection1
        let vhat = vi / s.biasCorrection2
        params[i] = params[i] * decay - s.learningRate * mhat / (vhat.squareRoot() + s.epsilon)
    }
}
