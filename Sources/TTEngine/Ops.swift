import CKernels
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
// Matmuls and AdamW are `Kernels` methods (Kernels.swift).

// MARK: - Embeddings

/// out(B,T,C) = wte[token] + wpe[position].
func encoderForward(_ out: UnsafeMutablePointer<Float>,
                    _ tokens: UnsafePointer<Int32>,              // (B, T)
                    _ wte: UnsafePointer<Float>,                 // (V, C)
                    _ wpe: UnsafePointer<Float>,                 // (≥T, C)
                    _ B: Int, _ T: Int, _ C: Int, _ kernels: Kernels = .serial) {
    kernels.forEach(B &* T, work: B &* T &* C) { rows in
        for r in rows {
            let t = r % T
            let o = out + r &* C
            let e = wte + Int(tokens[r]) &* C
            let p = wpe + t &* C
            for c in 0..<C { o[c] = e[c] + p[c] }
        }
    }
}

/// dwte[token] += dout, dwpe[position] += dout, in (b, t) order. Threads split the
/// channels, so every element still adds its terms in (b, t) order.
func encoderBackward(_ dwte: UnsafeMutablePointer<Float>, _ dwpe: UnsafeMutablePointer<Float>,
                     _ dout: UnsafePointer<Float>,               // (B, T, C)
                     _ tokens: UnsafePointer<Int32>,             // (B, T)
                     _ B: Int, _ T: Int, _ C: Int, _ kernels: Kernels = .serial) {
    kernels.forEach(C, work: 2 &* B &* T &* C) { cs in
        for b in 0..<B {
            for t in 0..<T {
                let d = dout + (b &* T &+ t) &* C
                let e = dwte + Int(tokens[b &* T &+ t]) &* C
                let p = dwpe + t &* C
                for c in cs {
                    e[c] += d[c]
                    p[c] += d[c]
                }
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
                      _ N: Int, _ C: Int, eps: Float, _ kernels: Kernels = .serial) {
    kernels.forEach(N, work: 4 &* N &* C) { rows in
        ck_layernorm_forward(out, mean, rstd, inp, weight, bias, C, eps, rows.lowerBound, rows.upperBound)
    }
}

/// Exact LayerNorm gradient through the mean and the variance:
/// dinp += rstd · (g − mean(g) − x̂ · mean(g · x̂)), g = dout · weight;
/// dweight += Σ dout · x̂; dbias += Σ dout.
/// Threads split dinp by rows and dweight/dbias by channels (each channel sums its rows
/// in order), so the result does not depend on the split.
func layernormBackward(_ dinp: UnsafeMutablePointer<Float>,
                       _ dweight: UnsafeMutablePointer<Float>, _ dbias: UnsafeMutablePointer<Float>,
                       _ dout: UnsafePointer<Float>, _ inp: UnsafePointer<Float>,   // (N, C)
                       _ weight: UnsafePointer<Float>,
                       _ mean: UnsafePointer<Float>, _ rstd: UnsafePointer<Float>,  // (N)
                       _ N: Int, _ C: Int, _ kernels: Kernels = .serial) {
    kernels.forEach(N, work: 6 &* N &* C) { rows in
        ck_layernorm_backward_rows(dinp, dout, inp, weight, mean, rstd, C, rows.lowerBound, rows.upperBound)
    }
    kernels.forEach(C, work: 3 &* N &* C) { cs in
        ck_layernorm_backward_params(dweight, dbias, dout, inp, mean, rstd, N, C, cs.lowerBound, cs.upperBound)
    }
}

// MARK: - Attention

/// Eight floats at `p` (unaligned).
@inline(__always)
func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
func store8(_ p: UnsafeMutablePointer<Float>, _ v: SIMD8<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}

/// Fixed-order reduction of the 8 lanes.
@inline(__always)
func laneSum(_ s: SIMD8<Float>) -> Float {
    ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]))
}

/// Σ a[i]·b[i] over n: 8 interleaved lanes over the first n & ~7 terms, reduced in a
/// fixed tree, then the rest in order. The order depends on n alone.
@inline(__always)
func dotProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD8<Float>()
    var i = 0
    while i &+ 8 <= n {
        acc = load8(a + i) * load8(b + i) + acc
        i &+= 8
    }
    var s = laneSum(acc)
    while i < n {
        s = a[i] * b[i] + s
        i &+= 1
    }
    return s
}

