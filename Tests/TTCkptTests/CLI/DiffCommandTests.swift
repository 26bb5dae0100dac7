import Foundation
import Testing
@testable import TTCore

/// End-to-end: `tt-ckpt diff` exit codes (0 equal, 1 different, 2 trouble) and reports.
@Suite struct DiffCommandTests {
    typealias F = AnalysisFixtures
    typealias Files = AnalysisFiles

    func index(_ c: Checkpoint, _ name: String) -> Int { c.tensors.firstIndex { $0.name == name }! }

    @Test func identicalFilesExitZero() throws {
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try Files.write(F.checkpoint(), dir, "a.ttc")
        let b = try Files.write(F.checkpoint(), dir, "b.ttc")
        let r = try CLIRunner.run(["diff", a, b])
        #expect(r.status == 0 && r.stderr.isEmpty)
        #expect(r.stdout.contains("result: equal within tolerance"))
        let j = try CLIRunner.run(["diff", a, b, "--json"])
        #expect(j.status == 0)
        let json = try Files.parseJSON(j.stdout)
        #expect(json["equal"] as? Bool == true)
        #expect((json["fields"] as? [Any])?.isEmpty == true)
        #expect((json["tensors"] as? [[String: Any]])?.allSatisfy { $0["status"] as? String == "equal" } == true)
    }

    @Test func perturbedTensorExitsOneAndIsLocated() throws {
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = F.checkpoint()
        var changed = base
        let t = index(changed, "tok_emb")
        let before = changed.tensors[t].values[3 * 16 + 5]
        changed.tensors[t].values[3 * 16 + 5] = before + 0.5  // row 3 is "I"
        let a = try Files.write(base, dir, "a.ttc")
        let b = try Files.write(changed, dir, "b.ttc")

        let r = try CLIRunner.run(["diff", a, b])
        #expect(r.status == 1 && r.stderr.isEmpty)
        #expect(r.stdout.contains("tok_emb"))
        #expect(r.stdout.contains(#"[3, 5] "I""#))
        #expect(r.stdout.contains("result: different"))

        let j = try CLIRunner.run(["diff", a, b, "--json"])
        #expect(j.status == 1)
        let json = try Files.parseJSON(j.stdout)
        #expect(json["equal"] as? Bool == false)
        let tensors = try #require(json["tensors"] as? [[String: Any]])
        let tok = try #require(tensors.first { $0["name"] as? String == "tok_emb" })
        #expect(tok["status"] as? String == "different")
        #expect(tok["outside_tolerance"] as? Int == 1)
        #expect(tok["max_abs_diff_index"] as? [Int] == [3, 5])
        #expect(tok["max_abs_diff_label"] as? String == "I")
        // The exact |a−b| of the two stored Floats, computed in Double.
        let exact = abs(Double(before) - Double(changed.tensors[t].values[3 * 16 + 5]))
        #expect((tok["max_abs_diff"] as? Double) == exact)
        #expect(tensors.filter { $0["status"] as? String != "equal" }.count == 1)

        // Within tolerance: exit 0.
        #expect(try CLIRunner.run(["diff", a, b, "--atol", "0.6"]).status == 0)
        #expect(try CLIRunner.run(["diff", a, b, "--atol", "0.4"]).status == 1)
    }

    @Test func roleFilter() throws {
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = F.checkpoint()
        var changed = base
        changed.tensors[index(changed, "adam_m.layers.0.attn.wo")].values[7] += 1
        let a = try Files.write(base, dir, "a.ttc")
        let b = try Files.write(changed, dir, "b.ttc")
        #expect(try CLIRunner.run(["diff", a, b, "--role", "params"]).status == 0)
        #expect(try CLIRunner.run(["diff", a, b, "--role", "adam"]).status == 1)
        #expect(try CLIRunner.run(["diff", a, b, "--role", "all"]).status == 1)
    }

    @Test func trainingStateAndConfigDifferences() throws {
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try Files.write(F.checkpoint(step: 3), dir, "a.ttc")
        let b = try Files.write(F.checkpoint(step: 5), dir, "b.ttc")
        let r = try CLIRunner.run(["diff", a, b, "--json"])
        #expect(r.status == 1)
        let fields = try #require(try Files.parseJSON(r.stdout)["fields"] as? [[String: Any]])
        let step = try #require(fields.first { $0["field"] as? String == "training.step" })
        #expect(step["a"] as? Int == 3 && step["b"] as? Int == 5)

        var config = ModelConfig.tutorial
        config.dModel = 8
        config.dFF = 32
        let c = try Files.write(F.checkpoint(config: config), dir, "c.ttc")
        let s = try CLIRunner.run(["diff", a, c, "--json"])
        #expect(s.status == 1)
        let json = try Files.parseJSON(s.stdout)
        let names = (json["fields"] as? [[String: Any]])?.compactMap { $0["field"] as? String } ?? []
        #expect(names.contains("config.d_model") && names.contains("config.d_ff"))
        let tensors = try #require(json["tensors"] as? [[String: Any]])
        let emb = try #require(tensors.first { $0["name"] as? String == "tok_emb" })
        #expect(emb["status"] as? String == "shape_mismatch")
        #expect(emb["shape_a"] as? [Int] == [6, 16] && emb["shape_b"] as? [Int] == [6, 8])
        let text = try CLIRunner.run(["diff", a, c])
        #expect(text.status == 1 && text.stdout.contains("shape mismatch: tok_emb 6×16 vs 6×8"))
    }

