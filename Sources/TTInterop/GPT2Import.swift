import TTCore
import TTFormat
import TTTokenizer
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// GPT-2 checkpoints of other tools into a gpt2 `Checkpoint`: a Hugging Face transformers
/// directory, or a nanoGPT state dict saved as safetensors. Names and transposes come from
/// the one table, `GPT2Naming`; every tensor of the file is accounted for:
///
/// - each gpt2 parameter exactly once, with the shape the config gives it (transformers'
///   Conv1D weights (in, out), transposed on the way in; nanoGPT's nn.Linear (out, in) as is);
/// - `lm_head.weight`, if present, must equal `transformer.wte.weight` bit for bit (gpt2 ties
///   the head; an untied head is refused rather than dropped);
/// - the attention-mask buffers `h.N.attn.bias` / `h.N.attn.masked_bias` are skipped;
/// - anything else is an error naming the tensor.
///
/// Values are F32, F16, BF16 or F64 in the file (all become Float; F16/BF16 exactly) and
/// must be finite. The training state is fresh: step 0, zero AdamW moments, default
/// optimizer settings, the generator seeded with the given seed (42 by default).
public enum GPT2Import {
    /// What the caller adds to the files.
    public struct Options: Sendable {
        /// The vocabulary, overriding tokenizer files in the directory.
        public var vocabulary: Vocabulary?
        public var seed: UInt64 = 42
        /// nanoGPT: the number of heads (shapes do not give it), if there are no model args.
        public var heads: Int?
        /// nanoGPT: the parsed `model_args` dict (n_layer, n_head, n_embd, block_size, bias,
        /// vocab_size, dropout) and the file it came from.
        public var modelArgs: (json: HeaderJSON, path: String)?
        public init() {}
    }

    // MARK: transformers

    /// Reads a transformers directory: config.json, model.safetensors (or
    /// model.safetensors.index.json and its shards), and tokenizer.json or vocab.json +
    /// merges.txt unless `options.vocabulary` is given.
    /// - Throws: `FormatError` (or `InputError` from a tokenizer file) naming the file and the
    ///   key or tensor at fault.
    public static func readTransformers(directory: String, options: Options = Options()) throws -> Checkpoint {
        let dir = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        switch POSIXFileSystem().status(dir) {
        case .directory: break
        case .missing: throw FormatError(path: dir, kind: .io, message: "no such directory")
        default: throw FormatError(path: dir, message: "is not a directory (a transformers checkpoint is a directory with config.json)")
        }
        let configPath = dir + "/config.json"
        let configBytes = try ReadableFile.readAll(configPath, limit: TransformersConfig.maxFileSize)
        let json: HeaderJSON
        do { json = try HeaderJSON.parse(configBytes, maxArrayLength: 1 << 12, maxObjectMembers: 1 << 12) } catch {
            throw FormatError(path: configPath, message: "\(error)")
        }
        let (config, _) = try TransformersConfig.modelConfig(json, path: configPath)

        let vocabulary: Vocabulary
        if let v = options.vocabulary {
            vocabulary = v
        } else if let t = try TokenizerFiles.read(directory: dir) {
            vocabulary = Vocabulary(t)
        } else {
            throw FormatError(path: dir, message: "has no tokenizer files (tokenizer.json, or vocab.json and merges.txt)",
                              remedy: .giveFile(.tokenizerFile))
        }
        let sources = try weightFiles(dir)
        return try assemble(config: config, vocabulary: vocabulary, naming: .hf, tensors: sources, seed: options.seed,
                            vocabularySource: dir)
    }

    /// The tensors of model.safetensors, or of the shards model.safetensors.index.json lists.
    static func weightFiles(_ dir: String) throws -> [(info: SafetensorsTensorInfo, file: SafetensorsFile)] {
        let io = POSIXFileSystem()
        let single = dir + "/model.safetensors"
        if io.status(single) != .missing {
            let file = try SafetensorsFile(path: single)
            return file.tensors.map { ($0, file) }
        }
        let index = dir + "/model.safetensors.index.json"
        if io.status(index) != .missing { return try shardedTensors(index: index, directory: dir) }
        if io.status(dir + "/pytorch_model.bin") != .missing {
            throw FormatError(path: dir, message: "has only pytorch_model.bin; tt-ckpt reads safetensors weights (model.safetensors)")
        }
        throw FormatError(path: dir, message: "has no model.safetensors or model.safetensors.index.json")
    }

