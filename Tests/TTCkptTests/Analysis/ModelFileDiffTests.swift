import Foundation
import Testing
@testable import TTAnalysis
@testable import TTCore
@testable import TTFormat
@testable import TTInterop

private typealias M = ModelFixtures

/// Streaming stats and diff over model files of every format: determinism whatever the
/// thread count or read split, the merge's stability, one-sided tensors, name mapping with
/// transposes, and cross-format comparisons.
@Suite struct ModelFileDiffTests {
    /// `values` through one StatsAccumulator in runs of `size` (a multiple of the block
    /// size, as reads always are).
    func runs(_ values: [Double], size: Int) -> TensorStats {
        var acc = StatsAccumulator()
        var i = 0
        while i < values.count {
            let n = min(size, values.count - i)
            values[i..<(i + n)].withUnsafeBufferPointer { acc.add(.double($0)) }
            i += n
        }
        return acc.finish()
    }

    @Test func sameBitsWhateverTheReadSize() {
        // Blocks are counted from the first element, so runs of any multiple of the block
        // size give the same blocks in the same order: the same bits.
        var g = PythonRandom(seed: 7)
        let values = (0..<10_000).map { _ in (g.random() * 2 - 1) * 1e3 + 5e6 }
        let reference = runs(values, size: values.count)
        for size in [1024, 2048, 4096, 8192] {
            let s = runs(values, size: size)
            #expect(s.mean!.bitPattern == reference.mean!.bitPattern && s.std!.bitPattern == reference.std!.bitPattern, "runs of \(size)")
            #expect(s.l2Norm.bitPattern == reference.l2Norm.bitPattern)
        }
    }

    @Test func stableWhereTheNaiveFormulaCancels() {
        // 1e9 + {0, 1, 2, 3} repeated: mean 1e9 + 1.5, population std √1.25. The naive
        // E[x²] − E[x]² loses every digit here (x² ≈ 1e18, whose ulp is 128).
        let values = (0..<40_000).map { 1e9 + Double($0 % 4) }
        let s = runs(values, size: 4096)
        #expect(s.mean == 1e9 + 1.5)
        // Exact data, exact block means; the merge adds rounding of ~1e-16 relative to 1e9.
        #expect(abs(s.std! - 1.25.squareRoot()) < 1e-9)
    }

    @Test func nonFiniteCountedApart() {
        let s = runs([1, .nan, .infinity, -.infinity, 3, 0, -0.0], size: 1024)
        #expect(s.count == 7 && s.nanCount == 1 && s.positiveInfCount == 1 && s.negativeInfCount == 1)
        #expect(s.finiteCount == 4 && s.zeroCount == 2 && s.min == 0 && s.max == 3 && s.mean == 1)
        #expect(!s.valuesAreFloat)
        let none = runs([.nan], size: 1024)
        #expect(none.min == nil && none.mean == nil && none.std == nil && none.finiteCount == 0)
    }

    /// The vectorized block path (no NaN/Inf) against the one-value-at-a-time path on the
    /// same Float values: counts, min and max exactly; sums differ only in the order of
    /// additions (8 lanes), so the mean and std agree to a few ulps (1e-13 relative).
    @Test func vectorizedBlocksAgreeWithScalar() {
        var g = PythonRandom(seed: 3)
        let values = (0..<5000).map { i in i % 97 == 0 ? Float(0) : Float(g.gauss(mu: 0.5, sigma: 2)) }
        let fast = TensorStats(values)
        let slow = runs(values.map(Double.init), size: 1024)
        #expect(fast.count == slow.count && fast.zeroCount == slow.zeroCount && fast.min == slow.min && fast.max == slow.max)
        #expect(abs(fast.mean! - slow.mean!) <= 1e-13 * abs(slow.mean!))
        #expect(abs(fast.std! - slow.std!) <= 1e-13 * slow.std!)
        #expect(fast.valuesAreFloat)
    }