/// y[i] = alpha · x[i] + y[i] over n.
@inline(__always)
func axpy(_ y: UnsafeMutablePointer<Float>, _ alpha: Float, _ x: UnsafePointer<Float>, _ n: Int) {
    let va = SIMD8<Float>(repeating: alpha)
    var i = 0
    while i &+ 8 <= n {
        store8(y + i, va * load8(x + i) + load8(y + i))
        i &+= 8
    }
    while i < n {
        y[i] = alpha * x[i] + y[i]
        i &+= 1
    }
}

/// Causal multi-head attention on packed q, k, v.
/// inp(B,T,3C) holds q | k | v, head h at columns h·hs ..< (h+1)·hs of each part.
/// out(B,T,C) = concat over heads of softmax(q·kᵀ/√hs, causal) · v.
/// Saves att(B,H,T,T): the softmax weights, 0 above the diagonal.
/// Threads split the (b, h) pairs; each pair's outputs are its own. Short sequences run
/// plain loops; longer ones run each pair in `ck_attention_forward_pair`: the products on
/// the GEMM kernel in row blocks of `attentionBlock` that skip the masked upper triangle,
/// k and v packed once per pair. Which path runs depends on the shape alone.
func attentionForward(_ out: UnsafeMutablePointer<Float>,
                      _ att: UnsafeMutablePointer<Float>,        // (B, H, T, T)
                      _ inp: UnsafePointer<Float>,               // (B, T, 3C)
                      _ B: Int, _ T: Int, _ C: Int, _ H: Int, _ kernels: Kernels = .serial) {
    if T < attentionGemmMinimum {
        attentionForwardLoops(out, att, inp, B, T, C, H, kernels)
        return
    }
    let C3: Int = C &* 3
    let hs: Int = C / H
    let scale: Float = 1 / Float(hs).squareRoot()
    let impl = kernels.implementation.code
    kernels.forEach(B &* H, work: 2 &* B &* H &* T &* T &* hs) { pairs in
        for bh in pairs {
            let b = bh / H, h = bh % H
            let seq: UnsafePointer<Float> = inp + b &* T &* C3
            ck_attention_forward_pair(impl, out + (b &* T &* C &+ h &* hs), C, att + bh &* T &* T,
                                      seq + h &* hs, seq + (C &+ h &* hs), seq + (2 &* C &+ h &* hs), C3,
                                      T, hs, scale, attentionBlock)
        }
    }
}

/// Gradient of `attentionForward` through the value sum, the softmax Jacobian
/// (dpre = att · (datt − Σ att·datt)), the causal mask (masked scores get none) and the
/// scale. dinp(B,T,3C) = d(q | k | v), written over: the bits of adding to zeros (each
/// block of dq, dk and dv is one product written over, see `ck_matmul_backward_a`; the
/// loops below `attentionGemmMinimum` add to zeros). Threads split the (b, h) pairs (each
/// writes only its own head's columns of its own sequence), each in
/// `ck_attention_backward_pair`, whose T·T scores and packed operands live in scratch the
/// thread keeps.
func attentionBackward(_ dinp: UnsafeMutablePointer<Float>,
                       _ dout: UnsafePointer<Float>,             // (B, T, C)
                       _ inp: UnsafePointer<Float>,              // (B, T, 3C)
                       _ att: UnsafePointer<Float>,              // (B, H, T, T)
                       _ B: Int, _ T: Int, _ C: Int, _ H: Int, _ kernels: Kernels = .serial) {
    if T < attentionGemmMinimum {
        kernels.zero(dinp, B &* T &* 3 &* C)
        attentionBackwardLoops(dinp, dout, inp, att, B, T, C, H, kernels)
        return
    }
    let C3: Int = C &* 3
    let hs: Int = C / H
    let scale: Float = 1 / Float(hs).squareRoot()
    let impl = kernels.implementation.code
    kernels.forEach(B &* H, work: 4 &* B &* H &* T &* T &* hs) { pairs in
        for bh in pairs {
            let b = bh / H, h = bh % H
            let seq: UnsafePointer<Float> = inp + b &* T &* C3
            let dseq = dinp + b &* T &* C3
            ck_attention_backward_pair(impl, dseq + h &* hs, dseq + (C &+ h &* hs), dseq + (2 &* C &+ h &* hs), C3,
                                       dout + (b &* T &* C &+ h &* hs), C,
                                       seq + h &* hs, seq + (C &+ h &* hs), seq + (2 &* C &+ h &* hs), C3,
                                       att + bh &* T &* T, T, hs, scale, attentionBlock)
        }
    }
}

