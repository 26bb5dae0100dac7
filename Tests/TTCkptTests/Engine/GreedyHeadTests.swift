import Testing
@testable import TTCore
@testable import TTEngine

/// `Model.decodeGreedy` (the head read through its half-precision screen) against
/// `Model.argmax` of the full logits that `decode` computes.
@Suite struct GreedyHeadTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var config: ModelConfig
        var threads: Int
        var testDescription: String { "\(config.arch) V\(config.vocabSize) D\(config.dModel) threads \(threads)" }
    }

    // V 1003: 63 panels, the last one partial; T 40 crosses attentionGemmMinimum, whose
    // decode reruns the sequence and so computes the head in full.
    static let cases: [Case] = Architecture.allCases.flatMap { arch in
        [1, 3].map { Case(config: ModelConfig(arch: arch, vocabSize: 1003, dModel: 24, nHeads: 3, dFF: 40, nLayers: 2,
                                              context: 40), threads: $0) }
    }

    /// Two models with the same weights, one decoding greedily through the screen, the
    /// other through `decode` and the argmax of its logits; each follows its own choices.
    /// Returns the two sequences of choices and the candidates of each screened step.
    static func decodeBoth(_ screened: Model, _ full: Model, prompt: [Int32], steps: Int) -> ([Int], [Int], [Int]) {
        screened.prepareDecoding(greedy: true)
        full.prepareDecoding()
        var a = [Model.argmax(screened.prefill(prompt))], b = [Model.argmax(full.prefill(prompt))]
        var candidates: [Int] = []
        for _ in 0..<steps {
            a.append(screened.decodeGreedy(Int32(a.last!)))
            candidates.append(screened.lastScreenCandidates)
            b.append(Model.argmax(full.decode(Int32(b.last!))))
        }
        return (a, b, candidates)
    }

    static func twins(_ c: Case, seed: UInt64) -> (Model, Model) {
        let screened = Model(config: c.config), full = Model(config: c.config)
        for m in [screened, full] {
            m.threadCount = c.threads
            if c.threads > 1 { m.parallelThreshold = 0 }
        }
        var rng = PythonRandom(seed: seed)
        screened.initializeWeights(rng: &rng)
        EngineFixtures.randomizeParameters(screened, &rng)
        _ = full.parameters.update(from: screened.parameters)
        return (screened, full)
    }

    /// The same ids at every step, the screen deciding every step but the one that reruns
    /// the sequence, with far fewer rows computed exactly than V.
    @Test(arguments: cases)
    func screenedArgmaxIsTheFullArgmax(_ c: Case) {
        let (screened, full) = Self.twins(c, seed: 3)
        let (a, b, candidates) = Self.decodeBoth(screened, full, prompt: [5, 900, 17], steps: 36)
        #expect(a == b)
        // Step k decodes position 3 + k; position 15 (t + 1 == attentionGemmMinimum) reran.
        let rerun = attentionGemmMinimum - 1 - 3
        #expect(candidates[rerun] == 0)
        let others = candidates.enumerated().filter { $0.offset != rerun }.map(\.element)
        #expect(others.allSatisfy { $0 >= 1 && $0 < c.config.vocabSize / 4 }, "candidates: \(others)")
    }

    /// Exact ties: with the head's rows equal in pairs (2k + 1 a copy of 2k), every logit
    /// is there twice and the lowest id must win; with all rows equal, every row is a
    /// candidate and the answer is 0.
    @Test(arguments: [false, true])
    func tiesGoToTheLowestID(allEqual: Bool) {
        let c = Case(config: ModelConfig(arch: .gpt, vocabSize: 301, dModel: 16, nHeads: 2, dFF: 32, nLayers: 1,
                                         context: 12), threads: 1)
        let (screened, full) = Self.twins(c, seed: 8)
        for m in [screened, full] {
            let head = m.view(m.parameters, m.layout.slot(named: "lm_head")!)
            let C = c.config.dModel
            for row in 1..<c.config.vocabSize {
                let source = allEqual ? 0 : row & ~1
                for i in 0..<C { head[row * C + i] = head[source * C + i] }
            }
        }
        let (a, b, candidates) = Self.decodeBoth(screened, full, prompt: [1, 2], steps: 8)
        #expect(a == b)
        if allEqual {
            #expect(a.dropFirst().allSatisfy { $0 == 0 })
            #expect(candidates.allSatisfy { $0 == c.config.vocabSize })
        } else {
            #expect(a.allSatisfy { $0 % 2 == 0 })
            #expect(candidates.allSatisfy { $0 >= 2 })
        }
    }

    /// The bound at work: rows 5 and 9 whose half copies rank them the other way round.
    /// With ln_f's gain 0 the head's input is its bias, here (1, 1, 0, …), so logit j is
    /// w_j0 + w_j1. Row 5 = (1 + 0.49·2⁻¹⁰, 1 + 0.49·2⁻¹⁰) rounds to (1, 1) in binary16;
    /// row 9 = (1 + 0.51·2⁻¹⁰, 1) rounds to (1 + 2⁻¹⁰, 1). So the screen puts 9 first, 5
    /// must stay a candidate, and the exact logits pick 5 (every other row is 0).
    @Test func aRowTheHalfCopyRanksLowerStillWins() {
        let c = Case(config: ModelConfig(arch: .gpt, vocabSize: 40, dModel: 16, nHeads: 2, dFF: 32, nLayers: 1,
                                         context: 12), threads: 1)
        let (screened, full) = Self.twins(c, seed: 12)
        let u = Float(1) / 1024
        for m in [screened, full] {
            let head = m.view(m.parameters, m.layout.slot(named: "lm_head")!)
            head.update(repeating: 0)
            head[5 * 16] = 1 + 0.49 * u; head[5 * 16 + 1] = 1 + 0.49 * u
            head[9 * 16] = 1 + 0.51 * u; head[9 * 16 + 1] = 1
            m.view(m.parameters, m.layout.slot(named: "ln_f.gamma")!).update(repeating: 0)
            let beta = m.view(m.parameters, m.layout.slot(named: "ln_f.beta")!)
            beta.update(repeating: 0)
            beta[0] = 1; beta[1] = 1
        }
        #expect(Float16(1 + 0.49 * u) == 1 && Float16(1 + 0.51 * u) == Float16(1 + u))
        let (a, b, candidates) = Self.decodeBoth(screened, full, prompt: [1, 2], steps: 5)
        #expect(a == b)
        #expect(a.allSatisfy { $0 == 5 })
        #expect(candidates.allSatisfy { $0 == 2 }, "candidates: \(candidates)")
    }

    /// A head weight beyond binary16's range leaves its row's radius infinite: the screen
    /// does not decide and the full head runs; the ids are the same.
    @Test func aWeightOutOfHalfRangeFallsBackToTheFullHead() {
        let c = Case(config: ModelConfig(arch: .gpt, vocabSize: 200, dModel: 16, nHeads: 2, dFF: 32, nLayers: 1,
                                         context: 12), threads: 1)
        let (screened, full) = Self.twins(c, seed: 9)
        for m in [screened, full] { m.view(m.parameters, m.layout.slot(named: "lm_head")!)[77 * 16 + 3] = 70_000 }
        let (a, b, candidates) = Self.decodeBoth(screened, full, prompt: [1, 2], steps: 6)
        #expect(a == b)
        #expect(candidates.allSatisfy { $0 == 0 })
    }

    /// The screen is a copy of the head: a prefill after the weights changed rebuilds it.
    @Test func screenFollowsNewWeights() {
        let c = Case(config: ModelConfig(arch: .gpt2, vocabSize: 500, dModel: 16, nHeads: 2, dFF: 32, nLayers: 1,
                                         context: 12), threads: 1)
        let (screened, full) = Self.twins(c, seed: 10)
        _ = Self.decodeBoth(screened, full, prompt: [1, 2], steps: 3)
        var rng = PythonRandom(seed: 99)
        EngineFixtures.randomizeParameters(screened, &rng)
        _ = full.parameters.update(from: screened.parameters)
        let (a, b, candidates) = Self.decodeBoth(screened, full, prompt: [1, 2], steps: 6)
        #expect(a == b)
        #expect(candidates.allSatisfy { $0 >= 1 })
    }
}
