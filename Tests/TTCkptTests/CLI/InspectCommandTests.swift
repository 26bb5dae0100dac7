import Foundation
import Testing
@testable import TTCore
@testable import TTFormat

/// End-to-end: `tt-ckpt inspect` on files written through `CheckpointWriter`.
@Suite struct InspectCommandTests {
    typealias F = AnalysisFixtures
    typealias Files = AnalysisFiles

    /// A checkpoint with values that stress printing: signed zero, subnormal, extremes,
    /// NaN and ±Inf in tok_emb, and a vocabulary token with control characters.
    static func trickyCheckpoint() -> Checkpoint {
        var c = F.checkpoint()
        c.vocabulary.tokens[3] = "I\u{1B}[31m"
        let t = c.tensors.firstIndex { $0.name == "tok_emb" }!
        let specials: [Float] = [-0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude, -.leastNormalMagnitude,
                                 1.0 / 3.0, .nan, .infinity, -.infinity]
        for (i, v) in specials.enumerated() { c.tensors[t].values[16 + i] = v }
        c.training.lossHistory = [1.7917595, 1.0 / 3.0, 0.1, .leastNonzeroMagnitude]
        c.training.step = 4
        return c
    }

    @Test func jsonKeysAndValuesRoundTrip() throws {
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = Self.trickyCheckpoint()
        let path = try Files.write(c, dir, "a.ttc")
        let r = try CLIRunner.run(["inspect", path, "--json"])
        #expect(r.status == 0 && r.stderr.isEmpty)
        let json = try Files.parseJSON(r.stdout)
        for key in ["format_version", "tool_version", "config", "parameter_count", "vocab", "training", "tensors"] {
            #expect(json[key] != nil, "missing \(key)")
        }
        #expect(json["tool_version"] as? String == TTCkptVersion.string)
        let config = try #require(json["config"] as? [String: Any])
        #expect(config["arch"] as? String == "tutorial")
        let cfg = c.config
        for (key, value) in [("vocab_size", cfg.vocabSize), ("d_model", cfg.dModel), ("n_heads", cfg.nHeads),
                             ("d_ff", cfg.dFF), ("n_layers", cfg.nLayers), ("context", cfg.context)] {
            #expect(config[key] as? Int == value, "\(key)")
        }
        // Tutorial: 2·V·D + T·D + 4·D² + 2·D·F + F + D + 2·D = 192+80+1024+2048+64+16+32 = 3456.
        #expect(json["parameter_count"] as? Int == 3456)
        let vocab = try #require(json["vocab"] as? [String: Any])
        #expect(vocab["tokens"] as? [String] == c.vocabulary.tokens)  // control characters survive JSON
        #expect(!r.stdout.contains("\u{1B}"))  // ... escaped, never raw

        let training = try #require(json["training"] as? [String: Any])
        #expect(training["step"] as? Int == 4)
        #expect(training["tokens_seen"] as? Int == c.training.tokensSeen)
        #expect(training["seed"] as? Int == 1)
        let optimizer = try #require(training["optimizer"] as? [String: Any])
        #expect(optimizer["learning_rate"] as? Double == c.training.optimizer.learningRate)
        #expect(optimizer["schedule"] as? String == "constant")
        #expect((training["data"] as? [String: Any])?["sha256"] as? String == c.training.data?.sha256)
        let losses = try #require(training["loss_history"] as? [Any])
        #expect(losses.map { Files.float($0)?.bitPattern } == c.training.lossHistory.map { $0.bitPattern })

        let tensors = try #require(json["tensors"] as? [[String: Any]])
        #expect(tensors.map { $0["name"] as? String } == c.tensors.map(\.name))
        for (t, expected) in zip(tensors, c.tensors) {
            #expect(t["role"] as? String == expected.role.label)
            #expect(t["dtype"] as? String == "f32")
            #expect(t["shape"] as? [Int] == expected.shape)
            #expect(t["raw_bytes"] as? Int == expected.values.count * 4)
            #expect((t["stored_bytes"] as? Int ?? 0) > 0)
            #expect(["none", "shuffle"].contains(t["filter"] as? String ?? ""))
            // Independent CRC-32 of the little-endian values.
            #expect((t["crc32"] as? NSNumber)?.uint32Value == Files.crc32(Files.littleEndianBytes(expected.values)))
            #expect(t["stats"] == nil)
        }
    }

    @Test func statsJSON() throws {
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = Self.trickyCheckpoint()
        let path = try Files.write(c, dir, "a.ttc")
        let r = try CLIRunner.run(["inspect", path, "--stats", "--json"])
        #expect(r.status == 0)
        let tensors = try #require(try Files.parseJSON(r.stdout)["tensors"] as? [[String: Any]])
        for (t, expected) in zip(tensors, c.tensors) {
            let stats = try #require(t["stats"] as? [String: Any])
            let finite = expected.values.filter(\.isFinite)
            #expect(stats["count"] as? Int == expected.values.count)
            #expect(Files.float(stats["min"])?.bitPattern == finite.min()?.bitPattern, "\(expected.name)")
            #expect(Files.float(stats["max"]) == finite.max())
            #expect(stats["nan_count"] as? Int == expected.values.filter(\.isNaN).count)
            #expect(stats["inf_count"] as? Int == expected.values.filter(\.isInfinite).count)
        }
        // tok_emb holds one NaN, +Inf and -Inf (trickyCheckpoint).
        let tok = try #require(tensors.first { $0["name"] as? String == "tok_emb" }?["stats"] as? [String: Any])
        #expect(tok["nan_count"] as? Int == 1 && tok["inf_count"] as? Int == 2)
    }

