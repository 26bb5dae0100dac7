import Foundation
import Testing
@testable import TTCore
@testable import TTFormat
@testable import TTInterop

/// End-to-end: `tt-ckpt inspect` and `diff` on safetensors files, sharded sets and GGUF files
/// (the fixtures numpy, safetensors and gguf wrote), and the model digest across formats.
@Suite struct InspectModelFileCommandTests {
    typealias M = ModelFixtures
    typealias Files = AnalysisFiles

    @Test func headerViewsReadOnlyHeaders() throws {
        let gguf = try CLIRunner.run(["inspect", M.path("model-v3.gguf")])
        #expect(gguf.status == 0 && gguf.stderr.isEmpty)
        #expect(gguf.stdout.contains("GGUF v3, alignment 32, tensor data at byte 1696"))
        #expect(gguf.stdout.contains(#"test.string            str            "héllo\nwörld \u{2028} ✓""#))  // escaped, one line
        #expect(gguf.stdout.contains("Q4_K *") && gguf.stdout.contains("values not decoded"))
        let sharded = try CLIRunner.run(["inspect", M.path("sharded")])
        #expect(sharded.status == 0)
        #expect(sharded.stdout.contains("safetensors, sharded: 2 shards, total_size 320 (checked against the shards)"))
        #expect(sharded.stdout.contains("model-00002-of-00002.safetensors  424 bytes, 3 tensors"))
        // A fixture cut inside its data: the header view reads the header, and the header's
        // own check (offsets inside the file) refuses it.
        let dir = M.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let v3 = try M.read("model-v3.gguf")
        M.write(Array(v3[0..<2000]), to: dir + "/cut.gguf")
        expectUserError(try CLIRunner.run(["inspect", dir + "/cut.gguf"]), subject: dir + "/cut.gguf", containing: "run past the end of the file")
    }

    @Test func jsonDocumentOfAGGUFFile() throws {
        let r = try CLIRunner.run(["inspect", M.path("model-v3.gguf"), "--json"])
        #expect(r.status == 0)
        let json = try Files.parseJSON(r.stdout)
        #expect(json["format"] as? String == "gguf" && json["gguf_version"] as? Int == 3 && json["data_offset"] as? Int == 1696)
        let metadata = try #require(json["metadata"] as? [[String: Any]])
        let byKey = Dictionary(uniqueKeysWithValues: metadata.map { ($0["key"] as! String, $0) })
        #expect(byKey["test.u64"]?["value"] as? UInt64 == UInt64.max)
        #expect(byKey["test.i64"]?["value"] as? Int64 == Int64.min)
        #expect(byKey["test.array.nested"]?["type"] as? String == "arr[arr[i32]]")
        #expect(byKey["tokenizer.ggml.tokens"]?["value"] as? [String] == ["<s>", "</s>", "hello", " wörld", ""])
        let tensors = try #require(json["tensors"] as? [[String: Any]])
        let q4k = try #require(tensors.first { $0["name"] as? String == "q4_k.listed" })
        #expect(q4k["values_decoded"] as? Bool == false && q4k["storage"] as? String == "256 values in 144-byte blocks")
        #expect(json["parameter_count"] as? Int == tensors.reduce(0) { $0 + ($1["elements"] as! Int) })
    }

    @Test func tensorJSONIsExactForIntegersAndNamesNonFinite() throws {
        let ints = try Files.parseJSON(try CLIRunner.run(["inspect", M.path("all_dtypes.safetensors"), "--tensor", "u64", "--json"]).stdout)
        // 2^64 − 1 and 2^53 + 1 exactly (a Double would round them).
        #expect(ints["values"] as? [UInt64] == [0, 1, UInt64.max, (1 << 53) + 1])
        let f32 = try Files.parseJSON(try CLIRunner.run(["inspect", M.path("all_dtypes.safetensors"), "--tensor", "f32", "--json"]).stdout)
        let nonFinite = try #require(f32["non_finite"] as? [[Any]])
        #expect(nonFinite.map { $0[1] as? String } == ["nan", "inf", "-inf"])
        #expect(nonFinite.map { $0[0] as? Int } == [2, 3, 4])  // special_floats' order in the fixture script
    }

