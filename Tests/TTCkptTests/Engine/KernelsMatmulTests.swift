import CKernels
import Synchronization
import Testing
@testable import TTEngine

/// Deterministic test data: a 64-bit LCG mapped to floats in [-1, 1).
private struct TestData {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> Float {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Int64(bitPattern: state >> 40) - (1 << 23)) / Float(1 << 23)
    }
    mutating func array(_ n: Int) -> [Float] { (0..<n).map { _ in next() } }
}

/// The three engine shapes, as plain Double loops. Each returns, per output element,
/// the exact-ish value and the magnitude Σ|terms| the error bound scales with.
private enum Reference {
    /// out(M,N) = a(M,K)·b(N,K)ᵀ + bias(N) (+ c0 when accumulating).
    static func forward(_ a: [Float], _ b: [Float], bias: [Float]?, m: Int, k: Int, n: Int) -> (value: [Double], scale: [Double]) {
        var value = [Double](repeating: 0, count: m * n), scale = value
        for i in 0..<m {
            for j in 0..<n {
                var s = Double(bias?[j] ?? 0), mag = abs(s)
                for p in 0..<k {
                    let t = Double(a[i * k + p]) * Double(b[j * k + p])
                    s += t
                    mag += abs(t)
                }
                value[i * n + j] = s
                scale[i * n + j] = mag
            }
        }
        return (value, scale)
    }

    /// dA(M,K) = c0 + dOut(M,N)·b(N,K).
    static func backwardInput(_ c0: [Float], _ dOut: [Float], _ b: [Float], m: Int, k: Int, n: Int) -> (value: [Double], scale: [Double]) {
        var value = [Double](repeating: 0, count: m * k), scale = value
        for i in 0..<m {
            for j in 0..<k {
                var s = Double(c0[i * k + j]), mag = abs(s)
                for q in 0..<n {
                    let t = Double(dOut[i * n + q]) * Double(b[q * k + j])
                    s += t
                    mag += abs(t)
                }
                value[i * k + j] = s
                scale[i * k + j] = mag
            }
        }
        return (value, scale)
    }

    /// dB(N,K) = c0 + dOut(M,N)ᵀ·a(M,K).
    static func backwardWeight(_ c0: [Float], _ dOut: [Float], _ a: [Float], m: Int, k: Int, n: Int) -> (value: [Double], scale: [Double]) {
        var value = [Double](repeating: 0, count: n * k), scale = value
        for i in 0..<n {
            for j in 0..<k {
                var s = Double(c0[i * k + j]), mag = abs(s)
                for r in 0..<m {
                    let t = Double(dOut[r * n + i]) * Double(a[r * k + j])
                    s += t
                    mag += abs(t)
                }
                value[i * k + j] = s
                scale[i * k + j] = mag
            }
        }
        return (value, scale)
    }
}

/// Checks |got − ref| ≤ (terms + 3)·u·Σ|terms| for every element, u = 2⁻²⁴. This is the
/// standard first-order bound for a float sum of `terms` products computed in any order
/// (γ_n ≤ n·u), plus rounding of the final add of the block sums, the bias and the
/// accumulated value; a wrong index or a missed term breaks it by orders of magnitude.
private func expectClose(_ got: [Float], _ ref: (value: [Double], scale: [Double]), terms: Int,
                         _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let u = 1.0 / Double(1 << 24)
    var worst = 0.0, worstIndex = -1
    for i in got.indices {
        let err = abs(Double(got[i]) - ref.value[i])
        let bound = Double(terms + 3) * u * ref.scale[i] + Double.leastNormalMagnitude
        if !(err <= bound) && (worstIndex < 0 || err / bound > worst) { worst = err / bound; worstIndex = i }
    }
    #expect(worstIndex < 0, "\(what): element \(worstIndex) off by \(worst)x its error bound", sourceLocation: sourceLocation)
}

private func bits(_ x: [Float]) -> [UInt32] { x.map(\.bitPattern) }

/// Implementations to test on this machine: portable always, AVX2 when the CPU has it.
private let implementations: [Kernels.Implementation] = Kernels.avx2Available ? [.portable, .avx2] : [.portable]

