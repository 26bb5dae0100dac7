import Testing
@testable import TTCore

/// Issue 11 #1 and #2: the finite-value check every model user makes, and hyperparameters
/// checked as the float32 the engine computes with.
@Suite struct FiniteValuesTests {
    @Test func firstNonFiniteFindsNaNAndInfinities() {
        func first(_ v: [Float]) -> Int? { v.withUnsafeBufferPointer { FiniteValues.firstNonFinite($0) } }
        #expect(first([]) == nil)
        #expect(first([0, -0, 1, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude]) == nil)
        #expect(first([1, 2, .nan, .infinity]) == 2)
        #expect(first([1, -.infinity]) == 1)
        #expect(first([Float](repeating: 1, count: 1000) + [.infinity]) == 1000)
        #expect(first([Float(bitPattern: 0x7FC0_0001)]) == 0)  // a NaN with a payload
    }

    @Test func requireNamesTheTensorAndCounts() {
        let values: [Float] = [1, .nan, 3, .infinity]
        #expect {
            try values.withUnsafeBufferPointer { try FiniteValues.require($0, tensor: "tok_emb", source: "m.ttc") }
        } throws: { error in
            (error as? InputError)?.description
                == "m.ttc: tensor 'tok_emb' holds 2 non-finite values (first: nan at index 1); the model diverged and cannot be used: go back to an earlier checkpoint"
        }
        let moments = [NamedTensor(name: "adam_m.x", role: .adamM, shape: [1], values: [.nan])]
        #expect(throws: Never.self) { try FiniteValues.requireFiniteParameters(moments, source: "m.ttc") }
    }

    @Test func hyperparametersAreCheckedAsFloat32() {
        func field(_ change: (inout AdamWConfig) -> Void) -> (String, String)? {
            var o = AdamWConfig()
            change(&o)
            do { try o.validate(); return nil } catch let e as ConfigError { return (e.field, e.message) } catch { return ("?", "\(error)") }
        }
        #expect(field { _ in } == nil)
        // 1e-46 passes (0, 1) in f64 but is 0 in float32: 0/0 at the first update.
        #expect(field { $0.epsilon = 1e-46 }! == ("epsilon", "1e-46 is 0 in float32 (the engine's type); must be at least 1.1754944e-38"))
        #expect(field { $0.epsilon = 1e-40 }! == ("epsilon", "1e-40 is subnormal in float32 (the engine's type); must be at least 1.1754944e-38"))
        #expect(field { $0.epsilon = 1.2e-38 } == nil)
        #expect(field { $0.learningRate = 1e-50 }!.0 == "lr")
        #expect(field { $0.learningRate = 1e-30 } == nil)
        #expect(field { $0.beta2 = 0.9999999999999999 } == nil)  // 1 − β2 = 1.1e-16: a normal float32
    }
}
