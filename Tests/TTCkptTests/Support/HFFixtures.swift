import Foundation
import Testing
@testable import TTCore
@testable import TTEngine
@testable import TTInterop

/// The transformers fixtures in Tests/Fixtures/hf (written by python/tools/make_hf_fixtures.py
/// with transformers 5.24 / torch 2.15; see their README), read into tt-ckpt's gpt2 layout by
/// a small test-side mapping of the names (the README's table): the four Conv1D weights are
/// stored (in, out) and transposed to our (out, in); the LM head is tied to
/// `transformer.wte.weight`, stored once.
enum HFFixtures {
    static let root = TestPaths.path("Tests/Fixtures/hf")

    struct Config: Decodable, CustomTestStringConvertible, Sendable {
        var name: String
        var L: Int, T: Int, V: Int, D: Int, H: Int, B: Int
        var n_targets: Int
        var loss: Double
        var testDescription: String { name }

        /// n_inner is null in every fixture: F = 4D.
        var modelConfig: ModelConfig {
            ModelConfig(arch: .gpt2, vocabSize: V, dModel: D, nHeads: H, dFF: 4 * D, nLayers: L, context: T)
        }
        var directory: String { HFFixtures.root + "/" + name }
    }

    static let configs: [Config] = {
        struct File: Decodable { var configs: [Config] }
        let data = try! Data(contentsOf: URL(fileURLWithPath: root + "/fixtures.json"))
        return try! JSONDecoder().decode(File.self, from: data).configs
    }()

    /// A tensor read from a safetensors file.
    struct Tensor {
        var shape: [Int]
        var floats: [Float] = []
        var ints: [Int64] = []
    }

    /// Every tensor of one safetensors file (F32 as floats, I64 as ints).
    static func read(_ path: String) throws -> [String: Tensor] {
        let file = try SafetensorsFile(path: path)
        var out: [String: Tensor] = [:]
        for info in file.tensors {
            var t = Tensor(shape: info.shape)
            switch info.dtype {
            case .i64:
                let bytes = try file.loadBytes(info)
                t.ints = (0..<info.elementCount).map { i in
                    bytes.withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)) }
                }
            default:
                t.floats = try file.loadFloats(info)
            }
            out[info.name] = t
        }
        return out
    }

    /// The model's weights: model.safetensors, or the shards of a sharded save.
    static func weights(_ c: Config) throws -> [String: Tensor] {
        let names = try FileManager.default.contentsOfDirectory(atPath: c.directory)
            .filter { $0.hasPrefix("model") && $0.hasSuffix(".safetensors") }.sorted()
        var all: [String: Tensor] = [:]
        for n in names { all.merge(try read(c.directory + "/" + n)) { a, _ in a } }
        return all
    }

    /// transformers' name of one of our gpt2 tensors, and whether it is a Conv1D weight
    /// stored (in, out), i.e. the transpose of ours.
    static func hfName(_ ours: String) -> (name: String, transposed: Bool) {
        let fixed: [String: String] = ["tok_emb": "transformer.wte.weight", "pos_emb": "transformer.wpe.weight",
                                       "ln_f.gamma": "transformer.ln_f.weight", "ln_f.beta": "transformer.ln_f.bias"]
        if let n = fixed[ours] { return (n, false) }
        let parts = ours.split(separator: ".", maxSplits: 2).map(String.init)   // layers, i, rest
        let prefix = "transformer.h.\(parts[1])."
        let rest: [String: (String, Bool)] = [
            "ln1.gamma": ("ln_1.weight", false), "ln1.beta": ("ln_1.bias", false),
            "attn.wqkv": ("attn.c_attn.weight", true), "attn.bqkv": ("attn.c_attn.bias", false),
            "attn.wo": ("attn.c_proj.weight", true), "attn.bo": ("attn.c_proj.bias", false),
            "ln2.gamma": ("ln_2.weight", false), "ln2.beta": ("ln_2.bias", false),
            "ffn.w1": ("mlp.c_fc.weight", true), "ffn.b1": ("mlp.c_fc.bias", false),
            "ffn.w2": ("mlp.c_proj.weight", true), "ffn.b2": ("mlp.c_proj.bias", false),
        ]
        let (n, t) = rest[parts[2]]!
        return (prefix + n, t)
    }

    /// nanoGPT's name of one of our gpt2 tensors: transformers' names, nn.Linear (out, in)
    /// weights stored as they are.
    static func nanoGPTName(_ ours: String) -> String { hfName(ours).name }

    /// Copies `tensors` (transformers' names and layout, or nanoGPT's with `transposed`
    /// false) into `buffer` laid out as `model.layout`. Every slot must be filled and every
    /// tensor used (other than those in `ignoring`).
    static func fill(_ buffer: UnsafeMutableBufferPointer<Float>, of model: Model, from tensors: [String: Tensor],
                     conv1D: Bool = true, ignoring: Set<String> = []) throws {
        var used = Set<String>()
        for slot in model.layout.slots {
            let (name, transposed) = hfName(slot.name)
            guard let t = tensors[name] else { throw FixtureError("missing \(name)") }
            used.insert(name)
            let view = model.view(buffer, slot)
            if transposed && conv1D {
                // ours (out, in) = theirs (in, out)ᵀ
                guard t.shape == [slot.shape[1], slot.shape[0]] else { throw FixtureError("\(name) has shape \(t.shape)") }
                let (rows, cols) = (slot.shape[0], slot.shape[1])
                for r in 0..<rows { for c in 0..<cols { view[r * cols + c] = t.floats[c * rows + r] } }
            } else {
                guard t.shape == slot.shape else { throw FixtureError("\(name) has shape \(t.shape), expected \(slot.shape)") }
                for i in 0..<slot.count { view[i] = t.floats[i] }
            }
        }
        let unused = Set(tensors.keys).subtracting(used).subtracting(ignoring)
        guard unused.isEmpty else { throw FixtureError("unmapped tensors \(unused.sorted())") }
    }

    /// One of our tensors read back in transformers' layout (transposed for Conv1D weights).
    static func inHFLayout(_ values: UnsafeMutableBufferPointer<Float>, slot: TensorSlot) -> [Float] {
        guard hfName(slot.name).transposed else { return Array(values) }
        let (rows, cols) = (slot.shape[0], slot.shape[1])
        var out = [Float](repeating: 0, count: slot.count)
        for r in 0..<rows { for c in 0..<cols { out[c * rows + r] = values[r * cols + c] } }
        return out
    }

    /// The fixture's batch: tokens = input_ids; the target at (b, t) is labels[b, t+1]
    /// (transformers shifts the labels inside the model), `Batch.ignore` where that label is
    /// -100 (ignore_index) and at the last position, which has no target.
    static func batch(_ c: Config, _ io: [String: Tensor]) -> Batch {
        let ids = io["input_ids"]!.ints, labels = io["labels"]!.ints
        var targets = [Int32](repeating: Batch.ignore, count: c.B * c.T)
        for b in 0..<c.B {
            for t in 0..<(c.T - 1) {
                let y = labels[b * c.T + t + 1]
                targets[b * c.T + t] = y == -100 ? Batch.ignore : Int32(y)
            }
        }
        return Batch(tokens: ids.map { Int32($0) }, targets: targets, batchSize: c.B, seqLen: c.T)
    }

    /// A model holding the fixture's weights.
    static func model(_ c: Config) throws -> Model {
        let model = Model(config: c.modelConfig, maxBatchSize: c.B)
        try fill(model.parameters, of: model, from: try weights(c))
        return model
    }

    struct FixtureError: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }
}