/// Odd sizes around the micro-tile (6 x 16), the reduction block (256), the row block
/// (96) and the column block (1024) of the C kernels.
private let shapes: [(m: Int, k: Int, n: Int)] = [
    (1, 1, 1), (7, 13, 5), (33, 65, 17), (6, 16, 16), (12, 257, 32), (13, 300, 37), (100, 40, 70), (3, 5, 1100),
]

@Suite struct KernelsMatmulTests {
    @Test(arguments: implementations)
    func forwardMatchesDoubleReference(_ impl: Kernels.Implementation) {
        let pool = ThreadPool(threads: 1)
        for (index, s) in shapes.enumerated() {
            var data = TestData(seed: UInt64(index + 1))
            let a = data.array(s.m * s.k), b = data.array(s.n * s.k), bias = data.array(s.n)
            for withBias in [false, true] {
                // Overwrite semantics: NaN already in `out` must not survive.
                var out = [Float](repeating: .nan, count: s.m * s.n)
                a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in bias.withUnsafeBufferPointer { pbias in
                    out.withUnsafeMutableBufferPointer { po in
                        Kernels(pool: pool, implementation: impl)
                            .matmulForward(po.baseAddress!, pa.baseAddress!, pb.baseAddress!,
                                           withBias ? pbias.baseAddress! : nil, s.m, s.n, s.k)
                    }
                }}}
                let ref = Reference.forward(a, b, bias: withBias ? bias : nil, m: s.m, k: s.k, n: s.n)
                expectClose(out, ref, terms: s.k + 1, "forward \(s) bias \(withBias) \(impl)")
            }
        }
    }

    @Test(arguments: implementations)
    func backwardInputAccumulates(_ impl: Kernels.Implementation) {
        let pool = ThreadPool(threads: 1)
        for (index, s) in shapes.enumerated() {
            var data = TestData(seed: UInt64(100 + index))
            let dOut = data.array(s.m * s.n), b = data.array(s.n * s.k), c0 = data.array(s.m * s.k)
            var dA = c0
            dOut.withUnsafeBufferPointer { pd in b.withUnsafeBufferPointer { pb in
                dA.withUnsafeMutableBufferPointer { pa in
                    Kernels(pool: pool, implementation: impl)
                        .matmulBackwardInput(pa.baseAddress!, pd.baseAddress!, pb.baseAddress!, s.m, s.n, s.k)
                }
            }}
            expectClose(dA, Reference.backwardInput(c0, dOut, b, m: s.m, k: s.k, n: s.n), terms: s.n + 1, "dA \(s) \(impl)")
        }
    }

    @Test(arguments: implementations)
    func backwardWeightAccumulates(_ impl: Kernels.Implementation) {
        let pool = ThreadPool(threads: 1)
        for (index, s) in shapes.enumerated() {
            var data = TestData(seed: UInt64(200 + index))
            let dOut = data.array(s.m * s.n), a = data.array(s.m * s.k), c0 = data.array(s.n * s.k)
            var dB = c0
            dOut.withUnsafeBufferPointer { pd in a.withUnsafeBufferPointer { pa in
                dB.withUnsafeMutableBufferPointer { pb in
                    Kernels(pool: pool, implementation: impl)
                        .matmulBackwardWeight(pb.baseAddress!, nil, pd.baseAddress!, pa.baseAddress!, s.m, s.n, s.k)
                }
            }}
            expectClose(dB, Reference.backwardWeight(c0, dOut, a, m: s.m, k: s.k, n: s.n), terms: s.m + 1, "dB \(s) \(impl)")
        }
    }

    /// dA = dOut·b and dB = dOutᵀ·a (accumulate false) give the bits of += on zeros, whatever
    /// the output held (NaN here), with rows and columns whose products are all −0 or 0 (sums
    /// that a plain store of the first block could leave as −0), over two reduction blocks,
    /// on one thread, split between threads, and with B packed once for both (`sharedB`).
    @Test(arguments: implementations)
    func backwardOverwriteGivesTheBitsOfAccumulatingIntoZeros(_ impl: Kernels.Implementation) {
        for (m, n, k) in [(9, 21, 11), (300, 40, 24), (300, 97, 50)] {
            var data = TestData(seed: UInt64(m * 5 + k))
            var dOut = data.array(m * n), a = data.array(m * k)
            for p in 0..<m { dOut[p * n + 3] = p % 2 == 0 ? -0.0 : 0; a[p * k + 2] = -abs(a[p * k + 2]) }
            for threads in [1, 2] {
                var kernels = Kernels(pool: ThreadPool(threads: threads), implementation: impl)
                let raw = UnsafeMutableRawPointer.allocate(byteCount: 4 * 16 * (k + 15) * m, alignment: 64)
                defer { raw.deallocate() }
                for shared in [false, true] {
                    kernels.packScratch = shared
                        ? Kernels.PackScratch(base: raw.bindMemory(to: Float.self, capacity: 16 * (k + 15) * m),
                                              count: 16 * (k + 15) * m) : nil
                    var set = [Float](repeating: .nan, count: n * k), added = [Float](repeating: 0, count: n * k)
                    dOut.withUnsafeBufferPointer { pd in a.withUnsafeBufferPointer { pa in
                        set.withUnsafeMutableBufferPointer { ps in
                            kernels.matmulBackwardWeight(ps.baseAddress!, nil, pd.baseAddress!, pa.baseAddress!, m, n, k,
                                                         accumulate: false)
                        }
                        added.withUnsafeMutableBufferPointer { pb in
                            kernels.matmulBackwardWeight(pb.baseAddress!, nil, pd.baseAddress!, pa.baseAddress!, m, n, k)
                        }
                    }}
                    #expect(bits(set) == bits(added), "dB \(m)x\(n)x\(k), \(threads) threads, shared B \(shared), \(impl)")
                    #expect(set[3 * k + 2].bitPattern == 0, "an all-zero product sum is +0")
                }
            }
        }
        for (m, n, k) in [(9, 21, 11), (40, 300, 24), (97, 300, 50)] {
            var data = TestData(seed: UInt64(m * 7 + k))
            var dOut = data.array(m * n), b = data.array(n * k)
            for j in 0..<n { dOut[3 * n + j] = j % 2 == 0 ? -0.0 : 0; dOut[5 * n + j] = -0.0 }
            for p in 0..<n { b[p * k + 2] = -abs(b[p * k + 2]) }
            for threads in [1, 2] {
                var kernels = Kernels(pool: ThreadPool(threads: threads), implementation: impl)
                let raw = UnsafeMutableRawPointer.allocate(byteCount: 4 * 16 * (k + 15) * n, alignment: 64)
                defer { raw.deallocate() }
                let room = raw.bindMemory(to: Float.self, capacity: 16 * (k + 15) * n)  // packed panels are 32-byte aligned
                for shared in [false, true] {
                    kernels.packScratch = shared ? Kernels.PackScratch(base: room, count: 16 * (k + 15) * n) : nil
                    var set = [Float](repeating: .nan, count: m * k), added = [Float](repeating: 0, count: m * k)
                    dOut.withUnsafeBufferPointer { pd in b.withUnsafeBufferPointer { pb in
                        set.withUnsafeMutableBufferPointer { ps in
                            kernels.matmulBackwardInput(ps.baseAddress!, pd.baseAddress!, pb.baseAddress!, m, n, k, accumulate: false)
                        }
                        added.withUnsafeMutableBufferPointer { pa in
                            kernels.matmulBackwardInput(pa.baseAddress!, pd.baseAddress!, pb.baseAddress!, m, n, k)
                        }
                    }}
                    #expect(bits(set) == bits(added), "dA \(m)x\(n)x\(k), \(threads) threads, shared B \(shared), \(impl)")
                    #expect(set[3 * k + 2].bitPattern == 0, "an all-zero product sum is +0")
                }
            }
        }
    }

    /// The bias gradient, which the kernel adds while it packs dOut, is dBias[n] + dOut[0][n]
    /// + dOut[1][n] + ... in row order, one float add each, added exactly once: past a
    /// reduction block (m 300), past a column block (k 1100: dOut is packed once per column
    /// block), with rows that fill no 8-float panel (n 5, 13), on 1 to 3 threads (split by
    /// rows, by columns, with B packed once for all), written over or added to, and with no
    /// columns at all (k 0). The C call split by columns adds it in the block at j0 = 0 only.
    @Test(arguments: implementations)
    func biasGradientIsTheColumnSumsInRowOrderAddedOnce(_ impl: Kernels.Implementation) {
        for (m, n, k) in [(7, 5, 3), (300, 13, 20), (40, 97, 50), (30, 200, 600), (9, 12, 1100), (11, 6, 0)] {
            var data = TestData(seed: UInt64(m * 31 + n * 7 + k))
            let dOut = data.array(m * n), a = data.array(m * k), start = data.array(n)
            var expected = start
            for row in 0..<m { for col in 0..<n { expected[col] += dOut[row * n + col] } }
            for threads in [1, 2, 3] {
                var kernels = Kernels(pool: ThreadPool(threads: threads), implementation: impl)
                kernels.threshold = 0
                let raw = UnsafeMutableRawPointer.allocate(byteCount: 4 * 16 * (k + 15) * max(m, 1), alignment: 64)
                defer { raw.deallocate() }
                let room = raw.bindMemory(to: Float.self, capacity: 16 * (k + 15) * max(m, 1))
                for shared in [false, true] {
                    kernels.packScratch = shared ? Kernels.PackScratch(base: room, count: 16 * (k + 15) * max(m, 1)) : nil
                    for accumulate in [false, true] {
                        var dB = [Float](repeating: 0, count: n * k), dBias = start
                        dOut.withUnsafeBufferPointer { pd in a.withUnsafeBufferPointer { pa in
                            dB.withUnsafeMutableBufferPointer { pb in dBias.withUnsafeMutableBufferPointer { pbias in
                                kernels.matmulBackwardWeight(pb.baseAddress!, pbias.baseAddress!, pd.baseAddress!,
                                                             pa.baseAddress!, m, n, k, accumulate: accumulate)
                            }}
                        }}
                        #expect(bits(dBias) == bits(expected),
                                "dBias \(m)x\(n)x\(k), \(threads) threads, shared B \(shared), accumulate \(accumulate), \(impl)")
                    }
                }
            }
        }
        let (m, n, k) = (50, 20, 40)
        var data = TestData(seed: 77)
        let dOut = data.array(m * n), a = data.array(m * k)
        var expected = [Float](repeating: 0, count: n)
        for row in 0..<m { for col in 0..<n { expected[col] += dOut[row * n + col] } }
        var dB = [Float](repeating: 0, count: n * k), dBias = [Float](repeating: 0, count: n)
        for (j0, j1) in [(16, 40), (0, 16)] {
            ck_matmul_backward_b(impl == .avx2 ? Int32(CK_IMPL_AVX2) : Int32(CK_IMPL_PORTABLE),
                                 &dB, dOut, a, m, k, n, 0, n, j0, j1, 1, &dBias)
        }
        #expect(bits(dBias) == bits(expected), "split by columns, \(impl)")
    }

    /// `productThen` (a product, then an op on each block of rows as it is finished) gives
    /// the product's bits and calls the op once per block, the blocks covering every row
    /// once and none longer than `rowBlock`: forward with a bias and backward_a written
    /// over, on 1 thread (the product, then the op on all rows) and 3 threads (with room for
    /// B: packed once, blocks as they finish; without: the product, then the op split
    /// between the threads).
    @Test(arguments: implementations)
    func productThenGivesTheProductAndCoversEveryRowOnce(_ impl: Kernels.Implementation) {
        final class Blocks: Sendable {
            let ranges = Mutex<[Range<Int>]>([])
            func add(_ r: Range<Int>) { ranges.withLock { $0.append(r) } }
            var list: [Range<Int>] { ranges.withLock { $0 } }
        }
        for (m, depth, cols) in [(7, 5, 9), (200, 33, 70), (301, 260, 40)] {
            var data = TestData(seed: UInt64(m + depth))
            let a = data.array(m * depth), b = data.array(cols * depth), bias = data.array(cols)
            let raw = UnsafeMutableRawPointer.allocate(byteCount: 4 * 16 * (cols + 15) * depth, alignment: 64)
            defer { raw.deallocate() }
            let room = raw.bindMemory(to: Float.self, capacity: 16 * (cols + 15) * depth)
            for threads in [1, 3] {
                for withRoom in [true, false] {
                    var kernels = Kernels(pool: ThreadPool(threads: threads), threshold: 0, implementation: impl)
                    kernels.packScratch = withRoom ? Kernels.PackScratch(base: room, count: 16 * (cols + 15) * depth) : nil
                    for shape in [Int32(CK_SHAPE_FORWARD), Int32(CK_SHAPE_BACKWARD_A_SET)] {
                        let forward = shape == Int32(CK_SHAPE_FORWARD)
                        var fused = [Float](repeating: .nan, count: m * cols), plain = fused
                        let blocks = Blocks()
                        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in bias.withUnsafeBufferPointer { pbias in
                            fused.withUnsafeMutableBufferPointer { pf in
                                // forward: out(m, cols) = a(m, depth)·b(cols, depth)ᵀ; backward_a:
                                // dA(m, cols) = dOut(m, depth)·b(depth, cols).
                                kernels.productThen(shape, pf.baseAddress!, pa.baseAddress!, pb.baseAddress!,
                                                    forward ? pbias.baseAddress! : nil, rows: m, cols: cols, depth: depth,
                                                    forward ? depth : cols, forward ? cols : depth, rowBlock: 24) { i0, i1 in
                                    blocks.add(i0..<i1)
                                }
                            }
                            plain.withUnsafeMutableBufferPointer { pp in
                                let serial = Kernels(pool: .serial, threshold: .max, implementation: impl)
                                if forward {
                                    serial.matmulForward(pp.baseAddress!, pa.baseAddress!, pb.baseAddress!,
                                                                 pbias.baseAddress!, m, cols, depth)
                                } else {
                                    serial.matmulBackwardInput(pp.baseAddress!, pa.baseAddress!, pb.baseAddress!,
                                                                       m, depth, cols, accumulate: false)
                                }
                            }
                        }}}
                        let label = "\(forward ? "forward" : "backward_a") \(m)x\(depth)x\(cols), \(threads) threads, room \(withRoom), \(impl)"
                        #expect(fused.indices.allSatisfy { fused[$0].bitPattern == plain[$0].bitPattern }, "\(label)")
                        let sorted = blocks.list.sorted { $0.lowerBound < $1.lowerBound }
                        #expect(sorted.first?.lowerBound == 0 && sorted.last?.upperBound == m, "\(label): blocks \(sorted)")
                        #expect(zip(sorted, sorted.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound }, "\(label): blocks \(sorted)")
                        if threads > 1 && withRoom {
                            #expect(sorted.allSatisfy { $0.count <= 24 }, "\(label): blocks \(sorted)")
                        } else if threads == 1 {
                            #expect(sorted == [0..<m], "\(label): blocks \(sorted)")
                        }
                    }
                }
            }
        }
    }

    /// Accumulating twice adds the product twice: dA = c0 + 2·(dOut·b), within the bound
    /// for 2n + 1 terms.
    @Test func accumulateAddsToExistingValues() {
        let (m, k, n) = (9, 11, 21)
        var data = TestData(seed: 7)
        let dOut = data.array(m * n), b = data.array(n * k), c0 = data.array(m * k)
        var dA = c0
        for _ in 0..<2 {
            dOut.withUnsafeBufferPointer { pd in b.withUnsafeBufferPointer { pb in
                dA.withUnsafeMutableBufferPointer { pa in
                    Kernels.serial.matmulBackwardInput(pa.baseAddress!, pd.baseAddress!, pb.baseAddress!, m, n, k)
                }
            }}
        }
        let once = Reference.backwardInput([Float](repeating: 0, count: m * k), dOut, b, m: m, k: k, n: n)
        let twice = (value: (0..<(m * k)).map { Double(c0[$0]) + 2 * once.value[$0] },
                     scale: (0..<(m * k)).map { abs(Double(c0[$0])) + 2 * once.scale[$0] })
        expectClose(dA, twice, terms: 2 * n + 1, "dA accumulated twice")
    }

    /// The general strided product on views, as attention uses it: per head h,
    /// scores(T,T) = q_h·k_hᵀ with q, k stored (T, H·dk) and the head's columns at h·dk,
    /// then out_h(T,dk) = scores·v_h written into a (T, H·dk) buffer.
    @Test(arguments: implementations)
    func stridedViewsMatchReference(_ impl: Kernels.Implementation) {
        let (T, H, dk) = (11, 3, 7)
        let width = H * dk
        var data = TestData(seed: 31)
        let q = data.array(T * width), k = data.array(T * width), v = data.array(T * width)
        var out = [Float](repeating: .nan, count: T * width)
        for h in 0..<H {
            var scores = [Float](repeating: .nan, count: T * T)
            q.withUnsafeBufferPointer { pq in k.withUnsafeBufferPointer { pk in scores.withUnsafeMutableBufferPointer { ps in
                // A(i,p) = q[i·width + h·dk + p]; B(p,j) = k[j·width + h·dk + p].
                Kernels(pool: .serial, implementation: impl)
                    .gemm(ps.baseAddress!, ldc: T, pq.baseAddress! + h * dk, aRowStride: width, aColStride: 1,
                          pk.baseAddress! + h * dk, bRowStride: 1, bColStride: width, accumulate: false,
                          rows: 0..<T, cols: 0..<T, depth: dk)
            }}}
            var refScores = (value: [Double](repeating: 0, count: T * T), scale: [Double](repeating: 0, count: T * T))
            for i in 0..<T {
                for j in 0..<T {
                    for p in 0..<dk {
                        let t = Double(q[i * width + h * dk + p]) * Double(k[j * width + h * dk + p])
                        refScores.value[i * T + j] += t
                        refScores.scale[i * T + j] += abs(t)
                    }
                }
            }
            expectClose(scores, refScores, terms: dk, "scores head \(h) \(impl)")
            scores.withUnsafeBufferPointer { ps in v.withUnsafeBufferPointer { pv in out.withUnsafeMutableBufferPointer { po in
                // A(i,p) = scores[i·T + p]; B(p,j) = v[p·width + h·dk + j]; C(i,j) = out[i·width + h·dk + j].
                Kernels(pool: .serial, implementation: impl)
                    .gemm(po.baseAddress! + h * dk, ldc: width, ps.baseAddress!, aRowStride: T, aColStride: 1,
                          pv.baseAddress! + h * dk, bRowStride: width, bColStride: 1, accumulate: false,
                          rows: 0..<T, cols: 0..<dk, depth: T)
            }}}
            var refOut = (value: [Double](repeating: 0, count: T * dk), scale: [Double](repeating: 0, count: T * dk))
            var gotOut = [Float](repeating: 0, count: T * dk)
            for i in 0..<T {
                for j in 0..<dk {
                    gotOut[i * dk + j] = out[i * width + h * dk + j]
                    for p in 0..<T {
                        let t = Double(scores[i * T + p]) * Double(v[p * width + h * dk + j])
                        refOut.value[i * dk + j] += t
                        refOut.scale[i * dk + j] += abs(t)
                    }
                }
            }
            expectClose(gotOut, refOut, terms: T, "att·v head \(h) \(impl)")
        }
        #expect(!out.contains { $0.isNaN }, "every head's columns written")
    }

    /// k = 0: forward stores the bias (or zero); the backward products leave the
    /// accumulator unchanged.
    @Test func emptyReductionStoresBiasOrKeepsAccumulator() {
        let bias: [Float] = [1.5, -2, 0.25]
        var out = [Float](repeating: .nan, count: 2 * 3)
        let empty = [Float](repeating: 0, count: 1)
        empty.withUnsafeBufferPointer { pe in bias.withUnsafeBufferPointer { pbias in out.withUnsafeMutableBufferPointer { po in
            Kernels.serial.matmulForward(po.baseAddress!, pe.baseAddress!, pe.baseAddress!, pbias.baseAddress!, 2, 3, 0)
        }}}
        #expect(out == bias + bias)
        var dB: [Float] = [3, 4, 5, 6]
        empty.withUnsafeBufferPointer { pe in dB.withUnsafeMutableBufferPointer { pb in
            Kernels.serial.matmulBackwardWeight(pb.baseAddress!, nil, pe.baseAddress!, pe.baseAddress!, 0, 2, 2)
        }}
        #expect(dB == [3, 4, 5, 6])
    }
}

