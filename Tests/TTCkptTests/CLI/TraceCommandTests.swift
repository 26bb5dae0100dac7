import Foundation
import Testing
@testable import TTAnalysis
@testable import TTCore
@testable import TTFormat
@testable import TTInterop
@testable import TTTraining

@Suite struct TraceCommandTests {
    static func scratch() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("trace-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    static let goldenPath = TestPaths.path("Tests/Golden/trace-print-tutorial.txt")

    /// `trace --print` on a fresh tutorial checkpoint, golden-output test.
    ///
    /// The golden file is this tool's output. What was checked by hand against the series
    /// when it was written, and is asserted again below from `TutorialNumbers.published`
    /// (the series' numbers, not ours): the position-0 probabilities 0.2098 0.1353 0.1424
    /// 0.1491 0.2004 0.1631, the per-position losses 1.9033 1.6123 1.8479 1.9560 (and 0 for
    /// the ignored fifth position), the average 1.8299; the sentence and targets; the block
    /// order (embeddings, attention, FFN, LayerNorm, output; then dlogits, output layer,
    /// LayerNorm, FFN with GELU′, attention through the softmax, embeddings, AdamW); that
    /// dlogits at position 0 is P − onehot(I = 3) divided by N = 4 (0.2098/4 = 0.0524,
    /// (0.1491 − 1)/4 = −0.2127), and that the updates are ±lr = ±0.0010 (the first AdamW
    /// step moves every weight by lr·sign(g)). Regenerate with TTCKPT_WRITE_GOLDEN=1.
    @Test func printedWalkThroughIsGolden() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try CLIRunner.run(["init", "model.ttc"], in: dir).status == 0)
        let r = try CLIRunner.run(["trace", "model.ttc", "--print"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.isEmpty)
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let series = TutorialNumbers.published
        func f4(_ xs: [Double]) -> String { xs.map { String(format: "%.4f", $0) }.joined(separator: " ") }
        #expect(lines.contains("       position 0: " + f4(series.position0Probabilities)))
        #expect(lines.contains("       positions 0…4: " + f4(series.positionLosses) + " 0.0000"))
        #expect(lines.contains("     act.loss  scalar  " + f4([series.averageLoss])))
        #expect(lines.contains("sequence 0: <BOS> I like transformers <EOS>  targets: I like transformers <EOS> ·   (· = ignored)"))
        let p = series.position0Probabilities
        #expect(lines.contains("       position 0: " + f4([p[0] / 4, p[1] / 4, p[2] / 4, (p[3] - 1) / 4, p[4] / 4, p[5] / 4])))
        if ProcessInfo.processInfo.environment["TTCKPT_WRITE_GOLDEN"] == "1" {
            try r.stdout.write(toFile: Self.goldenPath, atomically: true, encoding: .utf8)
        }
        let golden = try String(contentsOfFile: Self.goldenPath, encoding: .utf8)
        #expect(r.stdout == golden)

        // --position moves every slice; out of range is one line, exit 2.
        let p3 = try CLIRunner.run(["trace", "model.ttc", "--print", "--position", "3"], in: dir)
        #expect(p3.stdout.contains("values: sequence 0, position 3; 4 decimals"))
        let bad = try CLIRunner.run(["trace", "model.ttc", "--print", "--position", "5"], in: dir)
        #expect(bad.status == 2)
        #expect(bad.stderrLines == ["tt-ckpt: --position: must be in 0...4 (the batch has 5 positions), got 5"])
    }

