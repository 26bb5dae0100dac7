import Testing
@testable import TTCore
@testable import TTEngine

/// Results must not depend on the thread count: every op splits its work by output
/// element and fixes each element's arithmetic by the shapes alone. These tests train
/// the same model with 1, 2 and 3 threads and compare every buffer bit for bit. With
/// `parallelThreshold = 0` even these small shapes take the threaded paths (and the
/// chunk boundaries land at different places for 2 and 3 threads).
@Suite struct ModelThreadingTests {
    struct Run {
        var parameters: [UInt32]
        var m: [UInt32]
        var v: [UInt32]
        var losses: [UInt32]
        var norms: [UInt32]
    }

    static func train(_ config: ModelConfig, batchSize: Int, seqLen: Int, steps: Int,
                      threads: Int, threshold: Int?) -> Run {
        let model = Model(config: config, maxBatchSize: batchSize)
        model.threadCount = threads
        if let threshold { model.parallelThreshold = threshold }
        var rng = PythonRandom(seed: 7)
        model.initializeWeights(rng: &rng)
        var optimizer = AdamWConfig()
        optimizer.gradClip = 0.5   // exercise the clipped path too
        var losses: [UInt32] = [], norms: [UInt32] = []
        for step in 1...steps {
            let batch = EngineFixtures.randomBatch(&rng, config: config, batchSize: batchSize, seqLen: seqLen)
            let r = model.trainStep(batch, optimizer: optimizer, step: step)
            losses.append(r.loss.bitPattern)
            norms.append(r.gradNorm.bitPattern)
        }
        return Run(parameters: model.parameters.map(\.bitPattern), m: model.adamM.map(\.bitPattern),
                   v: model.adamV.map(\.bitPattern), losses: losses, norms: norms)
    }

    static let configs: [(ModelConfig, Int, Int)] = [
        // tutorial arch, T ≥ 16 (GEMM attention), D not a multiple of 8
        (ModelConfig(arch: .tutorial, vocabSize: 7, dModel: 12, nHeads: 3, dFF: 40, nLayers: 2, context: 20), 3, 20),
        // gpt arch, two attention row blocks, more than one grad-norm block
        (ModelConfig(arch: .gpt, vocabSize: 11, dModel: 32, nHeads: 4, dFF: 64, nLayers: 2, context: 40), 2, 37),
        // short sequences: the loop attention
        (ModelConfig(arch: .gpt, vocabSize: 9, dModel: 16, nHeads: 2, dFF: 24, nLayers: 1, context: 8), 4, 8),
        // gpt2 arch (fused QKV with bias, tied head), two attention row blocks
        (ModelConfig(arch: .gpt2, vocabSize: 11, dModel: 32, nHeads: 4, dFF: 64, nLayers: 2, context: 40), 2, 37),
        // gpt2, short sequences
        (ModelConfig(arch: .gpt2, vocabSize: 9, dModel: 16, nHeads: 2, dFF: 24, nLayers: 1, context: 8), 4, 8),
    ]

    @Test(arguments: 0..<5)
    func bitIdenticalForOneTwoAndThreeThreads(_ index: Int) {
        let (config, b, s) = Self.configs[index]
        let one = Self.train(config, batchSize: b, seqLen: s, steps: 4, threads: 1, threshold: nil)
        for (threads, threshold) in [(2, 0), (3, 0), (2, Kernels.defaultThreshold)] {
            let other = Self.train(config, batchSize: b, seqLen: s, steps: 4, threads: threads, threshold: threshold)
            #expect(other.losses == one.losses, "losses, \(threads) threads, threshold \(threshold)")
            #expect(other.norms == one.norms, "grad norms, \(threads) threads, threshold \(threshold)")
            #expect(other.parameters == one.parameters, "parameters, \(threads) threads, threshold \(threshold)")
            #expect(other.m == one.m, "adam m, \(threads) threads, threshold \(threshold)")
            #expect(other.v == one.v, "adam v, \(threads) threads, threshold \(threshold)")
        }
        // The run is not trivially constant: the parameters moved.
        let fresh = Self.train(config, batchSize: b, seqLen: s, steps: 1, threads: 1, threshold: nil)
        #expect(fresh.parameters != one.parameters)
    }
}
