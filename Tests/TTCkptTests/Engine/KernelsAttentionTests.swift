import CKernels
import Testing
@testable import TTEngine

/// `ck_attention_forward_pair` and `ck_attention_backward_pair` against a plain Float
/// reference written from their contract in ckernels.h: the GEMM's chains (blocks of
/// CK_KC from p = 0, fused on AVX2, rounded apart on the portable path), the softmax and
/// the Jacobian as their scalar loops. Bits, not tolerances: the kernels pack operands,
/// run 8 rows a lane and split rows into blocks, and none of that may change a bit.
@Suite struct KernelsAttentionTests {
    private static let implementations: [Kernels.Implementation] =
        Kernels.avx2Available ? [.portable, .avx2] : [.portable]

    /// One sequence of H heads in the model's layout: inp(T, 3C) holds q | k | v, dy(T, C).
    private struct Pair {
        let T: Int, hs: Int, H: Int, head: Int
        var C: Int { hs * H }
        var ld: Int { 3 * C }
        var inp: [Float]
        var dy: [Float]
        var scale: Float { 1 / Float(hs).squareRoot() }
        init(T: Int, hs: Int, H: Int = 2, head: Int = 1, seed: UInt64) {
            self.T = T; self.hs = hs; self.H = H; self.head = head
            var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
            func next() -> Float {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Float(Int64(bitPattern: state >> 40) - (1 << 23)) / Float(1 << 22)
            }
            inp = (0..<(T * 3 * hs * H)).map { _ in next() }
            dy = (0..<(T * hs * H)).map { _ in next() }
        }
        func q(_ t: Int, _ p: Int) -> Float { inp[t * ld + head * hs + p] }
        func k(_ t: Int, _ p: Int) -> Float { inp[t * ld + C + head * hs + p] }
        func v(_ t: Int, _ p: Int) -> Float { inp[t * ld + 2 * C + head * hs + p] }
        func dout(_ t: Int, _ p: Int) -> Float { dy[t * C + head * hs + p] }
    }

    /// The GEMM's sum of n products: per block of CK_KC from p = 0 a chain from 0, the
    /// first block's sum stored, each later one added.
    private static func chain(_ n: Int, fused: Bool, _ term: (Int) -> (Float, Float)) -> Float {
        var out: Float = 0
        var p0 = 0
        while p0 < n {
            let p1 = min(n, p0 + Int(CK_KC))
            var s: Float = 0
            for p in p0..<p1 {
                let (x, y) = term(p)
                s = fused ? s.addingProduct(x, y) : s + x * y
            }
            out = p0 == 0 ? s : out + s
            p0 = p1
        }
        return out
    }

    private static func rowBlocks(_ T: Int, _ R: Int) -> [(Int, Int)] {
        stride(from: 0, to: T, by: R).map { ($0, min(T, $0 + R)) }
    }

    /// The contract's forward: att(T, T) and y(T, hs).
    private static func referenceForward(_ x: Pair, R: Int, fused: Bool) -> (att: [Float], y: [Float]) {
        let T = x.T, hs = x.hs
        var att = [Float](repeating: 0, count: T * T), y = [Float](repeating: 0, count: T * hs)
        for (r0, r1) in rowBlocks(T, R) {
            for t in r0..<r1 {
                for t2 in 0..<r1 { att[t * T + t2] = chain(hs, fused: fused) { (x.q(t, $0), x.k(t2, $0)) } }
                var maxv = -Float.infinity
                for t2 in 0...t {
                    let s = att[t * T + t2] * x.scale
                    att[t * T + t2] = s
                    if s > maxv { maxv = s }
                }
                let sum = att.withUnsafeMutableBufferPointer { ck_exp_shift_sum($0.baseAddress! + t * T, t + 1, maxv) }
                let inv: Float = 1 / sum
                for t2 in 0...t { att[t * T + t2] *= inv }
                for t2 in (t + 1)..<T { att[t * T + t2] = 0 }
            }
            for t in r0..<r1 {
                for j in 0..<hs { y[t * hs + j] = chain(r1, fused: fused) { (att[t * T + $0], x.v($0, j)) } }
            }
        }
        return (att, y)
    }

    /// The contract's backward from the forward's att: dq, dk, dv as (T, hs).
    private static func referenceBackward(_ x: Pair, att: [Float], R: Int, fused: Bool) -> [[Float]] {
        let T = x.T, hs = x.hs
        var dS = [Float](repeating: 0, count: T * T)
        var dq = [Float](repeating: 0, count: T * hs), dk = dq, dv = dq
        for (r0, r1) in rowBlocks(T, R) {
            for t in r0..<r1 {
                for t2 in 0..<r1 { dS[t * T + t2] = chain(hs, fused: fused) { (x.dout(t, $0), x.v(t2, $0)) } }
                var dot: Float = 0
                for t2 in 0...t { dot = att[t * T + t2] * dS[t * T + t2] + dot }
                for t2 in 0...t { dS[t * T + t2] = att[t * T + t2] * (dS[t * T + t2] - dot) * x.scale }
                for t2 in (t + 1)..<T { dS[t * T + t2] = 0 }
            }
            for t in r0..<r1 {
                for j in 0..<hs { dq[t * hs + j] = chain(r1, fused: fused) { (dS[t * T + $0], x.k($0, j)) } }
            }
        }
        for t2 in 0..<T {
            for j in 0..<hs {
                dv[t2 * hs + j] = chain(T, fused: fused) { (att[$0 * T + t2], x.dout($0, j)) }
                dk[t2 * hs + j] = chain(T, fused: fused) { (dS[$0 * T + t2], x.q($0, j)) }
            }
        }
        return [dq, dk, dv]
    }

