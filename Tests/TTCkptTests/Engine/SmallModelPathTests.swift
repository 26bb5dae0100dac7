import Testing
@testable import TTCore
@testable import TTEngine

/// The single-threaded fused step for small models (`SmallModelPath`, `cktiny.c`) must give
/// the same bits as the general path: the same model trained on the same batches, once on
/// the small path (one thread) and once on the general threaded path (two threads,
/// threshold 0 so every op is split), must agree on every loss, norm, logit, gradient,
/// parameter and moment. The configs cover both architectures, D not a multiple of 8, a
/// vocabulary wider than one register tile, several layers, B > 1 and S < T, PAD targets,
/// clipping or none (the fused update and norm) and the decay exemption.
@Suite struct SmallModelPathTests {
    struct Run: Equatable {
        var losses: [UInt32] = []
        var norms: [UInt32] = []
        var logits: [UInt32] = []
        var gradients: [UInt32] = []
        var parameters: [UInt32] = []
        var m: [UInt32] = []
        var v: [UInt32] = []
    }

    static func train(_ config: ModelConfig, batchSize: Int, seqLen: Int, small: Bool, clip: Double, steps: Int = 4,
                      firstStep: Int = 1) -> (Run, [Bool]) {
        let model = Model(config: config, maxBatchSize: batchSize)
        if !small {
            model.threadCount = 2
            model.parallelThreshold = 0
        } else {
            model.threadCount = 1
        }
        var rng = PythonRandom(seed: 11)
        model.initializeWeights(rng: &rng)
        EngineFixtures.randomizeParameters(model, &rng)
        var optimizer = AdamWConfig()
        optimizer.gradClip = clip
        optimizer.exemptNormAndBias = true
        var run = Run()
        var taken: [Bool] = []
        for step in 1...steps {
            let batch = EngineFixtures.randomBatch(&rng, config: config, batchSize: batchSize, seqLen: seqLen)
            taken.append(model.smallPath?.handles(batchSize: batchSize, seqLen: seqLen, kernels: model.kernels) ?? false)
            let loss = model.forward(batch)
            for b in 0..<batchSize {
                for t in 0..<seqLen { run.logits += model.logits(batch: b, position: t).map(\.bitPattern) }
            }
            model.backward()
            run.gradients += model.gradients.map(\.bitPattern)
            let (_, norm) = model.applyAdamW(optimizer, step: firstStep - 1 + step)
            run.losses.append(loss.bitPattern)
            run.norms.append(norm.bitPattern)
        }
        run.parameters = model.parameters.map(\.bitPattern)
        run.m = model.adamM.map(\.bitPattern)
        run.v = model.adamV.map(\.bitPattern)
        return (run, taken)
    }

    static let cases: [(ModelConfig, Int, Int)] = [
        (.tutorial, 1, 5),
        (ModelConfig(arch: .tutorial, vocabSize: 19, dModel: 12, nHeads: 3, dFF: 20, nLayers: 2, context: 7), 3, 4),
        (ModelConfig(arch: .gpt, vocabSize: 9, dModel: 16, nHeads: 2, dFF: 24, nLayers: 2, context: 8), 4, 8),
        (ModelConfig(arch: .gpt, vocabSize: 37, dModel: 20, nHeads: 4, dFF: 44, nLayers: 1, context: 15), 2, 15),
    ]

    /// Clip 0: the update and the norm run fused (`ck_adamw_update_sum_of_squares`); clip
    /// 0.7: the norm first, then the scaled update (the general kernels).
    @Test(arguments: 0..<4, [0.0, 0.7])
    func sameBitsAsTheGeneralPath(_ index: Int, _ clip: Double) throws {
        let (config, b, s) = Self.cases[index]
        guard Kernels.avx2Available else {
            // The path mirrors the AVX2 kernels only; without them the model never takes it.
            #expect(Model(config: config, maxBatchSize: b).smallPath == nil)
            return
        }
        let (fast, tookSmall) = Self.train(config, batchSize: b, seqLen: s, small: true, clip: clip)
        let (general, tookGeneral) = Self.train(config, batchSize: b, seqLen: s, small: false, clip: clip)
        #expect(tookSmall.allSatisfy { $0 }, "the small run took the small path")
        #expect(!tookGeneral.contains(true), "the threshold-0 run took the general path")
        #expect(fast.losses == general.losses)
        #expect(fast.norms == general.norms)
        #expect(fast.logits == general.logits)
        #expect(fast.gradients == general.gradients)
        #expect(fast.parameters == general.parameters)
        #expect(fast.m == general.m)
        #expect(fast.v == general.v)
        // Not trivially equal: training moved the parameters.
        let (oneStep, _) = Self.train(config, batchSize: b, seqLen: s, small: true, clip: clip, steps: 1)
        #expect(oneStep.parameters != fast.parameters)
    }

    /// Late in training both bias corrections are 1 and the vector update skips their
    /// divisions; the fused update's scalar elements (where its no-decay segments leave
    /// fewer than 8) still divide, at other places than the general path's.
    @Test(arguments: 0..<4)
    func sameBitsLateInTraining(_ index: Int) {
        let (config, b, s) = Self.cases[index]
        guard Kernels.avx2Available else { return }
        let (fast, _) = Self.train(config, batchSize: b, seqLen: s, small: true, clip: 0, firstStep: 20_001)
        let (general, _) = Self.train(config, batchSize: b, seqLen: s, small: false, clip: 0, firstStep: 20_001)
        #expect(fast == general)
    }

    @Test func selectedByShapeOnly() {
        guard Kernels.avx2Available else { return }
        let model = Model(config: .tutorial, maxBatchSize: 1)
        #expect(model.smallPath != nil)
        // Any thread count: the tutorial's ops are all under the default threshold.
        for threads in [1, 2, 3] {
            model.threadCount = threads
            #expect(model.smallPath!.handles(batchSize: 1, seqLen: 5, kernels: model.kernels))
        }
        // A context of 16 or more (the GEMM attention) never takes it.
        let long = ModelConfig(arch: .gpt, vocabSize: 9, dModel: 16, nHeads: 2, dFF: 24, nLayers: 1, context: 16)
        #expect(Model(config: long, maxBatchSize: 1).smallPath == nil)
        // The portable kernels round differently: the path is not taken for them.
        model.kernels.implementation = .portable
        #expect(!model.smallPath!.handles(batchSize: 1, seqLen: 5, kernels: model.kernels))
    }
}
