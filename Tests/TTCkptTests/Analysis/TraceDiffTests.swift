import Foundation
import Testing
@testable import TTAnalysis
@testable import TTCore
@testable import TTEngine
@testable import TTFormat
@testable import TTInterop
@testable import TTTraining

/// `TraceDiff` and its hints on constructed submissions: the tutorial model's trace at step
/// 0 against safetensors files built from it (exact, scaled, transposed, with the series'
/// GELU′) and from the independent Double reference (a correct float64 submission).
@Suite struct TraceDiffTests {
    static let dir: URL = {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("trace-diff-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }()

    /// The tutorial seed-42 trace, written as .ttc.
    static func trace() throws -> (Checkpoint, String) {
        let initial = try TrainingSession.initialCheckpoint(config: .tutorial, vocabulary: .tutorial, seed: 42,
                                                            data: TrainingData.tutorial().identity)
        let s = try TrainingSession(checkpoint: initial, maxBatchSize: 1, source: "t")
        let trace = StepTracer.trace(session: s, batch: StepTracer.nextBatch(session: s, data: .tutorial()))
        let path = dir.appendingPathComponent("trace-\(UUID().uuidString).ttc").path
        try CheckpointWriter.write(trace, to: path)
        return (trace, path)
    }

    /// Writes `tensors` (name → (shape, values)) as safetensors.
    static func mine(_ tensors: [(String, [Int], [Float])]) throws -> String {
        let path = dir.appendingPathComponent("mine-\(UUID().uuidString).safetensors").path
        try SafetensorsWriter.write(tensors.map { SafetensorsTensor(name: $0.0, shape: $0.1, values: $0.2) }, metadata: nil, to: path)
        return path
    }

    static func diff(_ mine: String, _ trace: String) throws -> TraceDiff {
        try TraceDiff.compare(try NamedTensorFile.open(mine), trace: try NamedTensorFile.open(trace), tolerance: TraceDiff.defaultTolerance)
    }

    /// The trace's gradient tensors (activation and parameter), as a learner would save them:
    /// without the batch dimension of size 1.
    static func gradients(_ trace: Checkpoint) -> [(String, [Int], [Float])] {
        trace.tensors.filter { $0.role == .activationGrad || $0.role == .gradient }
            .map { ($0.name, $0.shape.first == 1 ? Array($0.shape.dropFirst()) : $0.shape, $0.values) }
    }

    @Test func exactCopyIsEqualWithoutHints() throws {
        let (trace, path) = try Self.trace()
        let d = try Self.diff(try Self.mine(Self.gradients(trace)), path)
        #expect(d.isEqual)
        #expect(d.compared == Self.gradients(trace).count)
        #expect(d.rows.allSatisfy { $0.hint == nil })
    }

    /// A correct submission computed independently in Double (the reference model, the
    /// learner's float64 numpy in effect) is equal within the default tolerance, no hints.
    @Test func correctDoubleSubmissionIsEqualWithoutHints() throws {
        let (trace, path) = try Self.trace()
        let model = Model(config: .tutorial)
        var rng = PythonRandom(seed: 42)
        model.initializeWeights(rng: &rng)
        let reference = ReferenceModel(copying: model)
        let out = reference.trace(tokens: [[1, 3, 4, 5, 2]], targets: [[3, 4, 5, 2, -1]])
        var tensors: [(String, [Int], [Float])] = []
        for e in trace.tensors where e.role == .activation || e.role == .activationGrad || e.role == .gradient {
            guard let v = e.role == .gradient ? out.paramGrads[e.name] : e.role == .activation ? out.acts[e.name] : out.grads[e.name] else { continue }
            tensors.append((e.name, e.shape, v.map { Float($0) }))
        }
        #expect(tensors.count == 48)   // every act.*, grad.* and parameter gradient of the tutorial trace
        let d = try Self.diff(try Self.mine(tensors), path)
        for r in d.rows where r.status != .equal { Issue.record("\(r.name): \(r.status) rel \(r.relativeDifference) \(r.hint ?? "")") }
        #expect(d.isEqual)
        #expect(d.rows.allSatisfy { $0.hint == nil })
    }

    /// The summed loss: every gradient 4× (N = 4 targets). The first different row is
    /// grad.logits and it names the mistake.
    @Test func summedLossIsRecognised() throws {
        let (trace, path) = try Self.trace()
        let scaled = Self.gradients(trace).map { ($0.0, $0.1, $0.2.map { $0 * 4 }) }
        let d = try Self.diff(try Self.mine(scaled), path)
        #expect(!d.isEqual)
        let first = try #require(d.firstDifference)
        #expect(first.name == "grad.logits")
        #expect(first.hint?.hasPrefix("4.000×: the summed loss instead of the mean") == true, "\(first.hint ?? "nil")")
        // Every gradient that is not zero is 4×.
        #expect(d.rows.filter { $0.status == .different }.allSatisfy { $0.hint?.hasPrefix("4.000×") == true })
        // A constant other than N is named as a factor.
        let d2 = try Self.diff(try Self.mine(Self.gradients(trace).map { ($0.0, $0.1, $0.2.map { $0 * 0.5 }) }), path)
        #expect(d2.firstDifference?.hint == "0.500× the reference")
    }

    /// A square gradient stored transposed (same shape) and a rectangular one stored
    /// transposed (shape swapped) are both named.
    @Test func transposesAreRecognised() throws {
        let (trace, path) = try Self.trace()
        var tensors = Self.gradients(trace)
        func transpose(_ v: [Float], _ r: Int, _ c: Int) -> [Float] {
            var out = v
            for i in 0..<r { for j in 0..<c { out[j * r + i] = v[i * c + j] } }
            return out
        }
        for i in tensors.indices {
            if tensors[i].0 == "layers.0.attn.wo" { tensors[i].2 = transpose(tensors[i].2, 16, 16) }
            if tensors[i].0 == "layers.0.ffn.w1" { tensors[i] = (tensors[i].0, [16, 64], transpose(tensors[i].2, 64, 16)) }
        }
        let d = try Self.diff(try Self.mine(tensors), path)
        let wo = try #require(d.rows.first { $0.name == "layers.0.attn.wo" })
        #expect(wo.status == .different)
        #expect(wo.hint?.hasPrefix("transposed") == true, "\(wo.hint ?? "nil")")
        let w1 = try #require(d.rows.first { $0.name == "layers.0.ffn.w1" })
        #expect(w1.status == .shapeMismatch)
        #expect(w1.hint?.hasPrefix("transposed") == true, "\(w1.hint ?? "nil")")
        #expect(d.rows.filter { $0.status != .equal }.count == 2)
    }

    /// The series' GELU′ (tanh CDF + erf PDF): dz = da·g(z), then dW1, db1 and everything
    /// below follow. Built here in Double from the trace's own da and z, propagated by the
    /// Double reference's formulas for the tensors below; the first different row is the
    /// GELU′ stage and is named, the rows after it are marked as following from it.
    @Test func seriesGELUDerivativeIsRecognised() throws {
        let (trace, path) = try Self.trace()
        let model = Model(config: .tutorial)
        var rng = PythonRandom(seed: 42)
        model.initializeWeights(rng: &rng)
        let reference = ReferenceModel(copying: model)
        reference.geluPrimeOverride = TraceHints.seriesGELUPrime
        let out = reference.trace(tokens: [[1, 3, 4, 5, 2]], targets: [[3, 4, 5, 2, -1]])
        var tensors: [(String, [Int], [Float])] = []
        for e in trace.tensors where e.role == .activationGrad || e.role == .gradient {
            let v = try #require(e.role == .gradient ? out.paramGrads[e.name] : out.grads[e.name])
            tensors.append((e.name, e.shape, v.map { Float($0) }))
        }
        let d = try Self.diff(try Self.mine(tensors), path)
        let first = try #require(d.firstDifference)
        #expect(first.name == "grad.layers.0.ffn.pre")
        #expect(first.hint?.hasPrefix("GELU′") == true, "\(first.hint ?? "nil")")
        let b1 = try #require(d.rows.first { $0.name == "layers.0.ffn.b1" })
        #expect(b1.status == .different)
        #expect(b1.hint?.hasPrefix("GELU′") == true, "\(b1.hint ?? "nil")")
        // dW1's elements (~1e-4) move by less than atol 1e-7 here; without atol it differs
        // and the dz·input counterfactual names it.
        let strict = try TraceDiff.compare(try NamedTensorFile.open(try Self.mine(tensors)), trace: try NamedTensorFile.open(path),
                                           tolerance: Tolerance(absolute: 0, relative: 1e-5))
        let w1 = try #require(strict.rows.first { $0.name == "layers.0.ffn.w1" })
        #expect(w1.status == .different)
        #expect(w1.hint?.hasPrefix("GELU′") == true, "\(w1.hint ?? "nil")")
        let attnOut = try #require(d.rows.first { $0.name == "grad.layers.0.attn.out" })
        #expect(attnOut.status == .different)
        #expect(attnOut.hint == "follows from the GELU′ difference at grad.layers.0.ffn.pre")
        // Every differing row after it is explained one way or the other.
        for r in d.rows where r.status == .different {
            #expect(r.hint?.hasPrefix("GELU′") == true || r.hint == "follows from the GELU′ difference at grad.layers.0.ffn.pre", "\(r.name)")
        }
        // Before the GELU′ stage everything is equal.
        let index = try #require(d.rows.firstIndex { $0.name == "grad.layers.0.ffn.pre" })
        #expect(d.rows[..<index].allSatisfy { $0.status == .equal })
    }

    /// The series' derivative differs from the true one by at most about 8.3e-4, near
    /// x ≈ −1.94 (README "GELU derivative"); checked on a grid of 0.001.
    @Test func seriesGELUPrimeDiffersAsDocumented() {
        let c = (2 / Double.pi).squareRoot()
        var worst = 0.0, at = 0.0
        for i in -6000...6000 {
            let x = Double(i) * 0.001
            let u = c * (x + 0.044715 * x * x * x), th = tanh(u)
            let truth = 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * c * (1 + 3 * 0.044715 * x * x)
            let d = abs(TraceHints.seriesGELUPrime(x) - truth)
            if d > worst { worst = d; at = x }
        }
        #expect(worst > 8.0e-4 && worst < 8.6e-4, "max \(worst)")
        #expect(abs(at + 1.94) < 0.05, "at \(at)")
    }
}