    /// The vectorized Float-pair block against the value-by-value path on the same values
    /// widened to Double (blocks cut the same way): counts, max |a−b| and its index exactly;
    /// the sums differ only in the order of additions (8 lanes), so they agree to 1e-13
    /// relative. 3000 values: two full blocks and a tail of 952, with a shared NaN in one
    /// block (that block goes value by value on both sides).
    @Test func vectorizedComparisonAgreesWithScalar() {
        var g = PythonRandom(seed: 5)
        var a = (0..<3000).map { _ in Float(g.gauss(mu: 0, sigma: 1)) }
        var b = a.map { $0 + Float(g.gauss(mu: 0, sigma: 1e-3)) }
        b[17] = a[17]; b[2999] = -a[2999]
        a[1500] = .nan; b[1500] = .nan
        let tolerance = Tolerance(absolute: 1e-3, relative: 1e-3)
        let fast = TensorComparison(a, b, tolerance: tolerance)
        var acc = ComparisonAccumulator(tolerance: tolerance)
        let da = a.map(Double.init), db = b.map(Double.init)
        da.withUnsafeBufferPointer { pa in db.withUnsafeBufferPointer { pb in acc.add(.double(pa), .double(pb)) } }
        let slow = acc.finish()
        #expect(fast.count == slow.count && fast.outsideTolerance == slow.outsideTolerance && fast.nonFiniteCount == 1)
        #expect(fast.bitDifferences == slow.bitDifferences && fast.bitDifferences == 2998)
        #expect(fast.maxAbsDifference == slow.maxAbsDifference && fast.maxAbsDifferenceIndex == slow.maxAbsDifferenceIndex)
        #expect(fast.maxAbsDifferenceIndex == 2999 && fast.firstOutsideIndex == slow.firstOutsideIndex)
        for (x, y) in [(fast.rmsDifference, slow.rmsDifference), (fast.meanAbsDifference, slow.meanAbsDifference),
                       (fast.referenceNorm, slow.referenceNorm), (fast.cosineSimilarity!, slow.cosineSimilarity!)] {
            #expect(abs(x - y) <= 1e-13 * abs(y), "\(x) vs \(y)")
        }
    }

    /// A safetensors file of one F32 tensor of `count` values i·0.25 − 1000 (exact), with
    /// element `changed` (if any) set to `value`.
    func bigFile(_ dir: String, _ name: String, count: Int, changed: Int? = nil, value: Float = 0) -> String {
        var values = (0..<count).map { Float($0 % 8000) * 0.25 - 1000 }
        if let changed { values[changed] = value }
        let header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[\(count)],\"data_offsets\":[0,\(4 * count)]}}"
        let path = dir + "/" + name
        M.write(M.safetensorsBytes(header, data: values.withUnsafeBytes { Array($0) }), to: path)  // little-endian host
        return path
    }

    @Test func parallelResultsDoNotDependOnThreads() throws {
        // Chunks of 4096 (the unit of work and of merging; 2^20 in use) and 2.5 chunks per
        // tensor: three work items each for the raw formats, merged in order.
        let dir = M.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let chunk = 4096, n = chunk * 5 / 2
        let a = try ModelFileOpener.open(path: bigFile(dir, "a.safetensors", count: n))
        let b = try ModelFileOpener.open(path: bigFile(dir, "b.safetensors", count: n, changed: n - 3, value: 7))
        let one = try TensorScan.stats(a, tensors: ["w"], threads: 1, chunkSize: chunk)[0].get()
        for threads in [2, 3, 8] {
            let s = try TensorScan.stats(a, tensors: ["w"], threads: threads, chunkSize: chunk)[0].get()
            #expect(s == one && s.mean!.bitPattern == one.mean!.bitPattern, "\(threads) threads")
        }
        // The same values in memory, cut the same way: the same bits.
        guard case let .float(v) = try a.values(of: "w") else { Issue.record("values"); return }
        var acc = StatsAccumulator()
        v.withUnsafeBufferPointer { acc.addChunked($0, chunkSize: chunk) }
        #expect(acc.finish() == one)
        let pair = [TensorScan.Pair(a: "w", b: "w")]
        let d1 = try TensorScan.compare(a, b, pairs: pair, tolerance: .exact, threads: 1, chunkSize: chunk)[0].get()
        let d2 = try TensorScan.compare(a, b, pairs: pair, tolerance: .exact, threads: 3, chunkSize: chunk)[0].get()
        #expect(d1 == d2)
        // The one changed element, in the last chunk: found at its flat index.
        #expect(d1.outsideTolerance == 1 && d1.maxAbsDifferenceIndex == n - 3 && d1.firstOutsideIndex == n - 3)
        let old = Double(Float((n - 3) % 8000) * 0.25 - 1000)
        #expect(d1.maxAbsDifference == abs(old - 7))
        // With the default chunk (one chunk here) too.
        #expect(try TensorScan.stats(a, tensors: ["w"], threads: 2)[0].get() == TensorStats(v))
    }

