import Foundation
import Testing
@testable import TTCore
@testable import TTFormat
@testable import TTInterop
@testable import TTTokenizer

/// Every bad input of spec/BAD-INPUT.md, run through the real binary: exactly one stderr
/// line, exactly the line the table shows, exit status 2, nothing on stdout, and no file
/// in the working directory created, changed or removed (compared byte for byte, hidden
/// temporary files included).
///
/// The table is generated from this test (`TTCKPT_WRITE_BAD_INPUT=1 swift test --filter
/// BadInputTests`), and otherwise checked against it, so table and behaviour cannot drift.
@Suite struct BadInputTests {
    struct Row: Sendable {
        var id: String
        var input: String
        var args: [String]
        var env: [String: String] = [:]
        /// The command prints a report on stdout before its error line (inspect --verify).
        var reportsOnStdout = false
        /// Extra setup in the row's copy of the fixture directory (before the snapshot).
        var prepare: (@Sendable (String) throws -> Void)? = nil
    }

    // MARK: fixtures

    /// The fixture directory, made once and copied for each row:
    /// m.ttc (tutorial, trained 2 steps), fresh.ttc (tutorial, never trained), w.ttc (word
    /// vocabulary from corpus.txt, trained 1 step on it), g.ttc (gpt arch, trained 1
    /// step), and bad files.
    static let template: String = {
        let dir = FormatFixtures.tempDirectory()
        func run(_ args: [String]) {
            let r = BadInputTests.run(args, in: dir)
            precondition(r.status == 0, "fixture \(args): \(r.stderr)")
        }
        run(["init", "fresh.ttc"])
        run(["init", "m.ttc"])
        run(["train", "m.ttc", "--steps", "2", "--quiet"])
        FormatFixtures.writeBytes(Array("the cat sat on the mat and the dog sat on the log\n".utf8), to: dir + "/corpus.txt")
        run(["init", "w.ttc", "--data", "corpus.txt"])
        run(["train", "w.ttc", "--data", "corpus.txt", "--steps", "1", "--quiet"])
        run(["init", "g.ttc", "--arch", "gpt"])
        run(["train", "g.ttc", "--steps", "1", "--quiet"])
        // gpt2 files the writer would refuse, crafted: one tensor missing, and an untied head.
        run(["init", "g2.ttc", "--preset", "gpt2-tiny", "--d-model", "16", "--heads", "2", "--d-ff", "32",
             "--layers", "1", "--context", "8"])
        let g2 = try! CheckpointReader(path: dir + "/g2.ttc").readCheckpoint()
        var noBias = CraftedFile(g2)
        let bo = noBias.entries.firstIndex { $0.name == "layers.0.attn.bo" }!
        noBias.entries.remove(at: bo)
        noBias.blobs.remove(at: bo)
        noBias.digests?.remove(at: bo)  // the hash section lists one digest per entry
        FormatFixtures.writeBytes(noBias.bytes(), to: dir + "/gpt2-no-bias.ttc")
        var untied = CraftedFile(g2)
        let wte = untied.entries.firstIndex { $0.name == "tok_emb" }!
        var head = untied.entries[wte]
        head.name = "lm_head"
        untied.entries.insert(head, at: wte + 1)
        untied.blobs.insert(untied.blobs[wte], at: wte + 1)
        if let d = untied.digests?[wte] { untied.digests?.insert(d, at: wte + 1) }
        FormatFixtures.writeBytes(untied.bytes(), to: dir + "/gpt2-lm-head.ttc")
        FormatFixtures.writeBytes(Array("the\n".utf8), to: dir + "/one-word.txt")
        FormatFixtures.writeBytes(Array("the zebra sat on the sofa\n".utf8), to: dir + "/unknown.txt")
        FormatFixtures.writeBytes(Array("the dog sat on the cat\n".utf8), to: dir + "/other.txt")
        FormatFixtures.writeBytes([], to: dir + "/empty.txt")
        FormatFixtures.writeBytes([], to: dir + "/empty.ttc")
        FormatFixtures.writeBytes([0x66, 0x6f, 0xff, 0xfe, 0x80, 0x0a], to: dir + "/binary.txt")
        // The PNG signature and the start of an IHDR chunk.
        FormatFixtures.writeBytes([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]
                                  + [UInt8](repeating: 7, count: 200), to: dir + "/picture.png")
        let good = FormatFixtures.readBytes(dir + "/m.ttc")
        FormatFixtures.writeBytes(Array(good[0..<(good.count / 2)]), to: dir + "/truncated.ttc")
        var flipped = good
        flipped[good.count - 20] ^= 0x5A
        FormatFixtures.writeBytes(flipped, to: dir + "/flipped.ttc")
        FormatFixtures.writeBytes(good + [0], to: dir + "/trailing.ttc")
        var newer = good
        newer[8] = 2  // major 2 (spec §1: checked before the CRC)
        FormatFixtures.writeBytes(newer, to: dir + "/newer.ttc")
        FormatFixtures.writeBytes(BadFiles.headerClaiming1TB(good), to: dir + "/huge-header.ttc")
        FormatFixtures.writeBytes(BadFiles.tensorOf2To60Elements(good), to: dir + "/huge-tensor.ttc")
        FormatFixtures.writeBytes(BadFiles.tensorClaiming2To40Elements(good), to: dir + "/huge-raw.ttc")
        precondition(mkdir(dir + "/folder.ttc", 0o755) == 0)
        // Files that break a rule of format 1.1 (spec/FORMAT.md §2, §3.3, §4), made from m.ttc
        // with every checksum right, so the rule is what rejects them.
        let mCheckpoint = try! CheckpointReader(path: dir + "/m.ttc").readCheckpoint()
        func crafted(_ name: String, _ change: (inout CraftedFile) -> Void) {
            var f = CraftedFile(mCheckpoint)
            change(&f)
            FormatFixtures.writeBytes(f.bytes(), to: dir + "/" + name)
        }
        func tokens(_ kind: String, _ list: [String]) -> (inout CraftedFile) -> Void {
            { f in f.setMeta(MetaKey.vocabKind, .string(kind)); f.setMeta(MetaKey.vocabTokens, .stringArray(list)) }
        }
        crafted("dup-vocab.ttc", tokens("word", ["<PAD>", "<BOS>", "<EOS>", "I", "like", "I"]))
        crafted("empty-token.ttc", tokens("word", ["<PAD>", "<BOS>", "<EOS>", "", "like", "transformers"]))
        crafted("space-token.ttc", tokens("word", ["<PAD>", "<BOS>", "<EOS>", "I like", "like", "transformers"]))
        crafted("char-ab.ttc", tokens("char", ["a", "b", "ab", "c", "d", "e"]))
        crafted("byte-6.ttc", tokens("byte", ["a", "b", "c", "d", "e", "f"]))
        crafted("tokens-0-steps.ttc") { f in
            f.setMeta(MetaKey.step, .u64(0)); f.setMeta(MetaKey.lossHistory, .f32Array([])); f.setMeta(MetaKey.sessionStarts, .u64Array([]))
        }
        crafted("sessions-down.ttc") { $0.setMeta(MetaKey.sessionStarts, .u64Array([1, 0])) }
        crafted("critical.ttc") { $0.extraSections = [(0x4B4E_5546, [1, 2, 3])] }  // "FUNK"
        // safetensors exports of m.ttc (with its moments) whose __metadata__ breaks a content rule.
        func exportEdited(_ name: String, _ edit: (inout [String: String]) -> Void) {
            var (tensors, metadata) = SafetensorsCheckpoint.exportContents(mCheckpoint, includeOptimizer: true)
            edit(&metadata)
            try! SafetensorsWriter.write(tensors, metadata: metadata, to: dir + "/" + name)
        }
        exportEdited("loss-1e999.safetensors") { $0["loss_history"] = "[1.5,1e999]" }
        exportEdited("sessions-down.safetensors") { $0["session_starts"] = "[2,1]" }
        exportEdited("char-ab.safetensors") { $0["tokenizer"] = "char"; $0["vocabulary"] = #"["a","b","ab","c","d","e"]"# }
        crafted("future-dtype.ttc") { f in
            let i = f.entries.firstIndex { $0.name == "lm_head" }!
            f.entries[i].dtype = DType(rawValue: 9)
        }
        // safetensors inputs for import: a good one (export of m.ttc) and damaged ones.
        run(["export", "m.ttc", "m.safetensors"])
        let st = FormatFixtures.readBytes(dir + "/m.safetensors")
        var hugeHeader = st
        for i in 0..<8 { hugeHeader[i] = UInt8(truncatingIfNeeded: UInt64(1 << 40) >> (8 * UInt64(i))) }
        FormatFixtures.writeBytes(hugeHeader, to: dir + "/huge-header.safetensors")
        FormatFixtures.writeBytes(Array(st[0..<(st.count / 2)]), to: dir + "/truncated.safetensors")
        let headerLength = Int(HostileMutationTests.le(st, 0, 8))
        let json = String(decoding: st[8..<(8 + headerLength)], as: UTF8.self)
        func withHeader(_ text: String) -> [UInt8] {
            let h = Array(text.utf8)
            var out: [UInt8] = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(h.count) >> (8 * UInt64($0))) }
            out += h
            return out + st[(8 + headerLength)...]
        }
        let firstShape = json.range(of: "\"shape\":[2,16,8]")!
        FormatFixtures.writeBytes(withHeader(json.replacingCharacters(in: firstShape, with: "\"shape\":[1073741824,1073741824]")),
                                  to: dir + "/huge-shape.safetensors")
        FormatFixtures.writeBytes(withHeader(String(repeating: "{\"a\":", count: 5000) + "1" + String(repeating: "}", count: 5000)),
                                  to: dir + "/nested.safetensors")
        // Tokenizer files: a WordPiece tokenizer.json, and a vocab.json (the 256 byte tokens)
        // with a merges.txt whose merge makes a token the vocabulary lacks.
        FormatFixtures.writeBytes(Array(#"{"model": {"type": "WordPiece", "vocab": {}}, "pre_tokenizer": null}"#.utf8),
                                  to: dir + "/wordpiece.json")
        let byteVocab = JSONValue.object(ByteLevel.alphabet.enumerated().map { (String(ByteLevel.scalarForByte[Int($0.element)]), .int($0.offset)) })
        FormatFixtures.writeBytes(Array(byteVocab.serialized(pretty: false, escaping: .minimal).utf8), to: dir + "/vocab.json")
        FormatFixtures.writeBytes(Array("#version: 0.2\nh e\n".utf8), to: dir + "/merges.txt")
        // gpt2 interop: g2.ttc's transformers directory hf/, and a gpt2 with a word
        // vocabulary (no Hugging Face tokenizer form).
        run(["export", "g2.ttc", "hf", "--to", "hf"])
        run(["init", "g2w.ttc", "--arch", "gpt2", "--data", "corpus.txt", "--d-model", "8", "--heads", "2", "--layers", "1",
             "--context", "4"])
        // GGUF, safetensors and sharded-set inputs for inspect and diff.
        BadModelFiles.write(into: dir)
        return dir
    }()

