import Testing
@testable import TTAnalysis
@testable import TTCore
@testable import TTFormat

/// `CheckpointDiff` over in-memory sources: which fields and tensors it reports.
@Suite struct CheckpointDiffTests {
    typealias F = AnalysisFixtures

    func tensorIndex(_ c: Checkpoint, _ name: String) -> Int { c.tensors.firstIndex { $0.name == name }! }

    @Test func identicalCheckpointsAreEqual() throws {
        let c = F.checkpoint()
        let d = try CheckpointDiff.compare(MemorySource(c, path: "a"), MemorySource(c, path: "b"))
        #expect(d.isEqual)
        #expect(d.fields.isEmpty && d.notes.isEmpty)
        #expect(d.tensors.count == c.tensors.count)
        #expect(d.tensors.allSatisfy { $0.status == .equal && $0.comparison?.bitDifferences == 0 })
    }

    @Test func perturbedEmbeddingRowIsLocatedAndLabelled() throws {
        let a = F.checkpoint()
        var b = a
        let t = tensorIndex(b, "tok_emb")  // (V=6, D=16); row 4 is "like"
        b.tensors[t].values[4 * 16 + 7] += 0.25
        b.tensors[t].values[2 * 16 + 1] += 0.125
        let d = try CheckpointDiff.compare(MemorySource(a, path: "a"), MemorySource(b, path: "b"))
        #expect(!d.isEqual)
        #expect(d.fields.isEmpty)
        let e = try #require(d.tensors.first { $0.name == "tok_emb" })
        #expect(e.status == .different)
        #expect(e.comparison?.outsideTolerance == 2)
        #expect(e.maxDifferencePosition == [4, 7])
        #expect(e.maxDifferenceLabel == "like")
        // |Δ| is 0.25 up to the Float rounding of a + 0.25 (a ~ 0.1, so within 2^-24·0.5).
        #expect(abs(try #require(e.comparison?.maxAbsDifference) - 0.25) < 1e-7)
        #expect(d.tensors.filter { $0.status != .equal }.map(\.name) == ["tok_emb"])
        // Within atol 0.3 everything passes: equal.
        let loose = try CheckpointDiff.compare(MemorySource(a, path: "a"), MemorySource(b, path: "b"),
                                               tolerance: Tolerance(absolute: 0.3, relative: 0))
        #expect(loose.isEqual)
    }

    @Test func momentRowsAreLabelledToo() throws {
        let a = F.checkpoint()
        var b = a
        b.tensors[tensorIndex(b, "adam_m.lm_head")].values[5 * 16] = 9
        let d = try CheckpointDiff.compare(MemorySource(a, path: "a"), MemorySource(b, path: "b"))
        let e = try #require(d.tensors.first { $0.name == "adam_m.lm_head" })
        #expect(e.maxDifferencePosition == [5, 0] && e.maxDifferenceLabel == "transformers")
    }

    @Test func nanOnlyDifferenceIsLocatedByFirstOutside() throws {
        let a = F.checkpoint()
        var b = a
        b.tensors[tensorIndex(b, "layers.0.attn.wv")].values[1 * 128 + 2 * 8 + 3] = .nan  // (H=2, D=16, dk=8)
        let d = try CheckpointDiff.compare(MemorySource(a, path: "a"), MemorySource(b, path: "b"),
                                           tolerance: Tolerance(absolute: 1, relative: 1))
        let e = try #require(d.tensors.first { $0.name == "layers.0.attn.wv" })
        #expect(e.status == .different)
        #expect(e.maxDifferencePosition == nil)
        #expect(e.firstOutsidePosition == [1, 2, 3])
        #expect(e.comparison?.nonFiniteCount == 1)
        // equal_nan=False: a NaN makes a checkpoint differ from itself.
        let same = try CheckpointDiff.compare(MemorySource(b, path: "b"), MemorySource(b, path: "b2"))
        #expect(!same.isEqual)
    }

    @Test func roleFilterSelectsTensors() throws {
        let a = F.checkpoint()
        var b = a
        b.tensors[tensorIndex(b, "adam_v.pos_emb")].values[0] += 1
        let sa = MemorySource(a, path: "a"), sb = MemorySource(b, path: "b")
        let params = try CheckpointDiff.compare(sa, sb, roles: .params)
        #expect(params.isEqual)
        #expect(params.tensors.allSatisfy { $0.role == .parameter })
        #expect(params.tensors.count == ParameterLayout(config: .tutorial).slots.count)
        let adam = try CheckpointDiff.compare(sa, sb, roles: .adam)
        #expect(!adam.isEqual)
        #expect(adam.tensors.allSatisfy { $0.role == .adamM || $0.role == .adamV })
        #expect(!(try CheckpointDiff.compare(sa, sb, roles: .all)).isEqual)
    }