    @Test func fileAgainstItselfIsIdentical() throws {
        for name in ["model-v3.gguf", "all_dtypes.safetensors", "sharded"] {
            let a = try ModelFileOpener.open(path: M.path(name))
            let b = try ModelFileOpener.open(path: M.path(name), mapped: false)
            let d = try CheckpointDiff.compare(a, b, naming: .none, roles: .all)
            #expect(d.tensors.count == a.tensors.count)
            for t in d.tensors {
                let tensor = try #require(a.tensor(named: t.name))
                if !tensor.decodable {
                    #expect(t.status == .notCompared && t.note?.contains("not decoded") == true, "\(name) \(t.name)")
                    continue
                }
                let c = try #require(t.comparison, "\(name) \(t.name)")
                let stats = try TensorScan.stats(a, tensors: [t.name])[0].get()
                // NaN is never equal (equal_nan=False); everything else is, bit for bit.
                #expect(c.bitDifferences == 0 && c.maxAbsDifference == 0, "\(name) \(t.name)")
                #expect(c.outsideTolerance == stats.nanCount, "\(name) \(t.name)")
                #expect(t.status == (stats.nanCount == 0 ? .equal : .different))
            }
        }
    }

    @Test func differencesAndOneSidedTensors() throws {
        let dir = M.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func file(_ name: String, _ w: [Float], extra: String) -> String {
            let header = "{\"\(extra)\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[4,20]}}"
            M.write(M.safetensorsBytes(header, data: M.le32(0) + w.flatMap { M.le32($0.bitPattern) }), to: dir + "/" + name)
            return dir + "/" + name
        }
        let a = try ModelFileOpener.open(path: file("a.safetensors", [1, 2, 3, 4], extra: "only.a"))
        let b = try ModelFileOpener.open(path: file("b.safetensors", [1, 2, 3.5, 4], extra: "only.b"))
        let d = try CheckpointDiff.compare(a, b)
        #expect(!d.isEqual && !d.headersCompared && d.roles == .params)
        #expect(d.tensors.map(\.status) == [.onlyInA, .different, .onlyInB])
        let c = try #require(d.tensors[1].comparison)
        // a − b = [0, 0, −0.5, 0]: max 0.5 at [1, 0]; Σ|d| = 0.5 → mean 0.125; Σd² = 0.25 →
        // rms 0.25; ‖a‖² = 30; a·b = 31.5, ‖b‖² = 33.25.
        #expect(c.count == 4 && c.outsideTolerance == 1 && c.maxAbsDifference == 0.5 && d.tensors[1].maxDifferencePosition == [1, 0])
        #expect(c.meanAbsDifference == 0.125 && c.rmsDifference == 0.25)
        #expect(c.relativeChange == (0.25 / 30).squareRoot())
        #expect(abs(c.cosineSimilarity! - 31.5 / (30 * 33.25).squareRoot()) < 1e-15)
        #expect(try CheckpointDiff.compare(a, b, tolerance: Tolerance(absolute: 0.5, relative: 0)).tensors[1].status == .equal)
    }

    @Test func quantizedAgainstFloatAcrossFormats() throws {
        // The Q8_0 tensor of the GGUF fixture against its own dequantized values written as
        // F32 safetensors: equal to the bit.
        let gguf = try ModelFileOpener.open(path: M.path("model-v3.gguf"))
        guard case let .float(v) = try gguf.values(of: "q8_0.weight") else { Issue.record("values"); return }
        let dir = M.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let header = "{\"q8_0.weight\":{\"dtype\":\"F32\",\"shape\":[4,64],\"data_offsets\":[0,\(4 * v.count)]}}"
        M.write(M.safetensorsBytes(header, data: v.flatMap { M.le32($0.bitPattern) }), to: dir + "/q.safetensors")
        let st = try ModelFileOpener.open(path: dir + "/q.safetensors")
        let d = try CheckpointDiff.compare(gguf, st)
        let q = try #require(d.tensors.first { $0.name == "q8_0.weight" })
        #expect(q.status == .equal && q.comparison?.bitDifferences == 0 && q.comparison?.count == 256)
        #expect(q.a?.dtype == "Q8_0" && q.b?.dtype == "F32")
        #expect(d.tensors.filter { $0.status == .onlyInA }.count == gguf.tensors.count - 1)
    }