    @Test func tensorJSONIsNestedRowMajorAndExact() throws {
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = Self.trickyCheckpoint()
        let path = try Files.write(c, dir, "a.ttc")
        for name in ["tok_emb", "layers.0.attn.wq", "adam_v.layers.0.ffn.b1"] {
            let r = try CLIRunner.run(["inspect", path, "--tensor", name, "--json"])
            #expect(r.status == 0)
            let json = try Files.parseJSON(r.stdout)
            let expected = try #require(c.tensors.first { $0.name == name })
            #expect(json["name"] as? String == name)
            #expect(json["role"] as? String == expected.role.label)
            #expect(json["shape"] as? [Int] == expected.shape)
            // Flatten the nested array in row-major order, checking every level's length.
            var flat: [Any] = []
            func walk(_ v: Any?, _ dim: Int) {
                guard dim < expected.shape.count else { flat.append(v as Any); return }
                let items = v as? [Any] ?? []
                #expect(items.count == expected.shape[dim])
                for item in items { walk(item, dim + 1) }
            }
            walk(json["values"], 0)
            #expect(flat.count == expected.values.count)
            for (got, want) in zip(flat, expected.values) {
                if want.isFinite {
                    #expect(Files.float(got)?.bitPattern == want.bitPattern, "\(want)")
                } else {
                    #expect(got is NSNull)  // JSON has no NaN/Inf: null
                }
            }
            if name == "tok_emb" {
                #expect(json["row_labels"] as? [String] == c.vocabulary.tokens)
            } else {
                #expect(json["row_labels"] == nil)
            }
        }
    }