    /// The kernels' forward; y and att start as NaN (written over).
    private static func forward(_ x: Pair, R: Int, impl: Kernels.Implementation) -> (att: [Float], y: [Float]) {
        var att = [Float](repeating: .nan, count: x.T * x.T), out = [Float](repeating: .nan, count: x.T * x.C)
        x.inp.withUnsafeBufferPointer { inp in
            let seq = inp.baseAddress!, h = x.head * x.hs
            out.withUnsafeMutableBufferPointer { y in att.withUnsafeMutableBufferPointer { a in
                ck_attention_forward_pair(impl.code, y.baseAddress! + h, x.C, a.baseAddress!, seq + h, seq + x.C + h,
                                          seq + 2 * x.C + h, x.ld, x.T, x.hs, x.scale, R)
            }}
        }
        let y = Self.columns(out, rows: x.T, stride: x.C, from: x.head * x.hs, count: x.hs)
        #expect(out.enumerated().allSatisfy { i, v in (i % x.C) / x.hs == x.head || v.isNaN },
                "the forward wrote outside its head's columns")
        return (att, y)
    }

    /// The kernels' backward; dinp starts as NaN (written over), other heads' columns must stay so.
    private static func backward(_ x: Pair, att: [Float], R: Int, impl: Kernels.Implementation) -> [[Float]] {
        var dinp = [Float](repeating: .nan, count: x.T * x.ld)
        x.inp.withUnsafeBufferPointer { inp in x.dy.withUnsafeBufferPointer { dy in att.withUnsafeBufferPointer { a in
            dinp.withUnsafeMutableBufferPointer { d in
                let seq = inp.baseAddress!, ds = d.baseAddress!, h = x.head * x.hs
                ck_attention_backward_pair(impl.code, ds + h, ds + x.C + h, ds + 2 * x.C + h, x.ld,
                                           dy.baseAddress! + h, x.C, seq + h, seq + x.C + h, seq + 2 * x.C + h, x.ld,
                                           a.baseAddress!, x.T, x.hs, x.scale, R)
            }
        }}}
        return (0..<3).map { part in Self.columns(dinp, rows: x.T, stride: x.ld, from: part * x.C + x.head * x.hs, count: x.hs) }
    }

    /// Columns [from, from + count) of each of `rows` rows `stride` apart, as one array.
    private static func columns(_ m: [Float], rows: Int, stride: Int, from: Int, count: Int) -> [Float] {
        var out: [Float] = []
        for t in 0..<rows { out += m[(t * stride + from)..<(t * stride + from + count)] }
        return out
    }

    /// The first index where the bits differ (nil: none), so a failure names one element.
    private static func firstDifference(_ a: [Float], _ b: [Float]) -> Int? {
        guard a.count == b.count else { return -1 }
        return a.indices.first { a[$0].bitPattern != b[$0].bitPattern }
    }

    /// Around the kernel's tile (6 x 16), the 8-row lanes of the Jacobian, the row block,
    /// and past CK_KC (300: the value sums and dv, dk split into two blocks).
    private static let shapes: [(T: Int, hs: Int, R: Int)] = [
        (16, 4, 32), (37, 5, 32), (64, 32, 32), (45, 16, 7), (300, 16, 32),
    ]

    @Test(arguments: implementations)
    func pairsGiveTheBitsOfTheirContract(_ impl: Kernels.Implementation) {
        let fused = impl.resolved == .avx2
        for (index, s) in Self.shapes.enumerated() {
            let x = Pair(T: s.T, hs: s.hs, seed: UInt64(index + 1))
            let ref = Self.referenceForward(x, R: s.R, fused: fused)
            let got = Self.forward(x, R: s.R, impl: impl)
            #expect(Self.firstDifference(got.att, ref.att) == nil, "att \(s) \(impl)")
            #expect(Self.firstDifference(got.y, ref.y) == nil, "y \(s) \(impl)")
            let refGrads = Self.referenceBackward(x, att: ref.att, R: s.R, fused: fused)
            let grads = Self.backward(x, att: got.att, R: s.R, impl: impl)
            for (name, (g, r)) in zip(["dq", "dk", "dv"], zip(grads, refGrads)) {
                #expect(Self.firstDifference(g, r) == nil, "\(name) \(s) \(impl)")
                #expect(g.contains { $0 != 0 }, "\(name) \(s): all zero, the comparison would be empty")
            }
        }
    }

    /// The row block only adds ±0 products to sums that start at +0, so any R gives the
    /// same bits (the block length the model uses is a speed choice, not a result); past
    /// CK_KC too, where a sum's blocks start at t = 0 whatever R is.
    @Test(arguments: implementations, [70, 300])
    func theRowBlockDoesNotChangeABit(_ impl: Kernels.Implementation, _ T: Int) {
        let x = Pair(T: T, hs: 12, H: 3, head: 2, seed: 9)
        let base = Self.forward(x, R: 32, impl: impl)
        let baseGrads = Self.backward(x, att: base.att, R: 32, impl: impl)
        for R in [1, 7, 16, 48, 70, 1000] {
            let other = Self.forward(x, R: R, impl: impl)
            #expect(Self.firstDifference(other.att, base.att) == nil && Self.firstDifference(other.y, base.y) == nil,
                    "forward R \(R)")
            let grads = Self.backward(x, att: other.att, R: R, impl: impl)
            #expect(zip(grads, baseGrads).allSatisfy { Self.firstDifference($0, $1) == nil }, "backward R \(R)")
        }
    }
}