    @Test func transformersAgainstNanoGPTNamesAndTransposes() throws {
        let hf = try ModelFileOpener.open(path: M.path("gpt2-hf.safetensors"))
        let nano = try ModelFileOpener.open(path: M.path("gpt2-nanogpt.safetensors"))
        let d = try CheckpointDiff.compare(hf, nano)
        #expect(d.namingA == .hf && d.namingB == .nanoGPT)
        #expect(d.isEqual, "\(d.tensors.filter { $0.status != .equal }.map { "\($0.name) \($0.status)" })")
        // 16 parameters, plus nanoGPT's tied head compared with wte.
        #expect(d.tensors.count == 17)
        #expect(d.tensors.filter(\.transposed).map(\.name).sorted() == [
            "transformer.h.0.attn.c_attn.weight", "transformer.h.0.attn.c_proj.weight",
            "transformer.h.0.mlp.c_fc.weight", "transformer.h.0.mlp.c_proj.weight"])
        let head = try #require(d.tensors.first { $0.nameB == "lm_head.weight" })
        #expect(head.name == "transformer.wte.weight" && head.status == .equal && head.note?.contains("tied") == true)
        // As they are, the four weights do not line up: c_attn is (8, 24) against (24, 8),
        // the square c_proj is compared untransposed and differs.
        let plain = try CheckpointDiff.compare(hf, nano, naming: .none)
        #expect(!plain.isEqual)
        #expect(plain.tensors.first { $0.name == "transformer.h.0.attn.c_attn.weight" }?.status == .shapeMismatch)
        #expect(plain.tensors.first { $0.name == "transformer.h.0.attn.c_proj.weight" }?.status == .different)
        #expect(plain.tensors.last?.status == .onlyInB && plain.tensors.last?.name == "lm_head.weight")
    }

    @Test func canonicalAgainstTransformersLocatesInCanonicalLayout() throws {
        // A canonical-named copy of the gpt2 fixture (tt-ckpt's names, nanoGPT's layout),
        // with one element of attn.wo changed at canonical position [2, 5].
        let nano = try SafetensorsFile(path: M.path("gpt2-nanogpt.safetensors"))
        var tensors: [SafetensorsTensor] = []
        for t in nano.tensors where t.name != "lm_head.weight" {
            let m = try #require(GPT2Naming.nanoGPT.canonicalName(for: t.name))
            var values = try nano.loadFloats(t)
            if m.canonical == "layers.0.attn.wo" { values[2 * 8 + 5] += 1 }
            tensors.append(SafetensorsTensor(name: m.canonical, shape: t.shape, values: values))
        }
        let dir = M.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try SafetensorsWriter.write(tensors, metadata: nil, to: dir + "/canonical.safetensors")
        let canonical = try ModelFileOpener.open(path: dir + "/canonical.safetensors")
        let hf = try ModelFileOpener.open(path: M.path("gpt2-hf.safetensors"))
        let d = try CheckpointDiff.compare(canonical, hf)
        #expect(d.namingA == nil && d.namingB == .hf)
        #expect(d.tensors.count == 16)
        let wo = try #require(d.tensors.first { $0.name == "layers.0.attn.wo" })
        #expect(wo.nameB == "transformer.h.0.attn.c_proj.weight" && wo.transposed)
        #expect(wo.status == .different && wo.maxDifferencePosition == [2, 5] && wo.comparison?.outsideTolerance == 1)
        #expect(d.tensors.filter { $0.status != .equal }.map(\.name) == ["layers.0.attn.wo"])
        // The explicit convention gives the same pairing.
        #expect(try CheckpointDiff.compare(canonical, hf, naming: .convention(.hf)).tensors == d.tensors)
        // gpt2 names with no c_attn.weight: the layout cannot be told.
        let partial = tensors.filter { !$0.name.hasSuffix("wqkv") }.map {
            SafetensorsTensor(name: GPT2Naming.nanoGPT.foreignName(for: $0.name)!.foreign, shape: $0.shape, values: $0.values)
        }
        try SafetensorsWriter.write(partial, metadata: nil, to: dir + "/partial.safetensors")
        #expect(throws: AmbiguousNaming(path: dir + "/partial.safetensors")) {
            try CheckpointDiff.compare(canonical, try ModelFileOpener.open(path: dir + "/partial.safetensors"))
        }
    }

    @Test func checkpointAgainstItsOwnExport() throws {
        let dir = M.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = AnalysisFixtures.checkpoint()
        try CheckpointWriter.write(c, to: dir + "/m.ttc")
        try SafetensorsCheckpoint.export(c, to: dir + "/p.safetensors", includeOptimizer: false)
        try SafetensorsCheckpoint.export(c, to: dir + "/o.safetensors", includeOptimizer: true)
        let ttc = try ModelFileOpener.open(path: dir + "/m.ttc")
        let params = try CheckpointDiff.compare(ttc, try ModelFileOpener.open(path: dir + "/p.safetensors"))
        let parameterCount = c.tensors.filter { $0.role == .parameter }.count
        #expect(params.isEqual && params.roles == .params && params.tensors.count == parameterCount)
        #expect(params.tensors.allSatisfy { $0.status == .equal && $0.comparison?.bitDifferences == 0 })
        let all = try CheckpointDiff.compare(ttc, try ModelFileOpener.open(path: dir + "/o.safetensors"), roles: .all)
        #expect(all.isEqual && all.tensors.count == c.tensors.count)
        // Without the moments in B, --role all lists them as only in A.
        let missing = try CheckpointDiff.compare(ttc, try ModelFileOpener.open(path: dir + "/p.safetensors"), roles: .all)
        #expect(!missing.isEqual && missing.tensors.filter { $0.status == .onlyInA }.count == c.tensors.count - parameterCount)
    }
}