    // MARK: rows

    static let rows: [Row] = {
        var rows: [Row] = []
        func add(_ id: String, _ input: String, _ args: [String], env: [String: String] = [:], reportsOnStdout: Bool = false,
                 prepare: (@Sendable (String) throws -> Void)? = nil) {
            rows.append(Row(id: id, input: input, args: args, env: env, reportsOnStdout: reportsOnStdout, prepare: prepare))
        }
        // Command line, any command.
        add("cli-1", "unknown subcommand", ["frobnicate"])
        add("cli-2", "unknown option", ["train", "m.ttc", "--steps", "1", "--bogus"])
        // init options.
        add("init-1", "missing output argument", ["init"])
        add("init-2", "empty output path", ["init", ""])
        add("init-3", "output exists, no --force", ["init", "m.ttc"])
        add("init-4", "output is a directory", ["init", "folder.ttc", "--force"])
        add("init-5", "output's directory is missing", ["init", "nowhere/x.ttc"])
        add("init-6", "--preset unknown", ["init", "x.ttc", "--preset", "huge"])
        add("init-7", "--arch unknown", ["init", "x.ttc", "--arch", "rnn"])
        add("init-8", "--vocab-size 0", ["init", "x.ttc", "--vocab-size", "0"])
        add("init-9", "--vocab-size not a number", ["init", "x.ttc", "--vocab-size", "six"])
        add("init-10", "--vocab-size ≠ the vocabulary", ["init", "x.ttc", "--vocab-size", "7"])
        add("init-11", "--d-model 0", ["init", "x.ttc", "--d-model", "0"])
        add("init-12", "--d-model absurd", ["init", "x.ttc", "--d-model", "1000000"])
        add("init-13", "--d-model beyond Int", ["init", "x.ttc", "--d-model", "99999999999999999999"])
        add("init-14", "--heads not dividing D", ["init", "x.ttc", "--heads", "3"])
        add("init-15", "--heads 0", ["init", "x.ttc", "--heads", "0"])
        add("init-16", "--d-ff negative", ["init", "x.ttc", "--d-ff=-4"])
        add("init-17", "--layers absurd", ["init", "x.ttc", "--layers", "100000"])
        add("init-18", "--context absurd", ["init", "x.ttc", "--context", "1000000"])
        add("init-19", "parameters over the limit", ["init", "x.ttc", "--d-model", "4096", "--layers", "64"])
        add("init-20", "--data missing", ["init", "x.ttc", "--data", "missing.txt"])
        add("init-21", "--data empty path", ["init", "x.ttc", "--data", ""])
        add("init-22", "--data a directory", ["init", "x.ttc", "--data", "folder.ttc"])
        add("init-23", "--data an empty file", ["init", "x.ttc", "--data", "empty.txt"])
        add("init-24", "--data not UTF-8, char tokens", ["init", "x.ttc", "--preset", "gpt-small", "--data", "binary.txt"])
        add("init-25", "gpt-small without --data", ["init", "x.ttc", "--preset", "gpt-small"])
        add("init-26", "--tokenizer unknown", ["init", "x.ttc", "--tokenizer", "sentencepiece"])
        add("init-27", "--seed negative", ["init", "x.ttc", "--seed=-1"])
        add("init-28", "--seed not a number", ["init", "x.ttc", "--seed", "forty-two"])
        // train options.
        add("train-1", "missing --steps", ["train", "m.ttc"])
        add("train-2", "--steps 0", ["train", "m.ttc", "--steps", "0"])
        add("train-3", "--steps negative", ["train", "m.ttc", "--steps=-5"])
        add("train-4", "--steps absurd", ["train", "m.ttc", "--steps", "1000000000000"])
        add("train-5", "--steps not a number", ["train", "m.ttc", "--steps", "ten"])
        add("train-6", "--lr 0", ["train", "m.ttc", "--steps", "1", "--lr", "0"])
        add("train-7", "--lr NaN", ["train", "m.ttc", "--steps", "1", "--lr", "nan"])
        add("train-8", "--lr infinite", ["train", "m.ttc", "--steps", "1", "--lr", "inf"])
        add("train-9", "--lr negative", ["train", "m.ttc", "--steps", "1", "--lr=-0.1"])
        add("train-10", "--beta1 1", ["train", "m.ttc", "--steps", "1", "--beta1", "1"])
        add("train-11", "--beta2 above 1", ["train", "m.ttc", "--steps", "1", "--beta2", "2"])
        add("train-12", "--eps 0", ["train", "m.ttc", "--steps", "1", "--eps", "0"])
        add("train-13", "--weight-decay negative", ["train", "m.ttc", "--steps", "1", "--weight-decay=-1"])
        add("train-14", "--grad-clip negative", ["train", "m.ttc", "--steps", "1", "--grad-clip=-1"])
        add("train-15", "--warmup negative", ["train", "m.ttc", "--steps", "1", "--warmup=-1"])
        add("train-16", "--schedule unknown", ["train", "m.ttc", "--steps", "1", "--schedule", "step"])
        add("train-17", "--decay-steps negative", ["train", "m.ttc", "--steps", "1", "--decay-steps=-1"])
        add("train-18", "--min-lr-ratio above 1", ["train", "m.ttc", "--steps", "1", "--min-lr-ratio", "2"])
        add("train-19", "--batch-size 0", ["train", "m.ttc", "--steps", "1", "--batch-size", "0"])
        add("train-20", "--batch-size absurd", ["train", "m.ttc", "--steps", "1", "--batch-size", "100000"])
        add("train-21", "--save-every negative", ["train", "m.ttc", "--steps", "1", "--save-every=-1"])
        add("train-22", "--keep negative", ["train", "m.ttc", "--steps", "1", "--save-every", "1", "--keep=-1"])
        add("train-23", "--keep without --save-every", ["train", "m.ttc", "--steps", "1", "--keep", "2"])
        add("train-24", "--log-every 0", ["train", "m.ttc", "--steps", "1", "--log-every", "0"])
        add("train-25", "--quiet with --json", ["train", "m.ttc", "--steps", "1", "--quiet", "--json"])
        add("train-26", "-o empty path", ["train", "m.ttc", "--steps", "1", "-o", ""])
        add("train-27", "-o a directory", ["train", "m.ttc", "--steps", "1", "-o", "folder.ttc"])
        add("train-28", "-o in a missing directory", ["train", "m.ttc", "--steps", "1", "-o", "nowhere/x.ttc"])
        add("train-29", "--data empty path", ["train", "m.ttc", "--steps", "1", "--data", ""])
        add("train-30", "corpus checkpoint without --data", ["train", "w.ttc", "--steps", "1"])
        add("train-31", "different corpus than recorded", ["train", "w.ttc", "--steps", "1", "--data", "other.txt"])
        add("train-32", "corpus with unknown symbols (--new-data)", ["train", "w.ttc", "--steps", "1", "--data", "unknown.txt", "--new-data"])
        add("train-33", "--data missing", ["train", "w.ttc", "--steps", "1", "--data", "missing.txt"])
        add("train-34", "--data a directory", ["train", "w.ttc", "--steps", "1", "--data", "folder.ttc"])
        // resume.
        add("resume-1", "never-trained checkpoint", ["resume", "fresh.ttc", "--steps", "1"])
        add("resume-2", "hyperparameter override", ["resume", "m.ttc", "--steps", "1", "--lr", "0.1"])
        add("resume-3", "--steps 0", ["resume", "m.ttc", "--steps", "0"])
        add("resume-4", "corpus with unknown symbols", ["resume", "w.ttc", "--steps", "1", "--data", "unknown.txt"])
        // sample.
        add("sample-1", "--tokens 0", ["sample", "m.ttc", "--tokens", "0"])
        add("sample-2", "--tokens absurd", ["sample", "m.ttc", "--tokens", "1000000000"])
        add("sample-3", "--temperature negative", ["sample", "m.ttc", "--temperature=-1"])
        add("sample-4", "--temperature NaN", ["sample", "m.ttc", "--temperature", "nan"])
        add("sample-5", "--top-k negative", ["sample", "m.ttc", "--top-k=-1"])
        add("sample-6", "--seed not a number", ["sample", "m.ttc", "--seed", "x"])
        add("sample-7", "--prompt with unknown words", ["sample", "m.ttc", "--prompt", "I like zebras"])
        add("sample-8", "--prompt empty", ["sample", "m.ttc", "--prompt", ""])
        // eval.
        add("eval-1", "missing --data", ["eval", "m.ttc"])
        add("eval-2", "--data missing", ["eval", "w.ttc", "--data", "missing.txt"])
        add("eval-3", "--data an empty file", ["eval", "w.ttc", "--data", "empty.txt"])
        add("eval-4", "--data a directory", ["eval", "w.ttc", "--data", "folder.ttc"])
        add("eval-5", "--data with unknown words", ["eval", "w.ttc", "--data", "unknown.txt"])
        add("eval-6", "--data of one token", ["eval", "w.ttc", "--data", "one-word.txt"])
        add("eval-7", "--batch-size 0", ["eval", "w.ttc", "--data", "corpus.txt", "--batch-size", "0"])
        add("eval-8", "--progress with --quiet", ["eval", "w.ttc", "--data", "corpus.txt", "--progress", "--quiet"])
        // gpt2 files.
        add("gpt2-1", "gpt2 file without layers.0.attn.bo", ["sample", "gpt2-no-bias.ttc"])
        add("gpt2-2", "gpt2 file without layers.0.attn.bo", ["eval", "gpt2-no-bias.ttc", "--data", "corpus.txt"])
        add("gpt2-3", "gpt2 file with an lm_head parameter (the head is tied)", ["inspect", "gpt2-lm-head.ttc"])
        add("gpt2-4", "gpt2 file with an lm_head parameter (the head is tied)", ["train", "gpt2-lm-head.ttc", "--steps", "1"])
        // inspect and diff.
        add("inspect-1", "missing argument", ["inspect"])
        add("inspect-2", "--tensor unknown name", ["inspect", "m.ttc", "--tensor", "nosuch"])
        add("inspect-3", "--tensor name with control characters", ["inspect", "m.ttc", "--tensor", "bad\u{1b}[31mname"])
        add("inspect-4", "--verify of a file with a damaged tensor", ["inspect", "flipped.ttc", "--verify"], reportsOnStdout: true)
        add("diff-1", "only one checkpoint", ["diff", "m.ttc"])
        add("diff-2", "--atol negative", ["diff", "m.ttc", "g.ttc", "--atol", "-1"])
        add("diff-3", "--atol NaN", ["diff", "m.ttc", "g.ttc", "--atol", "nan"])
        add("diff-4", "--rtol negative", ["diff", "m.ttc", "g.ttc", "--rtol", "-0.5"])
        add("diff-5", "--role unknown", ["diff", "m.ttc", "g.ttc", "--role", "weights"])
        add("diff-6", "--top 0", ["diff", "m.ttc", "g.ttc", "--top", "0"])
        add("diff-7", "--quiet is not an option", ["diff", "m.ttc", "g.ttc", "--quiet"])
        // import (safetensors from strangers), export, plot, tutorial.
        add("import-1", "missing input", ["import", "missing.safetensors", "x.ttc"])
        add("import-2", "empty input", ["import", "empty.txt", "x.ttc"])
        add("import-3", "PNG bytes", ["import", "picture.png", "x.ttc"])
        add("import-4", "header length 2^40", ["import", "huge-header.safetensors", "x.ttc"])
        add("import-5", "truncated", ["import", "truncated.safetensors", "x.ttc"])
        add("import-6", "tensor of 2^60 elements", ["import", "huge-shape.safetensors", "x.ttc"])
        add("import-7", "JSON nested 5000 deep", ["import", "nested.safetensors", "x.ttc"])
        add("import-8", "a directory", ["import", "folder.ttc", "x.ttc"])
        add("import-9", "output exists, no --force", ["import", "m.safetensors", "m.ttc"])
        add("import-10", "--tokenizer unknown", ["import", "m.safetensors", "x.ttc", "--tokenizer", "sentencepiece"])
        add("import-11", "--vocab-file missing", ["import", "m.safetensors", "x.ttc", "--tokenizer", "word", "--vocab-file", "missing.txt"])
        add("import-12", "--heads not dividing D", ["import", "m.safetensors", "x.ttc", "--heads", "3"])
        add("import-13", "--vocab-file without --tokenizer", ["import", "m.safetensors", "x.ttc", "--vocab-file", "corpus.txt"])
        add("import-14", "--tokenizer bpe without --tokenizer-file", ["import", "m.safetensors", "x.ttc", "--tokenizer", "bpe"])
        // Byte-level BPE: learned by init, or loaded from tokenizer files.
        add("bpe-1", "--tokenizer bpe without --vocab-size", ["init", "x.ttc", "--data", "corpus.txt", "--tokenizer", "bpe"])
        add("bpe-2", "--vocab-size below the 257 fixed tokens", ["init", "x.ttc", "--data", "corpus.txt", "--tokenizer", "bpe", "--vocab-size", "100"])
        add("bpe-3", "--tokenizer bpe without --data", ["init", "x.ttc", "--tokenizer", "bpe", "--vocab-size", "300"])
        add("bpe-4", "--merges-file without --tokenizer-file", ["init", "x.ttc", "--merges-file", "merges.txt"])
        add("bpe-5", "--tokenizer-file with another --tokenizer", ["init", "x.ttc", "--tokenizer", "word", "--tokenizer-file", "vocab.json"])
        add("bpe-6", "--tokenizer-file missing", ["init", "x.ttc", "--tokenizer-file", "missing.json"])
        add("bpe-7", "tokenizer.json is not JSON", ["init", "x.ttc", "--tokenizer-file", "corpus.txt"])
        add("bpe-8", "tokenizer.json of a WordPiece model", ["init", "x.ttc", "--tokenizer-file", "wordpiece.json"])
        add("bpe-9", "merges.txt makes a token vocab.json lacks", ["init", "x.ttc", "--tokenizer-file", "vocab.json", "--merges-file", "merges.txt"])
        add("bpe-10", "vocab.json without merges.txt", ["init", "x.ttc", "--tokenizer-file", "vocab.json"])
        add("bpe-11", "--vocab-size ≠ the loaded tokenizer", ["init", "x.ttc", "--tokenizer-file", "vocab.json", "--merges-file", "empty.txt", "--vocab-size", "300"])
        // import --from hf / nanogpt, export --to hf (hf/ is a good transformers directory; each
        // row breaks its own copy).
        let hfConfig: @Sendable (String, String, String) -> (@Sendable (String) throws -> Void) = { old, new, _ in
            { dir in
                let path = dir + "/hf/config.json"
                let text = String(decoding: FormatFixtures.readBytes(path), as: UTF8.self)
                precondition(text.contains(old))
                FormatFixtures.writeBytes(Array(text.replacingOccurrences(of: old, with: new).utf8), to: path)
            }
        }
        /// Rewrites hf/model.safetensors with `change` applied to its tensors.
        let hfWeights: @Sendable (@escaping @Sendable (inout [SafetensorsTensor]) -> Void) -> (@Sendable (String) throws -> Void) = { change in
            { dir in
                let file = try SafetensorsFile(path: dir + "/hf/model.safetensors")
                var tensors = try file.tensors.map { SafetensorsTensor(name: $0.name, shape: $0.shape, values: try file.loadFloats($0)) }
                change(&tensors)
                FormatFixtures.writeBytes(SafetensorsWriter.serialize(tensors, metadata: ["format": "pt"]), to: dir + "/hf/model.safetensors")
            }
        }
        let hfIndex: @Sendable (String) -> (@Sendable (String) throws -> Void) = { shard in
            { dir in
                precondition(rename(dir + "/hf/model.safetensors", dir + "/hf/model-00001-of-00001.safetensors") == 0)
                let file = try SafetensorsFile(path: dir + "/hf/model-00001-of-00001.safetensors")
                let map = JSONValue.object(file.tensors.map { ($0.name, .string($0.name == "transformer.wte.weight" ? shard : "model-00001-of-00001.safetensors")) })
                FormatFixtures.writeBytes(Array(JSONValue.object([("metadata", .object([])), ("weight_map", map)]).serialized().utf8),
                                          to: dir + "/hf/model.safetensors.index.json")
            }
        }
        add("hf-1", "--from hf: not a directory", ["import", "picture.png", "x.ttc", "--from", "hf"])
        add("hf-2", "no config.json", ["import", "hf", "x.ttc"], prepare: { dir in precondition(unlink(dir + "/hf/config.json") == 0) })
        add("hf-3", "config.json lacks n_head", ["import", "hf", "x.ttc"], prepare: hfConfig("\"n_head\": 2,", "", ""))
        add("hf-4", "config.json is not JSON", ["import", "hf", "x.ttc"], prepare: { dir in
            FormatFixtures.writeBytes(Array("{\"n_embd\": 8,".utf8), to: dir + "/hf/config.json")
        })
        add("hf-5", "model_type llama", ["import", "hf", "x.ttc"], prepare: hfConfig("\"gpt2\"", "\"llama\"", ""))
        add("hf-6", "activation_function relu", ["import", "hf", "x.ttc"], prepare: hfConfig("\"gelu_new\"", "\"relu\"", ""))
        add("hf-7", "untied head (tie_word_embeddings false)", ["import", "hf", "x.ttc"],
            prepare: hfConfig("\"tie_word_embeddings\": true", "\"tie_word_embeddings\": false", ""))
        add("hf-8", "n_positions disagrees with wpe's shape", ["import", "hf", "x.ttc"],
            prepare: hfConfig("\"n_positions\": 8", "\"n_positions\": 16", ""))
        add("hf-9", "a tensor GPT-2 does not have", ["import", "hf", "x.ttc"], prepare: hfWeights { t in
            t.append(SafetensorsTensor(name: "transformer.h.0.attn.rotary_emb.inv_freq", shape: [2], values: [1, 2]))
        })
        add("hf-10", "a layer beyond n_layer", ["import", "hf", "x.ttc"], prepare: hfWeights { t in
            t.append(SafetensorsTensor(name: "transformer.h.1.ln_1.weight", shape: [16], values: [Float](repeating: 1, count: 16)))
        })
        add("hf-11", "a parameter missing", ["import", "hf", "x.ttc"], prepare: hfWeights { t in t.removeAll { $0.name == "transformer.ln_f.bias" } })
        add("hf-12", "the same parameter twice (with and without transformer.)", ["import", "hf", "x.ttc"], prepare: hfWeights { t in
            var copy = t.first { $0.name == "transformer.wpe.weight" }!
            copy.name = "wpe.weight"
            t.append(copy)
        })
        add("hf-13", "lm_head.weight differs from wte (untied)", ["import", "hf", "x.ttc"], prepare: hfWeights { t in
            var head = t.first { $0.name == "transformer.wte.weight" }!
            head.name = "lm_head.weight"
            head.values[5] += 1
            t.append(head)
        })
        add("hf-14", "a non-finite weight", ["import", "hf", "x.ttc"], prepare: hfWeights { t in
            let i = t.firstIndex { $0.name == "transformer.h.0.mlp.c_fc.bias" }!
            t[i].values[3] = .nan
        })
        add("hf-15", "no tokenizer files", ["import", "hf", "x.ttc"], prepare: { dir in
            for name in ["tokenizer.json", "vocab.json", "merges.txt"] { precondition(unlink(dir + "/hf/" + name) == 0) }
        })
        add("hf-16", "only pytorch_model.bin", ["import", "hf", "x.ttc"], prepare: { dir in
            precondition(rename(dir + "/hf/model.safetensors", dir + "/hf/pytorch_model.bin") == 0)
        })
        add("hf-17", "shard name escaping the directory", ["import", "hf", "x.ttc"], prepare: hfIndex("../m.safetensors"))
        add("hf-18", "shard symlink resolving outside the directory", ["import", "hf", "x.ttc"], prepare: { dir in
            try hfIndex("outside.safetensors")(dir)
            precondition(symlink("../m.safetensors", dir + "/hf/outside.safetensors") == 0)
        })
        add("hf-19", "index puts a tensor in a shard that lacks it", ["import", "hf", "x.ttc"], prepare: { dir in
            try hfIndex("model-00002-of-00002.safetensors")(dir)
            precondition(link(dir + "/m.safetensors", dir + "/hf/model-00002-of-00002.safetensors") == 0)
        })
        add("hf-20", "--d-model with --from hf", ["import", "hf", "x.ttc", "--from", "hf", "--d-model", "16"])
        add("nanogpt-1", "no --heads and no --model-args", ["import", "hf/model.safetensors", "x.ttc", "--from", "nanogpt", "--tokenizer", "byte"])
        add("nanogpt-2", "--model-args n_embd disagrees with the state dict", ["import", "hf/model.safetensors", "x.ttc", "--from", "nanogpt",
                                                                            "--tokenizer", "byte", "--model-args", "args.json"],
            prepare: { dir in FormatFixtures.writeBytes(Array(#"{"n_head": 2, "n_embd": 32}"#.utf8), to: dir + "/args.json") })
        add("nanogpt-3", "--model-args without --from nanogpt", ["import", "hf", "x.ttc", "--model-args", "corpus.txt"])
        add("export-hf-1", "--to hf of a gpt checkpoint", ["export", "g.ttc", "out", "--to", "hf"])
        add("export-hf-2", "--to hf of a word vocabulary", ["export", "g2w.ttc", "out", "--to", "hf"])
        add("export-hf-3", "--to hf with --include-optimizer", ["export", "g2.ttc", "out", "--to", "hf", "--include-optimizer"])
        add("export-hf-4", "--to hf into a directory holding the files, no --force", ["export", "g2.ttc", "hf", "--to", "hf"])
        add("export-hf-5", "--to hf onto a file", ["export", "g2.ttc", "corpus.txt", "--to", "hf"])
        add("export-hf-6", "--to hf in a missing directory", ["export", "g2.ttc", "nowhere/out", "--to", "hf"])
        add("export-hf-7", "--to hf, disk full", ["export", "g2.ttc", "out", "--to", "hf"], env: ["TTCKPT_FAULT_INJECT": "enospc:1000"])
        add("export-1", "output is the input", ["export", "m.ttc", "m.ttc"])
        add("export-2", "output in a missing directory", ["export", "m.ttc", "nowhere/m.safetensors"])
        add("plot-1", "missing --output", ["plot", "m.ttc"])
        add("plot-2", "three checkpoints", ["plot", "m.ttc", "m.ttc", "m.ttc", "-o", "x.svg"])
        add("plot-3", "--max-points 0", ["plot", "m.ttc", "-o", "x.svg", "--max-points", "0"])
        add("plot-4", "output is a directory", ["plot", "m.ttc", "-o", "folder.ttc"])
        // GGUF, safetensors and sharded sets (inspect and diff read every format).
        BadModelFiles.rows { add($0, $1, $2, prepare: $3) }
        add("tutorial-1", "output exists, no --force", ["tutorial", "m.ttc"])
        add("tutorial-2", "--steps 0", ["tutorial", "x.ttc", "--steps", "0"])
        // Format 1.1 rules (spec/FORMAT.md §3.3 content rules, §2 critical sections, §4
        // unknown tensor codes): every reader refuses these files.
        add("rule-1", "vocabulary with a duplicate token", ["train", "dup-vocab.ttc", "--steps", "1"])
        add("rule-2", "vocabulary with an empty token", ["sample", "empty-token.ttc"])
        add("rule-3", "word token holding a space", ["export", "space-token.ttc", "x.safetensors"])
        add("rule-4", "char token of two characters", ["inspect", "char-ab.ttc"])
        add("rule-5", "byte vocabulary of 6 tokens", ["train", "byte-6.ttc", "--steps", "1"])
        add("rule-6", "tokens seen at step 0", ["resume", "tokens-0-steps.ttc", "--steps", "1"])
        add("rule-7", "session starts going down", ["plot", "sessions-down.ttc", "-o", "x.svg"])
        add("rule-8", "unknown critical section", ["inspect", "critical.ttc"])
        add("rule-9", "parameter with an unknown dtype (code 9)", ["sample", "future-dtype.ttc"])
        add("rule-10", "import: a loss of 1e999", ["import", "loss-1e999.safetensors", "x.ttc"])
        add("rule-11", "import: session starts going down", ["import", "sessions-down.safetensors", "x.ttc"])
        add("rule-12", "import: char token of two characters", ["import", "char-ab.safetensors", "x.ttc"])
        add("trace-1", "nothing to do (no -o, --print or --json)", ["trace", "m.ttc"])
        add("trace-2", "--format unknown", ["trace", "m.ttc", "-o", "x.ttc", "--format", "npz"])
        add("trace-3", "--position past the batch", ["trace", "m.ttc", "--print", "--position", "9"])
        add("trace-4", "output exists, no --force", ["trace", "m.ttc", "-o", "g.ttc"])
        add("trace-5", "output is the input", ["trace", "m.ttc", "-o", "m.ttc", "--force"])
        add("trace-6", "--max-size-mib 0", ["trace", "m.ttc", "-o", "x.ttc", "--max-size-mib", "0"])
        add("trace-7", "disk full", ["trace", "m.ttc", "-o", "x.ttc"], env: ["TTCKPT_FAULT_INJECT": "enospc:100"])
        // Bad checkpoint files, for every command that reads one.
        let files: [(String, String)] = [
            ("missing.ttc", "missing file"), ("empty.ttc", "empty file"), ("folder.ttc", "a directory"),
            ("/dev/null", "not a regular file"), ("picture.png", "not a .ttc (PNG bytes)"),
            ("truncated.ttc", "truncated .ttc"), ("flipped.ttc", "one byte changed"), ("trailing.ttc", "a byte appended"),
            ("newer.ttc", "newer major version (2.0)"), ("huge-header.ttc", "header claiming 1 TB"),
            ("huge-tensor.ttc", "tensor of 2^60 elements"), ("huge-raw.ttc", "tensor claiming 2^40 elements (4 TiB) from a small blob"),
        ]
        for (i, (file, what)) in files.enumerated() {
            add("file-\(i + 1)-train", what, ["train", file, "--steps", "1"])
            add("file-\(i + 1)-resume", what, ["resume", file, "--steps", "1"])
            add("file-\(i + 1)-sample", what, ["sample", file])
            add("file-\(i + 1)-eval", what, ["eval", file, "--data", "corpus.txt"])
            // inspect reads the header only (spec §2): a damaged tensor is inspect-4's business.
            if file != "flipped.ttc" { add("file-\(i + 1)-inspect", what, ["inspect", file]) }
            add("file-\(i + 1)-diff", what, ["diff", "m.ttc", file])
            add("file-\(i + 1)-export", what, ["export", file, "x.safetensors"])
            // A loss chart needs only the header, like inspect.
            if file != "flipped.ttc" { add("file-\(i + 1)-plot", what, ["plot", file, "-o", "x.svg"]) }
            add("file-\(i + 1)-trace", what, ["trace", file, "--print"])
        }
        // A FIFO (named pipe): opening one for reading waits for a writer, so a reader that
        // opened before checking would hang (regression: every command did).
        let fifo: @Sendable (String) throws -> Void = { dir in precondition(mkfifo(dir + "/pipe.ttc", 0o644) == 0) }
        add("fifo-train", "checkpoint is a FIFO", ["train", "pipe.ttc", "--steps", "1", "-o", "x.ttc"], prepare: fifo)
        add("fifo-resume", "checkpoint is a FIFO", ["resume", "pipe.ttc", "--steps", "1", "-o", "x.ttc"], prepare: fifo)
        add("fifo-sample", "checkpoint is a FIFO", ["sample", "pipe.ttc"], prepare: fifo)
        add("fifo-eval-data", "eval text is a FIFO", ["eval", "w.ttc", "--data", "pipe.ttc"], prepare: fifo)
        add("fifo-inspect", "checkpoint is a FIFO", ["inspect", "pipe.ttc"], prepare: fifo)
        add("fifo-diff", "checkpoint is a FIFO", ["diff", "m.ttc", "pipe.ttc"], prepare: fifo)
        add("fifo-init-data", "corpus is a FIFO", ["init", "x.ttc", "--data", "pipe.ttc"], prepare: fifo)
        add("fifo-train-data", "corpus is a FIFO", ["train", "w.ttc", "--steps", "1", "--data", "pipe.ttc"], prepare: fifo)
        add("fifo-import", "safetensors input is a FIFO", ["import", "pipe.ttc", "x.ttc"], prepare: fifo)
        add("fifo-vocab", "--vocab-file is a FIFO", ["import", "m.safetensors", "x.ttc", "--tokenizer", "word", "--vocab-file", "pipe.ttc"],
            prepare: fifo)
        add("fifo-tokenizer", "--tokenizer-file is a FIFO", ["init", "x.ttc", "--tokenizer-file", "pipe.ttc"], prepare: fifo)
        add("fifo-export", "checkpoint is a FIFO", ["export", "pipe.ttc", "x.safetensors"], prepare: fifo)
        add("fifo-plot", "checkpoint is a FIFO", ["plot", "pipe.ttc", "-o", "x.svg"], prepare: fifo)
        add("fifo-trace", "checkpoint is a FIFO", ["trace", "pipe.ttc", "--print"], prepare: fifo)
        add("fifo-output", "output is a FIFO", ["train", "m.ttc", "--steps", "1", "-o", "pipe.ttc"], prepare: fifo)
        // Write faults (debug builds: TTCKPT_FAULT_INJECT, see Sources/tt-ckpt/Support/FaultInjection.swift).
        add("save-1", "disk full (ENOSPC after 4 KiB)", ["train", "m.ttc", "--steps", "1", "--quiet"], env: ["TTCKPT_FAULT_INJECT": "enospc:4096"])
        add("save-2", "disk full at the first byte", ["train", "m.ttc", "--steps", "1", "--save-every", "1", "--quiet"], env: ["TTCKPT_FAULT_INJECT": "enospc:0"])
        add("save-3", "unwritable directory (create fails)", ["train", "m.ttc", "--steps", "1", "--quiet"], env: ["TTCKPT_FAULT_INJECT": "create"])
        add("save-4", "fsync fails", ["train", "m.ttc", "--steps", "1", "--quiet"], env: ["TTCKPT_FAULT_INJECT": "fsync"])
        add("save-5", "close fails", ["resume", "m.ttc", "--steps", "1", "--quiet"], env: ["TTCKPT_FAULT_INJECT": "close"])
        add("save-6", "rename fails", ["train", "m.ttc", "--steps", "1", "--quiet"], env: ["TTCKPT_FAULT_INJECT": "rename"])
        add("save-7", "init: disk full", ["init", "x.ttc"], env: ["TTCKPT_FAULT_INJECT": "enospc:100"])
        add("save-8", "read-only target (mode 0444, real)", ["train", "m.ttc", "--steps", "1", "--quiet"], prepare: { dir in
            precondition(chmod(dir + "/m.ttc", 0o444) == 0)
        })
        add("save-9", "unknown fault name", ["train", "m.ttc", "--steps", "1", "--quiet"], env: ["TTCKPT_FAULT_INJECT": "meteor"])
        return rows
    }()

    // MARK: running

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var stderrLines: [String] { stderr.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).dropLast(stderr.hasSuffix("\n") ? 1 : 0) }
    }

    static func run(_ args: [String], in dir: String, env: [String: String] = [:]) -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLIRunner.binaryPath)
        process.arguments = args
        process.currentDirectoryURL = URL(fileURLWithPath: dir)
        process.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try! process.run()
        // A hang is a failure, not a stuck test run: kill the command after 60 s.
        DispatchQueue.global().asyncAfter(deadline: .now() + 60) { if process.isRunning { process.terminate() } }
        // Read both pipes to the end before waiting, so a full pipe cannot block the child.
        nonisolated(unsafe) var outData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { outData = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Every entry under `dir` (hidden ones included): kind, mode and bytes.
    static func snapshot(_ dir: String) -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        let fm = FileManager.default
        guard let e = fm.enumerator(atPath: dir) else { return out }
        while let name = e.nextObject() as? String {
            let path = dir + "/" + name
            var st = stat()
            precondition(lstat(path, &st) == 0)
            let mode = Array("mode \(st.st_mode) ".utf8)
            out[name] = (st.st_mode & S_IFMT) == S_IFREG ? mode + FormatFixtures.readBytes(path) : mode
        }
        return out
    }

    /// The stderr line with run-specific parts replaced: the temporary file's PID and
    /// random suffix, and the row's directory.
    static func normalized(_ line: String, dir: String) -> String {
        var s = line.replacingOccurrences(of: dir, with: "DIR")
        // Paths resolved through symlinks (a shard's real path) spell the directory canonically.
        if let real = realpath(dir, nil) {
            s = s.replacingOccurrences(of: String(cString: real), with: "DIR")
            free(real)
        }
        s = s.replacingOccurrences(of: #"\.tmp-[0-9]+-[0-9a-f]+"#, with: ".tmp-PID-HEX", options: .regularExpression)
        return s
    }

    struct Outcome {
        var row: Row
        var line: String
    }

    /// Runs one row in a fresh copy of the fixtures and checks the contract; returns the
    /// (normalized) stderr line.
    static func check(_ row: Row) throws -> Outcome {
        let dir = FormatFixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for name in try FileManager.default.contentsOfDirectory(atPath: template) {
            try FileManager.default.copyItem(atPath: template + "/" + name, toPath: dir + "/" + name)
        }
        try row.prepare?(dir)
        let before = snapshot(dir)
        let r = run(row.args, in: dir, env: row.env)
        let after = snapshot(dir)
        #expect(r.status == 2, "\(row.id) \(row.args): exit \(r.status), stderr \(r.stderr)")
        #expect(r.stderrLines.count == 1, "\(row.id) \(row.args): stderr \(r.stderr)")
        #expect(r.stdout.isEmpty || row.reportsOnStdout, "\(row.id) \(row.args): stdout \(r.stdout)")
        #expect(r.stderrLines.first?.hasPrefix("tt-ckpt: ") == true, "\(row.id): \(r.stderr)")
        let unchanged = before == after
        #expect(unchanged, "\(row.id) \(row.args): files changed: \(Set(before.keys).symmetricDifference(after.keys))")
        return Outcome(row: row, line: normalized(r.stderrLines.first ?? "", dir: dir))
    }

    // MARK: the table

    static var tablePath: String { TestPaths.path("spec/BAD-INPUT.md") }

    static func markdownCode(_ s: String) -> String {
        "`" + s.replacingOccurrences(of: "|", with: "\\|") + "`"
    }

    /// id → expected stderr line, from the table's rows `| id | input | `cmd` | `line` |`.
    static func expectedLines() throws -> [String: String] {
        let text = try String(contentsOfFile: tablePath, encoding: .utf8)
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("| ") {
            let cells = line.dropFirst(2).components(separatedBy: " | ")
            guard cells.count >= 4, let last = cells.last, last.hasPrefix("`"), last.hasSuffix("` |") else { continue }
            let code = String(last.dropFirst().dropLast(3)).replacingOccurrences(of: "\\|", with: "|")
            out[cells[0]] = code
        }
        return out
    }

    static func writeTable(_ outcomes: [Outcome]) throws {
        var md = """
            # Bad input: what the user sees

            Every bad input tried by `Tests/TTCkptTests/CLI/BadInputTests.swift`, with the exact line
            `tt-ckpt` prints on stderr. For every row the test also checks: exit status 2, exactly
            one stderr line, nothing on stdout (except `inspect --verify`, which prints its report
            first), and no file in the working directory created,
            changed or removed (byte for byte, hidden temporary files included).

            This file is generated by the test and checked against it on every run:
            `TTCKPT_WRITE_BAD_INPUT=1 swift test --filter BadInputTests` rewrites it.

            Fixtures (made by the test with the tool itself): `m.ttc` tutorial trained 2 steps;
            `fresh.ttc` never trained; `w.ttc` word vocabulary from `corpus.txt`, trained on it;
            `g.ttc` gpt arch; `g2.ttc` gpt2 arch (byte tokens) and `hf/` its `export --to hf` directory; `g2w.ttc` gpt2 with a word vocabulary; `wordpiece.json` a WordPiece tokenizer.json; `vocab.json` the 256 byte-level tokens and `merges.txt` a merge making a token it lacks; `gpt2-no-bias.ttc` a gpt2 file without `layers.0.attn.bo`;
            `gpt2-lm-head.ttc` a gpt2 file with an `lm_head` parameter; `one-word.txt` one word; `other.txt` another corpus of known words; `unknown.txt` a corpus with words not in `w.ttc`'s vocabulary;
            `dup-vocab.ttc`, `empty-token.ttc`, `space-token.ttc`, `char-ab.ttc`, `byte-6.ttc`, `tokens-0-steps.ttc`,
            `sessions-down.ttc` `m.ttc` with one content rule of spec/FORMAT.md §3.3 broken; `critical.ttc` `m.ttc` plus an
            unknown critical section `FUNK`; `loss-1e999.safetensors`, `sessions-down.safetensors`, `char-ab.safetensors`
            `export --include-optimizer` of `m.ttc` with a loss of 1e999, session starts [2, 1], a char vocabulary with "ab";
            `future-dtype.ttc` `m.ttc` with `lm_head`'s dtype code set to 9 (checksums right in all);
            `folder.ttc` a directory; `pipe.ttc` a FIFO (named pipe); `picture.png` PNG bytes; `truncated.ttc` the first half of
            `m.ttc`; `flipped.ttc` one byte changed; `trailing.ttc` one byte appended; `newer.ttc`
            major version 2; `huge-header.ttc` header length 2^40 (CRCs fixed); `huge-tensor.ttc`
            `tok_emb` shape (2^30, 2^30) (CRCs fixed); `huge-raw.ttc` `tok_emb` shape (2^20, 2^20)
            with a matching raw length of 4 TiB (CRCs fixed). The absurd sizes are rejected before
            any allocation (`HostileAbsurdSizeTests` measures it). `DIR` stands for the working
            directory and `PID-HEX` for the temporary file's run-specific suffix.

            GGUF, safetensors and sharded-set rows (`gguf-*`, `st-*`, `shard-*`, `detect-*`): the
            files are crafted by `Tests/TTCkptTests/CLI/BadInputModelFiles.swift` from the fixtures
            numpy, safetensors and gguf wrote (`Tests/Fixtures/modelfiles`: `model.gguf` is
            `model-v3.gguf`, `m.safetensors` the export of `m.ttc`) or field by field. Each
            sharded-set row's directory is a copy of `Tests/Fixtures/modelfiles/sharded` (two
            shards and `model.safetensors.index.json`) with the one fault the row names. The
            same line comes from `inspect`, `inspect --stats`, `inspect --verify` and `diff` (on
            either side): the readers validate everything they rely on when a file is opened.

            Not an error: `tt-ckpt diff` of two good checkpoints with different configs (for
            example `m.ttc` and `g.ttc`) reports the differing fields and tensors and exits 1,
            like `cmp` (`BadInputTests.diffOfDifferentConfigsReportsAndExits1`).

            Write faults: `TTCKPT_FAULT_INJECT` (debug builds only; values in
            `Sources/tt-ckpt/Support/FaultInjection.swift`) fails the writer's file-system calls;
            `HostileSaveTests` also produces a real full disk (a 64 KiB tmpfs) and a real
            read-only directory (a read-only bind mount) when run as root.

            | Id | Input | Command | stderr |
            |---|---|---|---|

            """
        for o in outcomes {
            let env = o.row.env.map { "\($0.key)=\($0.value) " }.joined()
            let cmd = env + "tt-ckpt " + o.row.args.map { $0.isEmpty ? "''" : $0.contains(" ") ? "'\($0)'" : TerminalText.escaped($0) }.joined(separator: " ")
            md += "| \(o.row.id) | \(o.row.input) | \(markdownCode(cmd)) | \(markdownCode(o.line)) |\n"
        }
        try md.write(toFile: tablePath, atomically: true, encoding: .utf8)
    }

    /// The reader refuses a FIFO at once instead of waiting in open(2) for a writer.
    @Test func readerRefusesAFIFOWithoutBlocking() throws {
        let dir = FormatFixtures.tempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/pipe.ttc"
        #expect(mkfifo(path, 0o644) == 0)
        nonisolated(unsafe) var kind: FormatError.Kind? = nil
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            do { _ = try CheckpointReader(path: path) } catch { kind = (error as? FormatError)?.kind }
            done.signal()
        }
        #expect(done.wait(timeout: .now() + 10) == .success, "CheckpointReader(path:) blocked on a FIFO")
        #expect(kind == .io)
    }

    @Test func diffOfDifferentConfigsReportsAndExits1() throws {
        let dir = Self.template
        let r = Self.run(["diff", "m.ttc", "g.ttc"], in: dir)
        #expect(r.status == 1)
        #expect(r.stderr.isEmpty)
        #expect(r.stdout.contains("config.arch") && r.stdout.contains("\"tutorial\"") && r.stdout.contains("\"gpt\""))
        #expect(r.stdout.contains("only in B: ln_f.gamma"))
        #expect(Self.run(["diff", "m.ttc", "m.ttc"], in: dir).status == 0)
    }

    @Test func everyBadInputGivesOneLineExit2AndChangesNothing() throws {
        var outcomes: [Outcome] = []
        for row in Self.rows { outcomes.append(try Self.check(row)) }
        #expect(Set(Self.rows.map(\.id)).count == Self.rows.count, "row ids are unique")
        if ProcessInfo.processInfo.environment["TTCKPT_WRITE_BAD_INPUT"] != nil {
            try Self.writeTable(outcomes)
            return
        }
        let expected = try Self.expectedLines()
        #expect(Set(expected.keys) == Set(Self.rows.map(\.id)), "spec/BAD-INPUT.md rows differ from the test's")
        for o in outcomes {
            #expect(expected[o.row.id] == o.line, "\(o.row.id): table says \(expected[o.row.id] ?? "nothing"), got \(o.line)")
        }
    }
}

/// Crafted files with absurd sizes, CRCs recomputed so the size checks are what rejects them.
enum BadFiles {
    typealias M = HostileMutationTests