    @Test func trainingFieldsAreCompared() throws {
        let a = F.checkpoint()
        var b = a
        b.training.step = 4
        b.training.optimizer.learningRate = 2e-3
        b.training.data?.sha256 = String(repeating: "cd", count: 32)
        b.training.rng = PythonRandom(seed: 99).state
        let d = try CheckpointDiff.compare(MemorySource(a, path: "a"), MemorySource(b, path: "b"))
        #expect(!d.isEqual)
        let fields = d.fields.map(\.field)
        #expect(fields.contains("training.step"))
        #expect(fields.contains("training.optimizer.learning_rate"))
        #expect(fields.contains("training.data.sha256"))
        #expect(fields.contains("training.rng.words_crc32"))
        #expect(!fields.contains("training.tokens_seen"))
        let step = try #require(d.fields.first { $0.field == "training.step" })
        #expect(step.a == .int(3) && step.b == .int(4))
        // Every tensor is still equal: only fields differ.
        #expect(d.tensors.allSatisfy { $0.status == .equal })
    }

    @Test func dataNameAndToolVersionAreNotes() throws {
        let a = F.checkpoint()
        var b = a
        b.training.data?.name = "elsewhere/corpus.txt"
        let d = try CheckpointDiff.compare(MemorySource(a, path: "a"),
                                           MemorySource(b, path: "b", toolVersion: "9.9.9", formatVersion: (1, 1)))
        #expect(d.isEqual)
        #expect(d.notes.map(\.field) == ["format_version", "tool_version", "training.data.name"])
    }

    @Test func lossHistoryUsesTolerance() throws {
        let a = F.checkpoint()
        var b = a
        b.training.lossHistory[1] += 1e-3
        let sa = MemorySource(a, path: "a"), sb = MemorySource(b, path: "b")
        let exact = try CheckpointDiff.compare(sa, sb)
        #expect(exact.fields.map(\.field) == ["training.loss_history[1]"])
        #expect(try CheckpointDiff.compare(sa, sb, tolerance: Tolerance(absolute: 2e-3, relative: 0)).isEqual)
        var c = a
        c.training.lossHistory.append(1)
        let longer = try CheckpointDiff.compare(sa, MemorySource(c, path: "c"), tolerance: Tolerance(absolute: 1, relative: 1))
        #expect(longer.fields.map(\.field) == ["training.loss_history.count"])
    }

    @Test func vocabularyDifferences() throws {
        let a = F.checkpoint()
        var b = a
        b.vocabulary.tokens[3] = "You"
        let d = try CheckpointDiff.compare(MemorySource(a, path: "a"), MemorySource(b, path: "b"))
        #expect(d.fields == [FieldDifference(field: "vocab.tokens[3]", a: .string("I"), b: .string("You"))])
    }

    @Test func differentConfigsGiveShapeMismatches() throws {
        let a = F.checkpoint()
        var config = ModelConfig.tutorial
        config.dFF = 32
        let b = F.checkpoint(config: config)
        let d = try CheckpointDiff.compare(MemorySource(a, path: "a"), MemorySource(b, path: "b"))
        #expect(d.fields.map(\.field) == ["config.d_ff"])
        let mismatched = d.tensors.filter { $0.status == .shapeMismatch }.map(\.name)
        // ffn.w1 (F,D), ffn.b1 (F), ffn.w2 (D,F), three times (params and both moments).
        #expect(mismatched.count == 9)
        #expect(mismatched.contains("layers.0.ffn.w1") && mismatched.contains("adam_v.layers.0.ffn.b1"))
        #expect(!mismatched.contains("layers.0.ffn.b2"))
    }

    @Test func tensorsInOnlyOneFile() throws {
        let a = F.checkpoint()
        var b = a
        let removed = b.tensors.remove(at: tensorIndex(b, "adam_m.pos_emb"))
        b.tensors.append(NamedTensor(name: "extra", role: .other, shape: [2], values: [1, 2]))
        let d = try CheckpointDiff.compare(MemorySource(a, path: "a"), MemorySource(b, path: "b"))
        #expect(d.tensors.first { $0.name == removed.name }?.status == .onlyInA)
        #expect(d.tensors.last?.name == "extra" && d.tensors.last?.status == .onlyInB)
        // `other` tensors are outside --role params and adam.
        let adam = try CheckpointDiff.compare(MemorySource(a, path: "a"), MemorySource(b, path: "b"), roles: .adam)
        #expect(!adam.tensors.contains { $0.name == "extra" })
        #expect(adam.tensors.contains { $0.name == removed.name && $0.status == .onlyInA })
    }

    @Test func streamsOnePairAtATime() throws {
        let a = F.checkpoint()
        var config = ModelConfig.tutorial
        config.dFF = 32
        let b = F.checkpoint(config: config)
        let log = MemorySource.LoadLog()
        _ = try CheckpointDiff.compare(MemorySource(a, path: "a", log: log), MemorySource(b, path: "b", log: log))
        // Loads alternate a, b for the same name, in A's order; mismatched shapes are never loaded.
        let expected = a.tensors.filter { t in b.tensors.contains { $0.name == t.name && $0.shape == t.shape } }
            .flatMap { ["a:\($0.name)", "b:\($0.name)"] }
        #expect(log.loads == expected)
        #expect(!log.loads.contains("a:layers.0.ffn.w1"))
    }

    @Test func loadFailurePropagates() throws {
        let c = F.checkpoint()
        let b = MemorySource(c, path: "b")
        b.failOn = "layers.0.attn.wk"
        #expect(throws: FormatError.self) { try CheckpointDiff.compare(MemorySource(c, path: "a"), b) }
    }
}