    /// A sharded set, read and checked by the one sharded-safetensors reader
    /// (`ShardedSafetensors`: the index against every shard, shard names inside the directory).
    static func shardedTensors(index: String, directory: String) throws -> [(info: SafetensorsTensorInfo, file: SafetensorsFile)] {
        let set = try ShardedSafetensors(indexPath: index)
        return set.tensors.map { ($0.info, set.shards[$0.shard].file) }
    }

    // MARK: nanoGPT

    /// Reads a nanoGPT `GPT` state dict saved as safetensors. The config comes from the
    /// shapes (V, D from wte, T from wpe, L from the h.N names, F from c_fc) and the number of
    /// heads from `options.modelArgs` (checked against the shapes) or `options.heads`.
    /// `_orig_mod.` prefixes (torch.compile) are dropped. With `bias: false` (or no bias
    /// tensors at all) the biases and LayerNorm β are zero, which is what nanoGPT computes.
    /// nanoGPT's own forward uses the exact (erf) GELU; tt-ckpt's gpt2 uses GPT-2's tanh
    /// GELU, so logits differ slightly from nanoGPT's (not from transformers').
    /// - Throws: `FormatError` naming the file and the tensor or key at fault.
    public static func readNanoGPT(path: String, options: Options) throws -> Checkpoint {
        func fail(_ message: String, remedy: Remedy? = nil) -> FormatError { FormatError(path: path, message: message, remedy: remedy) }
        let file = try SafetensorsFile(path: path)
        let prefix = "_orig_mod."
        let tensors = file.tensors.map { t -> (info: SafetensorsTensorInfo, file: SafetensorsFile) in
            var t = t
            if t.name.hasPrefix(prefix) { t.name = String(t.name.dropFirst(prefix.count)) }
            return (t, file)
        }
        func shape(_ name: String) -> [Int]? { tensors.first { $0.info.name == name }?.info.shape }
        guard let wte = shape("transformer.wte.weight"), wte.count == 2 else {
            throw fail("no 2-D transformer.wte.weight: not a nanoGPT GPT state dict")
        }
        guard let wpe = shape("transformer.wpe.weight"), wpe.count == 2 else { throw fail("no 2-D transformer.wpe.weight") }
        var layers = 0
        for t in tensors {
            if let m = GPT2Naming.nanoGPT.canonicalName(for: t.info.name), m.canonical.hasPrefix("layers."),
               let i = Int(m.canonical.split(separator: ".")[1]), i < ModelConfig.limits.nLayers {
                layers = max(layers, i + 1)
            }
        }
        guard let fc = shape("transformer.h.0.mlp.c_fc.weight"), fc.count == 2 else {
            throw fail("no 2-D transformer.h.0.mlp.c_fc.weight")
        }
        var heads = options.heads
        let hasBias = tensors.contains { $0.info.name.hasSuffix(".bias") && GPT2Naming.nanoGPT.canonicalName(for: $0.info.name) != nil }
        if let (args, argsPath) = options.modelArgs {
            func argFail(_ m: String) -> FormatError { FormatError(path: argsPath, message: m) }
            guard case .object = args else { throw argFail("is not a JSON object (nanoGPT's model_args)") }
            for (key, value) in [("n_layer", layers), ("n_embd", wte[1]), ("block_size", wpe[0]), ("vocab_size", wte[0])] {
                guard let v = args[key] else { continue }
                guard v.nonNegativeInt == value else {
                    throw argFail("\(key) is \(TransformersConfig.display(v)) but the state dict has \(value)")
                }
            }
            if let h = args["n_head"] {
                guard let n = h.nonNegativeInt, n >= 1 else { throw argFail("n_head is not a positive integer") }
                if let given = heads, given != n { throw argFail("n_head is \(n) but \(given) heads were given") }
                heads = n
            }
            if let b = args["bias"] {
                guard case let .bool(bias) = b else { throw argFail("bias is not true or false") }
                guard bias == hasBias else {
                    throw argFail("bias is \(bias) but the state dict " + (hasBias ? "has" : "has no") + " bias tensors")
                }
            }
        }
        guard let h = heads else {
            throw fail("the number of heads is not in the tensor shapes", remedy: .give([.nHeads]))
        }
        let config = ModelConfig(arch: .gpt2, vocabSize: wte[0], dModel: wte[1], nHeads: h, dFF: fc[0], nLayers: layers, context: wpe[0])
        do { try config.validate() } catch let e as ConfigError { throw fail("config \(e)") }
        guard let vocabulary = options.vocabulary else {
            throw fail("a nanoGPT state dict has no tokenizer", remedy: .giveFile(.tokenizerFile))
        }
        return try assemble(config: config, vocabulary: vocabulary, naming: .nanoGPT, tensors: tensors, seed: options.seed,
                            vocabularySource: path, zeroBiases: !hasBias)
    }