/// The last row of `attentionForward` on one sequence of length S = t + 1: out(C), the
/// attention output of position t, from q_t and the keys and values of positions 0...t
/// in inp(S, 3C) (the KV cache). Bit-identical to row t of
/// `attentionForward(out, att, inp, 1, t + 1, C, H)`: it takes the same path (the loops
/// below `attentionGemmMinimum`, the GEMM kernel otherwise; the last row's block ends at
/// S, so the value sum has the same depth) with the same per-element arithmetic.
/// att: H·(t+1) floats of scratch, the weights of each head. Threads split the heads.
func attentionForwardLastRow(_ out: UnsafeMutablePointer<Float>,     // (C)
                             _ att: UnsafeMutablePointer<Float>,     // (H, t+1)
                             _ inp: UnsafePointer<Float>,            // (t+1, 3C)
                             _ t: Int, _ C: Int, _ H: Int, _ kernels: Kernels = .serial) {
    let S: Int = t &+ 1
    let C3: Int = C &* 3
    let hs: Int = C / H
    let scale: Float = 1 / Float(hs).squareRoot()
    let loops = S < attentionGemmMinimum
    kernels.forEach(H, work: 2 &* H &* S &* hs) { heads in
        for h in heads {
            let headCol: Int = h &* hs
            let q: UnsafePointer<Float> = inp + (t &* C3 &+ headCol)
            let k: UnsafePointer<Float> = inp + (C &+ headCol), v: UnsafePointer<Float> = inp + (2 &* C &+ headCol)
            let row = att + h &* S
            let y = out + headCol
            var maxv = -Float.infinity
            if loops {
                for t2 in 0...t {
                    let s = dotProduct(q, k + t2 &* C3, hs) * scale
                    row[t2] = s
                    if s > maxv { maxv = s }
                }
            } else {
                kernels.gemm(row, ldc: S, q, aRowStride: C3, aColStride: 1,
                             k, bRowStride: 1, bColStride: C3, accumulate: false,
                             rows: 0..<1, cols: 0..<S, depth: hs)
                for t2 in 0...t {
                    let x = row[t2] * scale
                    row[t2] = x
                    if x > maxv { maxv = x }
                }
            }
            let inv: Float = 1 / ck_exp_shift_sum(row, S, maxv)
            for t2 in 0...t { row[t2] *= inv }
            if loops {
                for i in 0..<hs { y[i] = 0 }
                for t2 in 0...t { axpy(y, row[t2], v + t2 &* C3, hs) }
            } else {
                kernels.gemm(y, ldc: C, row, aRowStride: S, aColStride: 1,
                             v, bRowStride: C3, bColStride: 1, accumulate: false,
                             rows: 0..<1, cols: 0..<hs, depth: S)
            }
        }
    }
}

/// Sequences shorter than this run the plain attention loops (the GEMM calls cost more).
let attentionGemmMinimum = 16
/// Query rows per block in the GEMM attention.
let attentionBlock = 48