@Suite struct KernelsDeterminismTests {
    /// Shapes above `Kernels.defaultThreshold`, split by rows (m ≥ n) and by columns.
    private static let shapes: [(m: Int, k: Int, n: Int)] = [(97, 300, 50), (20, 100, 400), (61, 40, 61)]

    private func runAll(_ s: (m: Int, k: Int, n: Int), pool: ThreadPool, impl: Kernels.Implementation) -> [[UInt32]] {
        var data = TestData(seed: UInt64(s.m * 1000 + s.n))
        let a = data.array(s.m * s.k), b = data.array(s.n * s.k), bias = data.array(s.n), dOut = data.array(s.m * s.n)
        var out = [Float](repeating: 0, count: s.m * s.n)
        var dA = data.array(s.m * s.k), dB = data.array(s.n * s.k)
        let kernels = Kernels(pool: pool, implementation: impl)
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in bias.withUnsafeBufferPointer { pbias in
            dOut.withUnsafeBufferPointer { pd in
                out.withUnsafeMutableBufferPointer { po in
                    kernels.matmulForward(po.baseAddress!, pa.baseAddress!, pb.baseAddress!, pbias.baseAddress!, s.m, s.n, s.k)
                }
                dA.withUnsafeMutableBufferPointer { pda in
                    kernels.matmulBackwardInput(pda.baseAddress!, pd.baseAddress!, pb.baseAddress!, s.m, s.n, s.k)
                }
                dB.withUnsafeMutableBufferPointer { pdb in
                    kernels.matmulBackwardWeight(pdb.baseAddress!, nil, pd.baseAddress!, pa.baseAddress!, s.m, s.n, s.k)
                }
            }
        }}}
        return [bits(out), bits(dA), bits(dB)]
    }

    @Test(arguments: implementations)
    func bitIdenticalAcrossThreadCounts(_ impl: Kernels.Implementation) {
        let pools = [1, 2, 3].map { ThreadPool(threads: $0) }
        for s in Self.shapes {
            #expect(s.m * s.n * s.k >= Kernels.defaultThreshold, "shape \(s) would not be split")
            let one = runAll(s, pool: pools[0], impl: impl)
            for pool in pools.dropFirst() {
                #expect(runAll(s, pool: pool, impl: impl) == one, "shape \(s), \(pool.threadCount) threads, \(impl)")
            }
        }
    }

    /// The C contract directly: any partition of the output into blocks, including ones
    /// that cut through micro-tiles, gives the bits of the single-block call.
    @Test(arguments: implementations)
    func anyOutputPartitionGivesSameBits(_ impl: Kernels.Implementation) {
        let (m, k, n) = (29, 270, 45)
        var data = TestData(seed: 99)
        let a = data.array(m * k), b = data.array(n * k), bias = data.array(n)
        func compute(rowCuts: [Int], colCuts: [Int]) -> [UInt32] {
            var out = [Float](repeating: 0, count: m * n)
            for (i0, i1) in zip(rowCuts, rowCuts.dropFirst()) {
                for (j0, j1) in zip(colCuts, colCuts.dropFirst()) {
                    ck_matmul_forward(impl == .avx2 ? Int32(CK_IMPL_AVX2) : Int32(CK_IMPL_PORTABLE),
                                      &out, a, b, bias, m, k, n, i0, i1, j0, j1)
                }
            }
            return bits(out)
        }
        let whole = compute(rowCuts: [0, m], colCuts: [0, n])
        #expect(compute(rowCuts: [0, 1, 7, 8, 20, m], colCuts: [0, n]) == whole)
        #expect(compute(rowCuts: [0, m], colCuts: [0, 3, 17, 18, 40, n]) == whole)
        #expect(compute(rowCuts: [0, 5, m], colCuts: [0, 9, 33, n]) == whole)
    }
}