    @Test func defaultTextView() throws {
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = Self.trickyCheckpoint()
        let path = try Files.write(c, dir, "a.ttc")
        let r = try CLIRunner.run(["inspect", path])
        #expect(r.status == 0 && r.stderr.isEmpty)
        #expect(r.stdout.contains("tutorial: vocab_size 6, d_model 16, n_heads 2, d_ff 64, n_layers 1, context 5"))
        #expect(r.stdout.contains("3456"))
        #expect(r.stdout.contains(#"3:"I\u{1b}[31m""#))  // token escaped
        #expect(!r.stdout.contains("\u{1B}"))
        #expect(r.stdout.contains("4 steps: first 1.7917595, last 1e-45, min 1e-45 at step 4"))
        for t in c.tensors { #expect(r.stdout.contains(t.name)) }
        #expect(r.stdout.contains("sha256 " + String(repeating: "ab", count: 32)))
        // --tensors: only the table.
        let table = try CLIRunner.run(["inspect", path, "--tensors"])
        #expect(table.status == 0)
        #expect(table.stdout.hasPrefix("name"))
        #expect(table.stdout.split(separator: "\n").count == c.tensors.count + 2)
    }

    @Test func tensorTextHasTokenLabels() throws {
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = F.checkpoint()
        let path = try Files.write(c, dir, "a.ttc")
        let r = try CLIRunner.run(["inspect", path, "--tensor", "adam_m.lm_head"])
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let values = c.tensors.first { $0.name == "adam_m.lm_head" }!.values
        // Row 5 is "transformers"; its first value printed exactly.
        let row5 = try #require(lines.first { $0.hasPrefix("[5] \"transformers\"") })
        #expect(row5.split(separator: " ").dropFirst(2).first.map(String.init) == values[5 * 16].description)
    }

    @Test func verifyPassesAndFails() throws {
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = F.checkpoint()
        let path = try Files.write(c, dir, "a.ttc")
        let ok = try CLIRunner.run(["inspect", path, "--verify"])
        #expect(ok.status == 0)
        #expect(ok.stdout.contains("verify: all \(c.tensors.count) tensors ok"))

        try Files.corruptBlob(path, tensor: "layers.0.ffn.w1")
        // The default view reads only the header and directory: still fine.
        #expect(try CLIRunner.run(["inspect", path]).status == 0)
        let bad = try CLIRunner.run(["inspect", path, "--verify"])
        #expect(bad.status == 2)
        #expect(bad.stderrLines.count == 1)
        #expect(bad.stderr.hasPrefix("tt-ckpt: \(path): verify failed for 1 of \(c.tensors.count) tensors"))
        #expect(bad.stderr.contains("layers.0.ffn.w1"))
        #expect(bad.stdout.contains("FAILED"))
        let badJSON = try CLIRunner.run(["inspect", path, "--verify", "--json"])
        #expect(badJSON.status == 2)
        let json = try Files.parseJSON(badJSON.stdout)
        #expect(json["verified"] as? Bool == false)
        let w1 = (json["tensors"] as? [[String: Any]])?.first { $0["name"] as? String == "layers.0.ffn.w1" }
        #expect((w1?["verify"] as? String).map { $0 != "ok" } == true)
        // --stats without --verify on a corrupt blob: trouble, one line.
        let stats = try CLIRunner.run(["inspect", path, "--stats"])
        #expect(stats.status == 2 && stats.stderrLines.count == 1 && stats.stdout.isEmpty)
    }

    /// Issue 11 #19 through the binary: a blob rewritten together with its stored and raw
    /// CRC-32s passes every CRC (so `--stats` reads it), and only the `hash` section's
    /// SHA-256, which `--verify` checks, catches it: exit 2 naming the tensor (spec/FORMAT.md
    /// §4.2, `rawDigest`).
    @Test func verifyCatchesABlobRewrittenWithItsCRCs() throws {
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = FormatFixtures.checkpoint()
        var f = CraftedFile(c)
        var values = c.tensors[1].values
        values[0] += 1
        let raw = littleEndianBytes(values)
        f.restream(1, raw, level: 1)
        f.entries[1].rawCRC32 = crc32Of(raw)
        let path = dir.appendingPathComponent("r.ttc").path
        try Data(f.bytes()).write(to: URL(fileURLWithPath: path))
        #expect(f.entries[1].name == "pos_emb")
        // Every CRC agrees: --stats inflates and checks every blob and passes.
        let stats = try CLIRunner.run(["inspect", path, "--stats"])
        #expect(stats.status == 0, "\(stats.stderr)")
        let r = try CLIRunner.run(["inspect", path, "--verify"])
        #expect(r.status == 2)
        #expect(r.stderrLines.count == 1)
        let prefix = "tt-ckpt: \(path): verify failed for 1 of \(c.tensors.count) tensors (first: pos_emb: tensor 'pos_emb': SHA-256 mismatch (hash section "
        #expect(r.stderr.hasPrefix(prefix), "\(r.stderr)")
        #expect(r.stdout.contains("FAILED"))
    }

    @Test func errorsAreOneLineExitTwo() throws {
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = try Files.write(F.checkpoint(), dir, "good.ttc")
        let truncated = dir.appendingPathComponent("truncated.ttc").path
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        try bytes.prefix(bytes.count / 3).write(to: URL(fileURLWithPath: truncated))
        let headerFlip = dir.appendingPathComponent("flipped.ttc").path
        var flipped = [UInt8](bytes)
        flipped[40] ^= 0xFF
        try Data(flipped).write(to: URL(fileURLWithPath: headerFlip))
        let empty = dir.appendingPathComponent("empty.ttc").path
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        let cases: [(args: [String], subject: String)] = [
            (["inspect", dir.appendingPathComponent("missing.ttc").path], dir.appendingPathComponent("missing.ttc").path),
            (["inspect", dir.path], dir.path),
            (["inspect", try Files.png(dir)], dir.appendingPathComponent("picture.png").path),
            (["inspect", truncated], truncated),
            (["inspect", headerFlip], headerFlip),
            (["inspect", empty], empty),
            (["inspect", good, "--tensor", "no.such.tensor"], good),
        ]
        for (args, subject) in cases {
            let r = try CLIRunner.run(args)
            #expect(r.status == 2, "\(args)")
            #expect(r.stderrLines.count == 1, "\(args): \(r.stderr)")
            #expect(r.stderr.hasPrefix("tt-ckpt: \(subject): "), "\(args): \(r.stderr)")
            #expect(r.stdout.isEmpty, "\(args)")
        }
    }

    /// The committed golden sample trained by the engine: verifies, and its JSON says what
    /// samples/README.md says it is (1000 steps, last loss < 0.01).
    @Test func goldenTrainedSample() throws {
        let path = TestPaths.path("samples/tutorial-trained.ttc")
        let r = try CLIRunner.run(["inspect", path, "--verify", "--stats", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try Files.parseJSON(r.stdout)
        #expect(json["verified"] as? Bool == true)
        let training = try #require(json["training"] as? [String: Any])
        #expect(training["step"] as? Int == 1000)
        let losses = try #require(training["loss_history"] as? [Any])
        #expect(losses.count == 1000)
        #expect((Files.float(losses.last) ?? 1) < 0.01)
        let tensors = try #require(json["tensors"] as? [[String: Any]])
        #expect(tensors.count == 3 * ParameterLayout(config: .tutorial).slots.count)
        #expect(tensors.allSatisfy { $0["verify"] as? String == "ok" && $0["stats"] is [String: Any] })
    }

    @Test func helpHasExample() throws {
        let r = try CLIRunner.run(["inspect", "--help"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("Example"))
        #expect(r.stdout.contains("tt-ckpt inspect model.ttc --tensor lm_head"))
        #expect(r.stdout.contains("null"))
    }
}
