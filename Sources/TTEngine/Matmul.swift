import TTCore
// The three matmuls every layer runs through, llm.c style: outputs first, then inputs,
// then weights, then dimensions. All matrices are row-major and densely packed.
//
//   forward:          out(M,N)  = a(M,K) · b(N,K)ᵀ (+ bias(N))
//   backward, input:  dA(M,K)  += dOut(M,N) · b(N,K)
//   backward, weight: dB(N,K)  += dOut(M,N)ᵀ · a(M,K)   (dBias(N) += Σ_m dOut(m,·))
//
// Determinism contract (kept by any faster replacement): the summation order of every
// output element is fixed by (M, N, K) alone, so splitting the work by output element
// across threads gives bit-identical results. Here:
// - forward: out[m][n] sums k in 8 interleaved lanes (lane j takes k ≡ j mod 8 over
//   the first K & ~7 terms), reduces the lanes in a fixed tree, then adds the remaining
//   k in order, then the bias;
// - backward input: dA[m][k] adds n = 0, 1, ..., N−1 in order;
// - backward weight: dB[n][k] and dBias[n] add m = 0, 1, ..., M−1 in order.
// Inner loops are SIMD8 (two SSE registers on default x86-64) with plain `a * b + c`.

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

/// out(M,N) = a(M,K) · b(N,K)ᵀ (+ bias(N)). `out` is overwritten.
public func matmulForward(_ out: UnsafeMutablePointer<Float>,
                          _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                          _ M: Int, _ N: Int, _ K: Int) {
    let K8 = K & ~7
    for m in 0..<M {
        let arow = a + m &* K
        let orow = out + m &* N
        var n = 0
        // Four rows of b at a time share each load of a; per-element order is unchanged.
        while n &+ 4 <= N {
            let b0 = b + n &* K, b1 = b0 + K, b2 = b1 + K, b3 = b2 + K
            var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
            var k = 0
            while k < K8 {
                let x = load8(arow + k)
                s0 = x * load8(b0 + k) + s0
                s1 = x * load8(b1 + k) + s1
                s2 = x * load8(b2 + k) + s2
                s3 = x * load8(b3 + k) + s3
                k &+= 8
            }
            var t0 = laneSum(s0), t1 = laneSum(s1), t2 = laneSum(s2), t3 = laneSum(s3)
            while k < K {
                let x = arow[k]
                t0 = x * b0[k] + t0
                t1 = x * b1[k] + t1
                t2 = x * b2[k] + t2
                t3 = x * b3[k] + t3
                k &+= 1
            }
            if let bias {
                t0 += bias[n]; t1 += bias[n &+ 1]; t2 += bias[n &+ 2]; t3 += bias[n &+ 3]
            }
            orow[n] = t0; orow[n &+ 1] = t1; orow[n &+ 2] = t2; orow[n &+ 3] = t3
            n &+= 4
        }
        while n < N {
            let b0 = b + n &* K
            var s0 = SIMD8<Float>()
            var k = 0
            while k < K8 {
                s0 = load8(arow + k) * load8(b0 + k) + s0
                k &+= 8
            }
            var t0 = laneSum(s0)
            while k < K {
                t0 = arow[k] * b0[k] + t0
                k &+= 1
            }
            if let bias { t0 += bias[n] }
            orow[n] = t0
            n &+= 1
        }
    }
}

/// dA(M,K) += dOut(M,N) · b(N,K).
public func matmulBackwardInput(_ dA: UnsafeMutablePointer<Float>,
                                _ dOut: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                                _ M: Int, _ N: Int, _ K: Int) {
    let K8 = K & ~7
    for m in 0..<M {
        let drow = dA + m &* K
        let grow = dOut + m &* N
        var n = 0
        while n &+ 4 <= N {
            let b0 = b + n &* K, b1 = b0 + K, b2 = b1 + K, b3 = b2 + K
            let g0 = grow[n], g1 = grow[n &+ 1], g2 = grow[n &+ 2], g3 = grow[n &+ 3]
            let v0 = SIMD8(repeating: g0), v1 = SIMD8(repeating: g1)
            let v2 = SIMD8(repeating: g2), v3 = SIMD8(repeating: g3)
            var k = 0
            while k < K8 {
                var d = load8(drow + k)
                d = v0 * load8(b0 + k) + d
                d = v1 * load8(b1 + k) + d
                d = v2 * load8(b2 + k) + d
                d = v3 * load8(b3 + k) + d
                store8(drow + k, d)
                k &+= 8
            }
            while k < K {
                var d = drow[k]
                d = g0 * b0[k] + d
                d = g1 * b1[k] + d
                d = g2 * b2[k] + d
                d = g3 * b3[k] + d
                drow[k] = d
                k &+= 1
            }
            n &+= 4
        }
        while n < N {
            let b0 = b + n &* K
            let g0 = grow[n]
            let v0 = SIMD8(repeating: g0)
            var k = 0
            while k < K8 {
                store8(drow + k, v0 * load8(b0 + k) + load8(drow + k))
                k &+= 8
            }
            while k < K {
                drow[k] = g0 * b0[k] + drow[k]
                k &+= 1
            }
            n &+= 1
        }
    }
}

/// dB(N,K) += dOut(M,N)ᵀ · a(M,K), and dBias(N) += column sums of dOut when given.
public func matmulBackwardWeight(_ dB: UnsafeMutablePointer<Float>, _ dBias: UnsafeMutablePointer<Float>?,
                                 _ dOut: UnsafePointer<Float>, _ a: UnsafePointer<Float>,
                                 _ M: Int, _ N: Int, _ K: Int) {
    let K8 = K & ~7
    for n in 0..<N {
        let drow = dB + n &* K
        var m = 0
        while m &+ 4 <= M {
            let a0 = a + m &* K, a1 = a0 + K, a2 = a1 + K, a3 = a2 + K
            let g0 = dOut[m &* N &+ n], g1 = dOut[(m &+ 1) &* N &+ n]
            let g2 = dOut[(m &+ 2) &* N &+ n], g3 = dOut[(m &+ 3) &* N &+ n]
            let v0 = SIMD8(repeating: g0), v1 = SIMD8(repeating: g1)
            let v2 = SIMD8(repeating: g2), v3 = SIMD8(repeating: g3)
            var k = 0
            while k < K8 {
                var d = load8(drow + k)
                d = v0 * load8(a0 + k) + d
                d = v1 * load8(a1 + k) + d
                d = v2 * load8(a2 + k) + d
                d = v3 * load8(a3 + k) + d
                store8(drow + k, d)
                k &+= 8
            }
            while k < K {
                var d = drow[k]
                d = g0 * a0[k] + d
                d = g1 * a1[k] + d
                d = g2 * a2[k] + d
                d = g3 * a3[k] + d
                drow[k] = d
                k &+= 1
            }
            m &+= 4
        }
        while m < M {
            let a0 = a + m &* K
            let g0 = dOut[m &* N &+ n]
            let v0 = SIMD8(repeating: g0)
            var k = 0
            while k < K8 {
                store8(drow + k, v0 * load8(a0 + k) + load8(drow + k))
                k &+= 8
            }
            while k < K {
                drow[k] = g0 * a0[k] + drow[k]
                k &+= 1
            }
            m &+= 1
        }
        if let dBias {
            var s = dBias[n]
            for m in 0..<M { s += dOut[m &* N &+ n] }
            dBias[n] = s
        }
    }
}