    // MARK: shared

    /// Maps every tensor to its canonical slot (rules at the top of this type) and builds a
    /// fresh checkpoint.
    static func assemble(config: ModelConfig, vocabulary: Vocabulary, naming: GPT2Naming,
                         tensors: [(info: SafetensorsTensorInfo, file: SafetensorsFile)], seed: UInt64,
                         vocabularySource: String, zeroBiases: Bool = false) throws -> Checkpoint {
        let layout = ParameterLayout(config: config)
        var slots: [String: TensorSlot] = [:]
        for s in layout.slots { slots[s.name] = s }
        var found: [String: (info: SafetensorsTensorInfo, file: SafetensorsFile, transposed: Bool)] = [:]
        var head: (info: SafetensorsTensorInfo, file: SafetensorsFile)?
        for (info, file) in tensors {
            func fail(_ message: String) -> FormatError { FormatError(path: file.path, message: "tensor \(quotedName(info.name)) \(message)") }
            if let m = naming.canonicalName(for: info.name) {
                guard slots[m.canonical] != nil else {
                    throw fail("is not part of this config (n_layer \(config.nLayers))")
                }
                if let other = found[m.canonical] {
                    throw fail("and \(quotedName(other.info.name)) are the same parameter")
                }
                found[m.canonical] = (info, file, m.transposed)
            } else if let aux = naming.auxiliary(info.name) {
                switch aux {
                case .buffer: continue
                case .tiedHead: head = (info, file)
                }
            } else {
                throw fail("is not a GPT-2 parameter" + (naming == .hf ? " (GPT2LMHeadModel)" : " (nanoGPT GPT)"))
            }
        }
        var values: [String: [Float]] = [:]
        for slot in layout.slots {
            let m = naming.foreignName(for: slot.name)!
            guard let (info, file, transposed) = found[slot.name] else {
                let isBias = slot.kind == .bias || slot.kind == .normBias
                if zeroBiases && isBias {
                    values[slot.name] = [Float](repeating: 0, count: slot.count)
                    continue
                }
                let where_ = tensors.first?.file.path ?? vocabularySource
                throw FormatError(path: where_, kind: .missingTensor, message: "tensor \(quotedName(m.foreign)) is missing")
            }
            let expected = transposed ? [slot.shape[1], slot.shape[0]] : slot.shape
            guard info.shape == expected else {
                throw FormatError(path: file.path, kind: .tensorShape,
                                  message: "tensor \(quotedName(info.name)) has shape \(info.shape), expected \(expected) for this config")
            }
            var v = try loadFinite(info, file)
            if transposed { v = GPT2Naming.transpose(v, rows: expected[0], columns: expected[1]) }
            values[slot.name] = v
        }
        if let (info, file) = head {
            let tok = values["tok_emb"]!
            guard info.shape == [config.vocabSize, config.dModel] else {
                throw FormatError(path: file.path, kind: .tensorShape,
                                  message: "tensor \(quotedName(info.name)) has shape \(info.shape), expected \([config.vocabSize, config.dModel]) (the tied head)")
            }
            let h = try loadFinite(info, file)
            if let k = h.indices.first(where: { h[$0].bitPattern != tok[$0].bitPattern }) {
                throw FormatError(path: file.path, message: "tensor \(quotedName(info.name)) differs from the token embedding at element \(k); tt-ckpt's gpt2 ties the head to it (untied heads are not supported)")
            }
        }
        guard vocabulary.tokens.count == config.vocabSize else {
            throw FormatError(path: vocabularySource, message: "the tokenizer has \(vocabulary.tokens.count) tokens but the model's vocab_size is \(config.vocabSize)")
        }
        var out: [NamedTensor] = []
        out.reserveCapacity(3 * layout.slots.count)
        for role in [TensorRole.parameter, .adamM, .adamV] {
            for slot in layout.slots {
                out.append(NamedTensor(name: role.namePrefix + slot.name, role: role, shape: slot.shape,
                                       values: role == .parameter ? values[slot.name]! : [Float](repeating: 0, count: slot.count)))
            }
        }
        var training = TrainingState(rng: PythonRandom(seed: seed).state)
        training.seed = seed
        return Checkpoint(config: config, vocabulary: vocabulary, training: training, tensors: out)
    }

    static func loadFinite(_ info: SafetensorsTensorInfo, _ file: SafetensorsFile) throws -> [Float] {
        let v = try file.loadFloats(info)
        if let bad = v.firstIndex(where: { !$0.isFinite }) {
            throw FormatError(path: file.path, message: "tensor \(quotedName(info.name)) has a non-finite value at element \(bad)")
        }
        return v
    }
}