    /// --json is one document with the same blocks and full slices.
    @Test func jsonWalkThrough() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try CLIRunner.run(["init", "model.ttc"], in: dir)
        let r = try CLIRunner.run(["trace", "model.ttc", "--json"], in: dir)
        #expect(r.status == 0)
        let doc = try AnalysisFiles.parseJSON(r.stdout)
        #expect(doc["step"] as? Int == 1)
        #expect(doc["target_count"] as? Int == 4)
        let blocks = try #require(doc["blocks"] as? [[String: Any]])
        let quantities = blocks.flatMap { ($0["quantities"] as? [[String: Any]]) ?? [] }
        #expect(quantities.count == TraceCatalog.entries(config: .tutorial, batchSize: 1, seqLen: 5).count)
        let probs = try #require(quantities.first { $0["name"] as? String == "act.probs" })
        let slice = try #require((probs["slices"] as? [[String: Any]])?.first?["values"] as? [Any])
        let values = slice.compactMap(AnalysisFiles.float)
        for (v, s) in zip(values, TutorialNumbers.published.position0Probabilities) { #expect(abs(Double(v) - s) <= 5e-5) }
        #expect(values.count == 6)
    }

    /// The file: the checkpoint is unchanged, an existing output is refused without --force,
    /// the .ttc and safetensors forms hold the same tensors, and diff finds them equal.
    @Test func writesTraceFilesAndLeavesTheCheckpoint() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try CLIRunner.run(["init", "model.ttc"], in: dir)
        let before = try Data(contentsOf: dir.appendingPathComponent("model.ttc"))
        let r = try CLIRunner.run(["trace", "model.ttc", "-o", "trace.ttc"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("wrote trace.ttc: step 1 of model.ttc, batch 1 × 5, 63 tensors"))
        #expect(try Data(contentsOf: dir.appendingPathComponent("model.ttc")) == before)
        let again = try CLIRunner.run(["trace", "model.ttc", "-o", "trace.ttc"], in: dir)
        #expect(again.status == 2)
        #expect(again.stderrLines == ["tt-ckpt: trace.ttc: already exists (use --force to overwrite)"])
        #expect(try CLIRunner.run(["trace", "model.ttc", "-o", "trace.ttc", "--force"], in: dir).status == 0)

        let reader = try CheckpointReader(path: dir.appendingPathComponent("trace.ttc").path)
        #expect(reader.trace?.step == 1)
        #expect(Set(reader.entries.map(\.role)) == [.activation, .activationGrad, .gradient, .update, .other])

        let st = try CLIRunner.run(["trace", "model.ttc", "-o", "trace.safetensors", "--format", "safetensors"], in: dir)
        #expect(st.status == 0, "\(st.stderr)")
        let file = try SafetensorsFile(path: dir.appendingPathComponent("trace.safetensors").path)
        #expect(Set(file.tensors.map(\.name)) == Set(reader.entries.map(\.name)))   // safetensors orders by name
        #expect(file.metadata?["trace.step"] == "1")
        let diff = try CLIRunner.run(["diff", "trace.safetensors", "trace.ttc", "--atol", "0", "--rtol", "0"], in: dir)
        #expect(diff.status == 0, "\(diff.stdout)")
        #expect(diff.stdout.contains("compared 63 of the trace's 63 tensors"))
        #expect(diff.stdout.hasSuffix("result: equal within tolerance\n"))
        // export writes a trace's tensors as trace --format safetensors does.
        let exported = try CLIRunner.run(["export", "trace.ttc", "exported.safetensors"], in: dir)
        #expect(exported.stdout == "wrote exported.safetensors: 63 tensors (f32), step 0\n", "\(exported.stderr)")
        #expect(try Data(contentsOf: dir.appendingPathComponent("exported.safetensors"))
                == Data(contentsOf: dir.appendingPathComponent("trace.safetensors")))
        // inspect reads a trace like a checkpoint.
        let inspect = try CLIRunner.run(["inspect", "trace.ttc"], in: dir)
        #expect(inspect.status == 0, "\(inspect.stderr)")
        #expect(inspect.stdout.contains("grad.logits"))
    }

    /// The gradients equal the real training step's: `train --steps 1 --beta1 0
    /// --grad-clip 0` stores m = (1 − 0)·g = g exactly, and adam_m.N must equal the trace's N
    /// bit for bit.
    @Test func gradientsEqualWhatTrainStores() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try CLIRunner.run(["init", "model.ttc"], in: dir)
        #expect(try CLIRunner.run(["trace", "model.ttc", "-o", "trace.ttc"], in: dir).status == 0)
        let t = try CLIRunner.run(["train", "model.ttc", "--steps", "1", "--beta1", "0", "--grad-clip", "0",
                                   "-o", "trained.ttc", "--quiet"], in: dir)
        #expect(t.status == 0, "\(t.stderr)")
        let trace = try CheckpointReader(path: dir.appendingPathComponent("trace.ttc").path).readCheckpoint()
        let trained = try CheckpointReader(path: dir.appendingPathComponent("trained.ttc").path).readCheckpoint()
        var byName: [String: NamedTensor] = [:]
        for x in trained.tensors { byName[x.name] = x }
        var compared = 0
        for g in trace.tensors where g.role == .gradient {
            let m = try #require(byName["adam_m." + g.name])
            #expect(m.values.map(\.bitPattern) == g.values.map(\.bitPattern), "\(g.name)")
            compared += 1
        }
        #expect(compared == ParameterLayout(config: .tutorial).slots.count)
        #expect(Float(trace.trace!.loss) == trained.training.lossHistory[0])
    }

    /// Bounded: a trace above the cap is refused before it is computed, one line, exit 2,
    /// nothing written.
    @Test func refusesATraceAboveTheCap() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = TestPaths.path("samples/corpus.txt")
        #expect(try CLIRunner.run(["init", "small.ttc", "--preset", "gpt-small", "--data", corpus], in: dir).status == 0)
        let r = try CLIRunner.run(["trace", "small.ttc", "--data", corpus, "-o", "t.ttc", "--max-size-mib", "1"], in: dir)
        #expect(r.status == 2)
        #expect(r.stderrLines.count == 1)
        let line = try #require(r.stderrLines.first)
        #expect(line.hasPrefix("tt-ckpt: small.ttc: the trace of this step would be "))
        #expect(line.hasSuffix("MiB (B 1 × S 64), more than the cap 1 MiB (--max-size-mib)"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("t.ttc").path))
        // The size it states is the catalog's.
        let config = try CheckpointReader(path: dir.appendingPathComponent("small.ttc").path).config
        let bytes = StepTracer.plannedSize(config: config, batchSize: 1, seqLen: 64)
        #expect(line.contains(String(format: "%.1f MiB", Double(bytes) / 1048576)))
        let ok = try CLIRunner.run(["trace", "small.ttc", "--data", corpus, "-o", "t.ttc", "--max-size-mib", "64"], in: dir)
        #expect(ok.status == 0, "\(ok.stderr)")
    }

    /// The diff hook end to end: a scaled copy of the trace's gradients is named.
    @Test func diffNamesTheSummedLoss() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try CLIRunner.run(["init", "model.ttc"], in: dir)
        _ = try CLIRunner.run(["trace", "model.ttc", "-o", "trace.ttc"], in: dir)
        let trace = try CheckpointReader(path: dir.appendingPathComponent("trace.ttc").path).readCheckpoint()
        let scaled = trace.tensors.filter { $0.role == .gradient || $0.role == .activationGrad }
            .map { SafetensorsTensor(name: $0.name, shape: $0.shape, values: $0.values.map { $0 * 4 }) }
        try SafetensorsWriter.write(scaled, metadata: nil, to: dir.appendingPathComponent("mine.safetensors").path)
        let r = try CLIRunner.run(["diff", "mine.safetensors", "trace.ttc"], in: dir)
        #expect(r.status == 1)
        #expect(r.stdout.contains("first difference: grad.logits (4.000×: the summed loss instead of the mean"))
        let json = try CLIRunner.run(["diff", "mine.safetensors", "trace.ttc", "--json"], in: dir)
        let doc = try AnalysisFiles.parseJSON(json.stdout)
        #expect(doc["first_difference"] as? String == "grad.logits")
        #expect(doc["equal"] as? Bool == false)
    }
}