    @Test func troubleExitsTwo() throws {
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try Files.write(F.checkpoint(), dir, "a.ttc")
        let b = try Files.write(F.checkpoint(), dir, "b.ttc")
        let corrupt = try Files.write(F.checkpoint(), dir, "corrupt.ttc")
        try Files.corruptBlob(corrupt, tensor: "adam_v.lm_head")
        let missing = dir.appendingPathComponent("missing.ttc").path
        let png = try Files.png(dir)
        let cases: [(args: [String], subject: String)] = [
            (["diff", a, missing], missing),
            (["diff", missing, b], missing),
            (["diff", a, dir.path], dir.path),
            (["diff", png, b], png),
            (["diff", a, corrupt], corrupt),  // header fine, one blob fails its CRC: not comparable
            (["diff", a, b, "--atol", "-1"], "--atol"),
            (["diff", a, b, "--rtol", "nan"], "--rtol"),
            (["diff", a, b, "--top", "0"], "--top"),
            (["diff", a, b, "--role", "weights"], "--role"),
        ]
        for (args, subject) in cases {
            let r = try CLIRunner.run(args)
            #expect(r.status == 2, "\(args)")
            #expect(r.stderrLines.count == 1, "\(args): \(r.stderr)")
            #expect(r.stderr.hasPrefix("tt-ckpt: \(subject)"), "\(args): \(r.stderr)")
            #expect(r.stdout.isEmpty, "\(args)")
        }
        // The corrupt blob is only read when its role is selected.
        #expect(try CLIRunner.run(["diff", a, corrupt, "--role", "params"]).status == 0)
    }

    @Test func topLimitsTheTable() throws {
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try Files.write(F.checkpoint(seed: 1), dir, "a.ttc")
        let b = try Files.write(F.checkpoint(seed: 2), dir, "b.ttc")
        let r = try CLIRunner.run(["diff", a, b, "--top", "3"])
        #expect(r.status == 1)
        let total = F.checkpoint().tensors.count
        #expect(r.stdout.contains("top 3 of \(total) changed tensors"))
    }

    /// Files made by the real engine: train 4 steps vs train 2 + resume 2 (equal: the
    /// resume contract seen through diff), and init vs trained (different).
    @Test func engineCheckpoints() throws {
        let dir = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        func ok(_ args: [String]) throws {
            let r = try CLIRunner.run(args)
            #expect(r.status == 0, "\(args): \(r.stderr)")
        }
        try ok(["init", path("init.ttc"), "--preset", "tutorial"])
        try ok(["train", path("init.ttc"), "--steps", "4", "--quiet", "-o", path("t4.ttc")])
        try ok(["train", path("init.ttc"), "--steps", "2", "--quiet", "-o", path("t2.ttc")])
        try ok(["resume", path("t2.ttc"), "--steps", "2", "--quiet", "-o", path("r4.ttc")])

        let same = try CLIRunner.run(["diff", path("t4.ttc"), path("r4.ttc")])
        #expect(same.status == 0, "\(same.stdout)")
        let json = try Files.parseJSON(try CLIRunner.run(["diff", path("t4.ttc"), path("r4.ttc"), "--json"]).stdout)
        // Bit-identical, not just within tolerance.
        let tensors = try #require(json["tensors"] as? [[String: Any]])
        #expect(!tensors.isEmpty && tensors.allSatisfy { $0["bit_differences"] as? Int == 0 })

        let changed = try CLIRunner.run(["diff", path("init.ttc"), path("t4.ttc"), "--json"])
        #expect(changed.status == 1)
        let fields = (try Files.parseJSON(changed.stdout)["fields"] as? [[String: Any]])?.compactMap { $0["field"] as? String } ?? []
        #expect(fields.contains("training.step") && fields.contains("training.loss_history.count"))
        // Init has zero moments; after training every adam_v tensor has moved: ‖a‖ = 0 < ‖a−b‖.
        let trained = try #require(try Files.parseJSON(changed.stdout)["tensors"] as? [[String: Any]])
        let v = trained.filter { $0["role"] as? String == "adam_v" }
        #expect(!v.isEmpty && v.allSatisfy { $0["relative_l2"] is NSNull && $0["status"] as? String == "different" })
    }

    @Test func helpHasExampleAndExitCodes() throws {
        let r = try CLIRunner.run(["diff", "--help"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("Example"))
        #expect(r.stdout.contains("0 equal within tolerance, 1 different"))
    }
}