/// Causal multi-head attention on packed q, k, v.
/// inp(B,T,3C) holds q | k | v, head h at columns h·hs ..< (h+1)·hs of each part.
/// out(B,T,C) = concat over heads of softmax(q·kᵀ/√hs, causal) · v.
/// Saves att(B,H,T,T): the softmax weights, 0 above the diagonal.
/// Threads split the (b, h) pairs; each pair's outputs are its own.
func attentionForwardLoops(_ out: UnsafeMutablePointer<Float>,
                      _ att: UnsafeMutablePointer<Float>,        // (B, H, T, T)
                      _ inp: UnsafePointer<Float>,               // (B, T, 3C)
                      _ B: Int, _ T: Int, _ C: Int, _ H: Int, _ kernels: Kernels = .serial) {
    let C3: Int = C &* 3
    let hs: Int = C / H
    let scale: Float = 1 / Float(hs).squareRoot()
    kernels.forEach(B &* H, work: B &* H &* T &* T &* hs) { pairs in
        for bh in pairs {
            let b = bh / H, h = bh % H
            let seq: UnsafePointer<Float> = inp + b &* T &* C3     // this sequence's (T, 3C)
            let headCol: Int = h &* hs
            for t in 0..<T {
                let q: UnsafePointer<Float> = seq + (t &* C3 &+ headCol)
                let row: UnsafeMutablePointer<Float> = att + (bh &* T &+ t) &* T
                // scores and their max, over t2 ≤ t
                var maxv = -Float.infinity
                for t2 in 0...t {
                    let s = dotProduct(q, seq + (t2 &* C3 &+ C &+ headCol), hs) * scale
                    row[t2] = s
                    if s > maxv { maxv = s }
                }
                let sum = ck_exp_shift_sum(row, t &+ 1, maxv)
                let inv: Float = 1 / sum
                for t2 in 0...t { row[t2] *= inv }
                var t2 = t &+ 1
                while t2 < T { row[t2] = 0; t2 &+= 1 }
                // weighted sum of values
                let o: UnsafeMutablePointer<Float> = out + ((b &* T &+ t) &* C &+ headCol)
                for i in 0..<hs { o[i] = 0 }
                for t2 in 0...t {
                    axpy(o, row[t2], seq + (t2 &* C3 &+ 2 &* C &+ headCol), hs)
                }
            }
        }
    }
}

/// Gradient of `attentionForward` through the value sum, the softmax Jacobian
/// (dpre = att · (datt − Σ att·datt)), the causal mask (masked scores get none) and the
/// scale. dinp(B,T,3C) += d(q | k | v). Threads split the (b, h) pairs (each writes only
/// its own head's columns of its own sequence); each keeps T floats of scratch.
func attentionBackwardLoops(_ dinp: UnsafeMutablePointer<Float>,
                       _ dout: UnsafePointer<Float>,             // (B, T, C)
                       _ inp: UnsafePointer<Float>,              // (B, T, 3C)
                       _ att: UnsafePointer<Float>,              // (B, H, T, T)
                       _ B: Int, _ T: Int, _ C: Int, _ H: Int, _ kernels: Kernels = .serial) {
    let C3: Int = C &* 3
    let hs: Int = C / H
    let scale: Float = 1 / Float(hs).squareRoot()
    kernels.forEach(B &* H, work: 2 &* B &* H &* T &* T &* hs) { pairs in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: T) { buffer in
            let scratch = buffer.baseAddress!
            for bh in pairs {
                let b = bh / H, h = bh % H
                let seq: UnsafePointer<Float> = inp + b &* T &* C3
                let dseq: UnsafeMutablePointer<Float> = dinp + b &* T &* C3
                let headCol: Int = h &* hs
                for t in 0..<T {
                    let row: UnsafePointer<Float> = att + (bh &* T &+ t) &* T
                    let d: UnsafePointer<Float> = dout + ((b &* T &+ t) &* C &+ headCol)
                    // backward through out = Σ att·v: datt into scratch, and dv
                    var dot: Float = 0
                    for t2 in 0...t {
                        let vOffset: Int = t2 &* C3 &+ 2 &* C &+ headCol
                        let w: Float = row[t2]
                        let s = dotProduct(seq + vOffset, d, hs)
                        axpy(dseq + vOffset, w, d, hs)
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
                        let gs: Float = scratch[t2]
                        axpy(dq, gs, seq + kOffset, hs)
                        axpy(dseq + kOffset, gs, q, hs)
                    }
                }
            }
        }
    }
}

// MARK: - GELU (tanh approximation)


/// out = 0.5·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³).
/// Evaluated as x·σ(2u), the same function (0.5·(1 + tanh u) = σ(2u)), with σ(2u) and
/// 1 − σ(2u) from one e^(−2|u|) (σ(2|u|) = 1/(1 + e), σ(−2|u|) = e/(1 + e) with e = e^(−2|u|) ≤ 1),
/// which keeps full relative precision
/// in both tails. The element loop is `ck_gelu_forward` (C, AVX2 when available, with a
/// vector exp; its portable path gives the same bits). With `exps`, also stores each e there
/// for `geluBackward`.
func geluForward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ N: Int,
                 _ kernels: Kernels = .serial, exps: UnsafeMutablePointer<Float>? = nil) {
    kernels.forEach((N + 63) / 64, work: 8 &* N) { blocks in
        ck_gelu_forward(out, exps, inp, blocks.lowerBound &* 64, min(N, blocks.upperBound &* 64))
    }
}

