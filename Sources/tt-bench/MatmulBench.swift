import TTEngine

/// One matmul shape as the engine calls it.
struct MatmulCase {
    enum Kind: String { case forward = "fwd out=a·bᵀ", backwardInput = "bwd dA+=dOut·b", backwardWeight = "bwd dB+=dOutᵀ·a" }
    var label: String
    var kind: Kind
    var m: Int, k: Int, n: Int
    var flops: Double { 2 * Double(m) * Double(k) * Double(n) }
}

enum MatmulBench {
    static let cases: [MatmulCase] = [
        MatmulCase(label: "target 256x768x768", kind: .forward, m: 256, k: 768, n: 768),
        MatmulCase(label: "tutorial ffn.w1", kind: .forward, m: 5, k: 16, n: 64),
        MatmulCase(label: "small ffn.w1", kind: .forward, m: 1024, k: 128, n: 512),
        MatmulCase(label: "small ffn.w1", kind: .backwardInput, m: 1024, k: 128, n: 512),
        MatmulCase(label: "small ffn.w1", kind: .backwardWeight, m: 1024, k: 128, n: 512),
        MatmulCase(label: "medium attn.wo", kind: .forward, m: 1024, k: 256, n: 256),
        MatmulCase(label: "medium ffn.w1", kind: .forward, m: 1024, k: 256, n: 1024),
        MatmulCase(label: "medium ffn.w2", kind: .forward, m: 1024, k: 1024, n: 256),
        MatmulCase(label: "medium ffn.w1", kind: .backwardInput, m: 1024, k: 256, n: 1024),
        MatmulCase(label: "medium ffn.w1", kind: .backwardWeight, m: 1024, k: 256, n: 1024),
        MatmulCase(label: "medium ffn.w2", kind: .backwardInput, m: 1024, k: 1024, n: 256),
        MatmulCase(label: "medium ffn.w2", kind: .backwardWeight, m: 1024, k: 1024, n: 256),
    ]

    /// Seconds per call of `c` with `impl` on `pool`.
    static func time(_ c: MatmulCase, impl: Kernels.Implementation, pool: ThreadPool, minSeconds: Double) -> Double {
        // Operands sized for the largest role each buffer plays; filled with small values.
        let sizeA = c.m * c.k, sizeB = c.n * c.k, sizeO = c.m * c.n
        let a = UnsafeMutablePointer<Float>.allocate(capacity: sizeA)
        let b = UnsafeMutablePointer<Float>.allocate(capacity: sizeB)
        let o = UnsafeMutablePointer<Float>.allocate(capacity: sizeO)
        let bias = UnsafeMutablePointer<Float>.allocate(capacity: c.n)
        defer { a.deallocate(); b.deallocate(); o.deallocate(); bias.deallocate() }
        for i in 0..<sizeA { a[i] = Float(i % 13) * 0.01 - 0.06 }
        for i in 0..<sizeB { b[i] = Float(i % 7) * 0.01 - 0.03 }
        for i in 0..<sizeO { o[i] = Float(i % 5) * 0.01 }
        for i in 0..<c.n { bias[i] = 0.5 }
        let kernels = Kernels(pool: pool, implementation: impl)
        switch c.kind {
        case .forward:
            return bestTimePerCall(minSeconds: minSeconds) {
                kernels.matmulForward(o, a, b, bias, c.m, c.n, c.k)
            }
        case .backwardInput:
            return bestTimePerCall(minSeconds: minSeconds) {
                kernels.matmulBackwardInput(a, o, b, c.m, c.n, c.k)
            }
        case .backwardWeight:
            return bestTimePerCall(minSeconds: minSeconds) {
                kernels.matmulBackwardWeight(b, nil, o, a, c.m, c.n, c.k)
            }
        }
    }

    static func run(minSeconds: Double, maxThreads: Int) -> String {
        let one = ThreadPool(threads: 1)
        let many = ThreadPool(threads: maxThreads)
        let avx2 = Kernels.avx2Available
        let clockNote = BenchClock.current == .cpu
            ? "cpu clock: GFLOP per CPU-second, so \(maxThreads)T/1T is parallel efficiency, not speedup"
            : "wall clock"
        var table = Table("Matmul GFLOP/s, best of 5 trials, \(clockNote); AVX2+FMA \(avx2 ? "available" : "NOT available: avx2 columns run the portable path")",
                          headers: ["shape", "op", "M", "K", "N", "portable 1T", "avx2 1T", "avx2 \(maxThreads)T", "\(maxThreads)T/1T"])
        for c in cases {
            let gf = { (s: Double) in c.flops / s / 1e9 }
            let p1 = gf(time(c, impl: .portable, pool: one, minSeconds: minSeconds))
            let a1 = gf(time(c, impl: .avx2, pool: one, minSeconds: minSeconds))
            let a2 = gf(time(c, impl: .avx2, pool: many, minSeconds: minSeconds))
            table.add([c.label, c.kind.rawValue, "\(c.m)", "\(c.k)", "\(c.n)", fmt(p1), fmt(a1), fmt(a2), fmt(a2 / a1, 2) + "x"])
        }
        // The fixed cost of a parallel loop (ThreadPool.parallelFor) with empty bodies.
        let dispatch = bestTimePerCall(minSeconds: minSeconds) { many.parallelFor(maxThreads) { _ in } }
        // AdamW over the medium model's parameters (memory-bound: 7 floats moved per element).
        let n = BenchPreset.all.first { $0.name == "medium" }!.parameterCount
        let buffers = (0..<4).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: n) }
        defer { buffers.forEach { $0.deallocate() } }
        for b in buffers { b.initialize(repeating: 0.01, count: n) }
        var adam: [String] = []
        for pool in [one, many] {
            let kernels = Kernels(pool: pool)
            var t = 0
            let s = bestTimePerCall(minSeconds: minSeconds) {
                t += 1
                let step = Kernels.AdamWStep(learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8,
                                             weightDecay: 0.01, step: t)
                kernels.adamWUpdate(parameters: buffers[0], gradients: buffers[1], m: buffers[2], v: buffers[3],
                                    count: n, step)
            }
            adam.append("\(pool.threadCount)T \(fmt(s * 1e3, 2)) ms (\(fmt(Double(n) * 28 / s / 1e9, 1)) GB/s)")
        }
        let adamLine = "\nAdamW update of \(n) parameters: " + adam.joined(separator: ", ") + ".\n"
        let poolLine = "ThreadPool(\(maxThreads)).parallelFor with empty bodies: \(fmt(dispatch * 1e6, 2)) µs per call; "
            + "calls below \(Kernels.defaultThreshold) multiply-adds run on the calling thread.\n"
        return table.render() + adamLine + poolLine
    }
}
