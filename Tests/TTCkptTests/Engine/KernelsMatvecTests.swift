import CKernels
import Testing
@testable import TTCore
@testable import TTEngine

/// The forward product's path for one or two rows (a decode step's matrix-vector
/// products, `matvec_avx2` in ckernels.c) must give each element the bits the blocked GEMM
/// gives it in a block of many rows: per CK_KC block an FMA chain over p, C = s_0 + bias,
/// then C = C + s_q. Widths and depths cover partial column groups, K not a multiple of 8,
/// and more than one reduction block.
@Suite struct KernelsMatvecTests {
    @Test(arguments: [(1, 7), (16, 48), (37, 300), (64, 513), (100, 8)])
    func oneAndTwoRowsMatchTheGEMM(_ shape: (Int, Int)) {
        let (N, K) = shape
        let M = 9
        var r = PythonRandom(seed: UInt64(N * 1000 + K))
        let a = (0..<(M * K)).map { _ in Float(r.gauss(mu: 0, sigma: 1)) }
        let b = (0..<(N * K)).map { _ in Float(r.gauss(mu: 0, sigma: 1)) }
        let bias = (0..<N).map { _ in Float(r.gauss(mu: 0, sigma: 1)) }
        for impl in [Kernels.Implementation.avx2, .portable] {
            let kernels = Kernels(pool: .serial, implementation: impl)
            var gemm = [Float](repeating: 0, count: M * N)
            kernels.matmulForward(&gemm, a, b, bias, M, N, K)
            for rows in [1, 2] {
                for i0 in stride(from: 0, to: M - rows + 1, by: rows) {
                    var out = [Float](repeating: .nan, count: M * N)
                    ck_matmul_forward(impl == .avx2 ? Int32(CK_IMPL_AVX2) : Int32(CK_IMPL_PORTABLE), &out, a, b, bias,
                                      M, K, N, i0, i0 + rows, 0, N)
                    for i in i0..<(i0 + rows) {
                        #expect(out[(i * N)..<((i + 1) * N)].map(\.bitPattern) == gemm[(i * N)..<((i + 1) * N)].map(\.bitPattern),
                                "\(impl) N \(N) K \(K) rows \(rows) row \(i)")
                    }
                    // Nothing outside the rows asked for is written.
                    #expect(out[0..<(i0 * N)].allSatisfy(\.isNaN) && out[((i0 + rows) * N)...].allSatisfy(\.isNaN))
                }
            }
            // A column range inside the row, as a thread's share of the output.
            var part = [Float](repeating: .nan, count: M * N)
            let j0 = N / 3, j1 = N - N / 4
            ck_matmul_forward(Int32(CK_IMPL_AVX2), &part, a, b, bias, M, K, N, 0, 1, j0, j1)
            if impl == .avx2 || !Kernels.avx2Available {
                #expect(part[j0..<j1].map(\.bitPattern) == gemm[j0..<j1].map(\.bitPattern))
            }
            #expect(part[0..<j0].allSatisfy(\.isNaN) && part[j1..<N].allSatisfy(\.isNaN))
        }
    }
}