/// dinp += gelu′(x) · dout (with `accumulate` false, dinp = gelu′(x) · dout + 0: the bits of
/// adding to zeros, without reading dinp) with the true derivative of the forward above:
/// gelu′(x) = 0.5·(1 + tanh u) + 0.5·x·(1 − tanh²u)·√(2/π)·(1 + 3·0.044715·x²),
/// evaluated with s = σ(2u) = 0.5·(1 + tanh u) and 1 − tanh²u = 4·s·(1 − s)
/// (`ck_gelu_backward`). With `exps` (what `geluForward` stored for these inputs), the exps
/// are read instead of computed again: the same bits.
func geluBackward(_ dinp: UnsafeMutablePointer<Float>,
                  _ inp: UnsafePointer<Float>, _ dout: UnsafePointer<Float>, _ N: Int,
                  _ kernels: Kernels = .serial, accumulate: Bool = true, exps: UnsafePointer<Float>? = nil) {
    kernels.forEach((N + 63) / 64, work: (exps == nil ? 10 : 4) &* N) { blocks in
        ck_gelu_backward(dinp, inp, exps, dout, blocks.lowerBound &* 64, min(N, blocks.upperBound &* 64),
                         accumulate ? 1 : 0)
    }
}

// MARK: - Residual

/// out = a + b, elementwise.
func residualForward(_ out: UnsafeMutablePointer<Float>,
                     _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ N: Int,
                     _ kernels: Kernels = .serial) {
    kernels.forEach(N, work: N) { range in
        for i in range { out[i] = a[i] + b[i] }
    }
}

// MARK: - Softmax and cross-entropy

/// Fused softmax and cross-entropy, per row: probs(N,V) = softmax(logits), max-subtracted;
/// losses(N) = −log probs[target], 0 where the target is `Batch.ignore`.
/// Returns the sum of the losses over non-ignored rows, added in row order in Double.
/// Threads split the rows.
func softmaxCrossEntropyForward(_ probs: UnsafeMutablePointer<Float>, _ losses: UnsafeMutablePointer<Float>,
                                _ logits: UnsafePointer<Float>, _ targets: UnsafePointer<Int32>,
                                _ N: Int, _ V: Int, _ kernels: Kernels = .serial) -> Double {
    kernels.forEach(N, work: 16 &* N &* V) { rows in
        for i in rows {
            let l = logits + i &* V
            let p = probs + i &* V
            var maxv = -Float.infinity
            for j in 0..<V where l[j] > maxv { maxv = l[j] }
            p.update(from: l, count: V)
            let sum = ck_exp_shift_sum(p, V, maxv)
            let inv = 1 / sum
            for j in 0..<V { p[j] *= inv }
            let y = targets[i]
            losses[i] = y == Batch.ignore ? 0 : -logf(p[Int(y)])
        }
    }
    var total: Double = 0
    for i in 0..<N where targets[i] != Batch.ignore { total += Double(losses[i]) }
    return total
}

/// Gradient of the mean loss over `count` targets w.r.t. the logits:
/// dlogits(N,V) = (P − onehot) / count on non-ignored rows, 0 on ignored rows.
/// `dlogits` is overwritten.
func crossEntropySoftmaxBackward(_ dlogits: UnsafeMutablePointer<Float>,
                                 _ probs: UnsafePointer<Float>, _ targets: UnsafePointer<Int32>,
                                 _ N: Int, _ V: Int, count: Int, _ kernels: Kernels = .serial) {
    let inv: Float = count > 0 ? Float(1.0 / Double(count)) : 0
    kernels.forEach(N, work: 2 &* N &* V) { rows in for i in rows {
        let d = dlogits + i &* V
        let y = targets[i]
        if y == Batch.ignore {
            for j in 0..<V { d[j] = 0 }
            continue
        }
        let p = probs + i &* V
        for j in 0..<V { d[j] = p[j] * inv }
        d[Int(y)] = (p[Int(y)] - 1) * inv
    } }
}