    @Test func verifyExitCodes() throws {
        // all_dtypes holds NaN/Inf on purpose: structure fine, values flagged, exit 1, no stderr.
        let bad = try CLIRunner.run(["inspect", M.path("all_dtypes.safetensors"), "--verify"])
        #expect(bad.status == 1 && bad.stderr.isEmpty)
        #expect(bad.stdout.contains("verify: 3 of 16 tensors hold NaN or Inf"))
        #expect(bad.stdout.contains("f32: 1 NaN, 1 +Inf, 1 -Inf"))
        let clean = try CLIRunner.run(["inspect", M.path("sharded"), "--verify", "--json"])
        #expect(clean.status == 0)
        let json = try Files.parseJSON(clean.stdout)
        #expect(json["verified"] as? Bool == true)
        // Not all F32: no tt-ckpt model digest.
        #expect(json["model_digest"] is NSNull)
    }

    @Test func modelDigestMatchesAcrossFormats() throws {
        let dir = try AnalysisFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try Files.write(AnalysisFixtures.checkpoint(), dir, "m.ttc")
        let export = dir.appendingPathComponent("m.safetensors").path
        #expect(try CLIRunner.run(["export", path, export, "--include-optimizer"]).status == 0)
        let ttc = try Files.parseJSON(try CLIRunner.run(["inspect", path, "--json"]).stdout)
        let st = try Files.parseJSON(try CLIRunner.run(["inspect", export, "--verify", "--json"]).stdout)
        let digest = try #require(ttc["model_digest"] as? String)
        #expect(digest.count == 64 && st["model_digest"] as? String == digest)
        #expect(try CLIRunner.run(["inspect", path]).stdout.contains("digest       \(digest) (model digest"))
    }

    @Test func statsDoNotDependOnThreads() throws {
        var outputs = Set<String>()
        for threads in ["1", "2", "3"] {
            let r = try CLIRunner.run(["inspect", M.path("model-v3.gguf"), "--stats", "--json", "--threads", threads])
            #expect(r.status == 0)
            outputs.insert(r.stdout)
        }
        #expect(outputs.count == 1)
    }

    @Test func treeGroupsByPrefix() throws {
        let r = try CLIRunner.run(["inspect", M.path("sharded"), "--tree", "--json"])
        #expect(r.status == 0)
        let root = try Files.parseJSON(r.stdout)
        #expect(root["tensors"] as? Int == 5 && root["parameters"] as? Int == 76)
        let model = try #require((root["children"] as? [[String: Any]])?.first { $0["name"] as? String == "model" })
        // model.embed.weight (8×4), model.layers.{0,1}.mlp.weight (4×4 each), model.norm.bias (4).
        #expect(model["tensors"] as? Int == 4 && model["parameters"] as? Int == 32 + 16 + 16 + 4)
        let layers = try #require((model["children"] as? [[String: Any]])?.first { $0["name"] as? String == "layers" })
        #expect((layers["children"] as? [[String: Any]])?.map { $0["name"] as? String } == ["0", "1"])
        let text = try CLIRunner.run(["inspect", M.path("sharded"), "--tree", "--depth", "1"])
        #expect(text.stdout.contains("├── lm_head") && text.stdout.contains("└── model") && !text.stdout.contains("embed"))
    }

    @Test func diffAcrossFormatsAndNamings() throws {
        // transformers against nanoGPT names: mapped, the four Conv1D weights transposed.
        let r = try CLIRunner.run(["diff", M.path("gpt2-hf.safetensors"), M.path("gpt2-nanogpt.safetensors"), "--json"])
        #expect(r.status == 0, "\(r.stdout)")
        let json = try Files.parseJSON(r.stdout)
        #expect(json["naming_a"] as? String == "hf" && json["naming_b"] as? String == "nanogpt")
        let tensors = try #require(json["tensors"] as? [[String: Any]])
        #expect(tensors.filter { $0["transposed"] as? Bool == true }.count == 4)
        // Names as they are: different (c_attn's shapes disagree), exit 1.
        let none = try CLIRunner.run(["diff", M.path("gpt2-hf.safetensors"), M.path("gpt2-nanogpt.safetensors"), "--map", "none"])
        #expect(none.status == 1 && none.stdout.contains("shape mismatch: transformer.h.0.attn.c_attn.weight 8×24 vs 24×8"))
        // A file against itself in another format: GGUF's Q8_0 against F32 is covered by
        // ModelFileDiffTests; here a GGUF file against itself is equal but for NaN.
        let selfDiff = try CLIRunner.run(["diff", M.path("model-v3.gguf"), M.path("model-v3.gguf")])
        #expect(selfDiff.status == 1 && selfDiff.stdout.contains("1 not compared"))
    }
}