    static func headerClaiming1TB(_ good: [UInt8]) -> [UInt8] {
        var b = good
        M.store(&b, 16, 8, 1 << 40)
        M.store(&b, 28, 4, UInt64(crc32Of(b[0..<28])))
        return b
    }

    /// The first tensor's two dimensions set to (a, b), and optionally its raw length.
    static func firstTensor(_ good: [UInt8], dims: (UInt64, UInt64), rawLength: UInt64? = nil) -> [UInt8] {
        var b = good
        let fields = M.fields(of: b)
        let dimsAt = fields.filter { $0.label == "dimension" }.prefix(2).map(\.offset)
        M.store(&b, dimsAt[0], 8, dims.0)
        M.store(&b, dimsAt[1], 8, dims.1)
        if let rawLength, let raw = fields.first(where: { $0.label == "raw_length" }) { M.store(&b, raw.offset, 8, rawLength) }
        return M.fixChecksums(b)
    }

    static func tensorOf2To60Elements(_ good: [UInt8]) -> [UInt8] { firstTensor(good, dims: (1 << 30, 1 << 30)) }

    static func tensorClaiming2To40Elements(_ good: [UInt8]) -> [UInt8] {
        firstTensor(good, dims: (1 << 20, 1 << 20), rawLength: 1 << 42)
    }
}
