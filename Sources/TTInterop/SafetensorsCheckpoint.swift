import TTCore
import TTFormat
import TTTokenizer
/// Moving a `Checkpoint` to and from safetensors.
///
/// Export writes the parameters under their canonical names (`tok_emb`, `layers.0.attn.wq`,
/// ...), and with the optimizer also `adam_m.<name>` and `adam_v.<name>`, all F32. The
/// `__metadata__` map holds (every value a string, as safetensors requires):
///
/// | key | value |
/// |---|---|
/// | `format` | `tt-ckpt` |
/// | `tool_version` | the exporting tool's version |
/// | `arch` | `tutorial`, `gpt` or `gpt2` |
/// | `vocab_size`, `d_model`, `n_heads`, `d_ff`, `n_layers`, `context` | decimal integers |
/// | `tokenizer` | `word`, `char`, `byte` or `bpe` |
/// | `vocabulary` | the token strings as a JSON list, id = index |
/// | `bpe` | bpe only: JSON object of the merges (ids, two per merge), added_ids, added_flags, pre_tokenizer, add_prefix_space, ignore_merges |
/// | `step`, `tokens_seen`, `seed` | decimal integers from the training state |
/// | `loss_history` | JSON list of the per-step losses (shortest float32 decimals; null if not finite) |
/// | `session_starts` | JSON list of the step counts at which sessions began |
///
/// Import rebuilds a checkpoint from such a file, or from one written elsewhere: each config
/// field comes from an explicit option, else the metadata, else the tensor shapes; the
/// vocabulary from options, else the metadata. Every tensor of the config's layout must be
/// present with its exact shape; anything else in the file is an error naming the tensor.
public enum SafetensorsCheckpoint {
    /// The tensors and metadata `export` writes.
    public static func exportContents(_ checkpoint: Checkpoint, includeOptimizer: Bool) -> (tensors: [SafetensorsTensor], metadata: [String: String]) {
        let roles: Set<TensorRole> = includeOptimizer ? [.parameter, .adamM, .adamV] : [.parameter]
        let tensors = checkpoint.tensors.filter { roles.contains($0.role) }
            .map { SafetensorsTensor(name: $0.name, shape: $0.shape, values: $0.values) }
        let c = checkpoint.config
        let vocabulary = JSONValue.array(checkpoint.vocabulary.tokens.map { .string($0) }).serialized(pretty: false, escaping: .minimal)
        var metadata: [String: String] = [
            "format": "tt-ckpt",
            "tool_version": TTCkptVersion.string,
            "arch": c.arch.rawValue,
            "vocab_size": String(c.vocabSize),
            "d_model": String(c.dModel),
            "n_heads": String(c.nHeads),
            "d_ff": String(c.dFF),
            "n_layers": String(c.nLayers),
            "context": String(c.context),
            "tokenizer": checkpoint.vocabulary.kind.rawValue,
            "vocabulary": vocabulary,
            "step": String(checkpoint.training.step),
            "tokens_seen": String(checkpoint.training.tokensSeen),
            "seed": String(checkpoint.training.seed),
            "loss_history": JSONValue.array(checkpoint.training.lossHistory.map { .float($0) }).serialized(pretty: false, escaping: .minimal),
            "session_starts": JSONValue.array(checkpoint.training.sessionStarts.map { .int($0) }).serialized(pretty: false, escaping: .minimal),
        ]
        metadata["bpe"] = bpeMetadata(checkpoint.vocabulary)
        return (tensors, metadata)
    }

    /// A bpe vocabulary's merges and settings as one JSON object (`bpe` in `__metadata__`),
    /// with the spec's key names: merges (ids, two per merge), added_ids, added_flags,
    /// pre_tokenizer, add_prefix_space, ignore_merges. nil for other kinds.
    static func bpeMetadata(_ v: Vocabulary) -> String? {
        guard v.kind == .bpe, let b = v.bpe else { return nil }
        return JSONValue.object([
            ("merges", .array(b.merges.map { .int(Int($0)) })),
            ("added_ids", .array(b.addedIDs.map { .int(Int($0)) })),
            ("added_flags", .array(b.addedFlags.map { .int(Int($0)) })),
            ("pre_tokenizer", .string(b.preTokenizer)),
            ("add_prefix_space", .bool(b.addPrefixSpace)),
            ("ignore_merges", .bool(b.ignoreMerges)),
        ]).serialized(pretty: false, escaping: .minimal)
    }

    /// Reads `bpeMetadata`'s object back.
    static func bpeData(_ text: String) throws -> BPEData {
        func fail() -> ConfigError { ConfigError(field: "bpe", message: "is not the object tt-ckpt export writes") }
        let json = try HeaderJSON.parse(Array(text.utf8), maxArrayLength: 2 * BPELimits.maxMerges, maxObjectMembers: 16)
        func ids(_ key: String) throws -> [UInt32] {
            guard case let .array(items)? = json[key] else { throw fail() }
            return try items.map { guard let v = $0.nonNegativeInt, v <= Int(UInt32.max) else { throw fail() }; return UInt32(v) }
        }
        guard let pre = json["pre_tokenizer"]?.stringValue, let prefix = json["add_prefix_space"]?.boolValue,
              let ignore = json["ignore_merges"]?.boolValue else { throw fail() }
        return BPEData(merges: try ids("merges"), addedIDs: try ids("added_ids"), addedFlags: try ids("added_flags"),
                       preTokenizer: pre, addPrefixSpace: prefix, ignoreMerges: ignore)
    }

    /// Writes `checkpoint` as safetensors at `path`, atomically through `io` (`AtomicWrite`).
    public static func export(_ checkpoint: Checkpoint, to path: String, includeOptimizer: Bool,
                              io: any FileSystemIO = POSIXFileSystem()) throws {
        // A trace (spec/TRACE.md) exports all its tensors, as `trace --format safetensors` writes them.
        let (tensors, metadata) = checkpoint.trace == nil ? exportContents(checkpoint, includeOptimizer: includeOptimizer)
                                                          : traceContents(checkpoint)
        try SafetensorsWriter.write(tensors, metadata: metadata, to: path, io: io)
    }

    /// What the caller knows about a file that lacks tt-ckpt metadata. Every non-nil field
    /// overrides the metadata and the shapes.
    public struct ImportOptions: Sendable {
        /// Config fields given by the caller.
        public var config = ConfigOverrides()
        public var vocabulary: Vocabulary?
        /// Seed of the fresh training state (default: metadata `seed`, else 42).
        public var seed: UInt64?
        public init() {}
    }

    /// Rebuilds a checkpoint from a validated safetensors file.
    ///
    /// The training state is fresh: its generator is `PythonRandom(seed:)`, no data identity,
    /// default optimizer settings. When the file carries the AdamW moments (a `tt-ckpt
    /// export --include-optimizer`), the training progress is restored with them so AdamW's
    /// bias correction continues where it was: `step`, `tokens_seen`, `loss_history` (finite
    /// float32 numbers) and `session_starts` must all be in `__metadata__` and obey the
    /// content rules of spec/FORMAT.md §3.3 (`ContentRules`), else import fails naming the
    /// key; it never resets the progress while keeping the moments. Without moments the
    /// step is 0, the history empty and the moments zero. The vocabulary obeys the same
    /// rules as a .ttc's.
    /// - Throws: `FormatError` naming the file and the field or tensor at fault.
    public static func importCheckpoint(_ file: SafetensorsFile, options: ImportOptions = ImportOptions()) throws -> Checkpoint {
        func fail(_ message: String, remedy: Remedy? = nil) -> FormatError {
            FormatError(path: file.path, message: message, remedy: remedy)
        }
        let meta = file.metadata ?? [:]
        let byName = Dictionary(file.tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })

        func metaInt(_ key: String) throws -> Int? {
            guard let text = meta[key] else { return nil }
            guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let v = Int(text) else {
                throw fail("__metadata__ \(key) is not a non-negative integer: \(quotedName(text))")
            }
            return v
        }
        func shape(_ name: String, _ axis: Int) -> Int? {
            guard let t = byName[name], axis < t.shape.count else { return nil }
            return t.shape[axis]
        }
        func resolve(_ key: String, _ option: Int?, inferred: Int?) throws -> Int {
            if let option { return option }
            if let v = try metaInt(key) { return v }
            if let inferred { return inferred }
            throw fail("cannot tell \(key): not in __metadata__ and no tensor to infer it from",
                       remedy: Setting(configField: key).map { .give([$0]) })
        }

        // Architecture.
        let arch: Architecture
        if let a = options.config.arch {
            arch = a
        } else if let text = meta["arch"] {
            guard let a = Architecture(rawValue: text) else { throw fail("__metadata__ arch \(quotedName(text)) is not tutorial, gpt or gpt2") }
            arch = a
        } else if byName["layers.0.attn.wqkv"] != nil {
            arch = .gpt2
        } else if byName["ln_f.gamma"] != nil {
            arch = .gpt
        } else if byName["layers.0.ln.gamma"] != nil {
            arch = .tutorial
        } else {
            throw fail("cannot tell the architecture: no arch in __metadata__ and neither ln_f.gamma nor layers.0.ln.gamma present",
                       remedy: .give([.arch]))
        }
        // Layers: one more than the largest i in `layers.i.` names.
        var inferredLayers: Int? = nil
        for t in file.tensors {
            var name = Substring(t.name)
            for prefix in ["adam_m.", "adam_v."] where name.hasPrefix(prefix) { name = name.dropFirst(prefix.count) }
            guard name.hasPrefix("layers.") else { continue }
            let rest = name.dropFirst("layers.".count)
            if let dot = rest.firstIndex(of: "."), let i = Int(rest[..<dot]), i >= 0, i < ModelConfig.limits.nLayers {
                inferredLayers = max(inferredLayers ?? 0, i + 1)
            }
        }
        let config = ModelConfig(
            arch: arch,
            vocabSize: try resolve("vocab_size", options.config.vocabSize, inferred: shape("tok_emb", 0)),
            dModel: try resolve("d_model", options.config.dModel, inferred: shape("tok_emb", 1)),
            nHeads: try resolve("n_heads", options.config.nHeads, inferred: shape("layers.0.attn.wq", 0)),
            dFF: try resolve("d_ff", options.config.dFF, inferred: shape("layers.0.ffn.w1", 0)),
            nLayers: try resolve("n_layers", options.config.nLayers, inferred: inferredLayers),
            context: try resolve("context", options.config.context, inferred: shape("pos_emb", 0)))
        do {
            try config.validate()
        } catch let e as ConfigError {
            throw fail("config \(e)")
        }

        // Vocabulary.
        var vocabulary: Vocabulary
        if let v = options.vocabulary {
            vocabulary = v
        } else if let kindText = meta["tokenizer"], let listText = meta["vocabulary"] {
            guard let kind = TokenizerKind(rawValue: kindText) else {
                throw fail("__metadata__ tokenizer \(quotedName(kindText)) is not word, char, byte or bpe")
            }
            let list: HeaderJSON
            do { list = try HeaderJSON.parse(Array(listText.utf8), maxArrayLength: ModelConfig.limits.vocabSize) } catch {
                throw fail("__metadata__ vocabulary: \(error)")
            }
            guard case let .array(items) = list else { throw fail("__metadata__ vocabulary is not a JSON list") }
            var tokens: [String] = []
            for item in items {
                guard let s = item.stringValue else { throw fail("__metadata__ vocabulary holds a non-string") }
                tokens.append(s)
            }
            vocabulary = Vocabulary(kind: kind, tokens: tokens)
            if kind == .bpe {
                guard let text = meta["bpe"] else { throw fail("__metadata__ has tokenizer bpe but no bpe object") }
                do {
                    vocabulary.bpe = try bpeData(text)
                    _ = try BPETokenizer(vocabulary: vocabulary, source: "")
                } catch let e as InputError {
                    throw fail("__metadata__ bpe: \(e.message)")
                } catch {
                    throw fail("__metadata__ bpe \(error)")
                }
            }
        } else {
            throw fail("no vocabulary in __metadata__", remedy: .give([.tokenizer, .vocabularyFile]))
        }
        // The content rules every reader applies (spec/FORMAT.md §3.3), with the .ttc reader's messages.
        do { try ContentRules.checkVocabulary(vocabulary, vocabSize: config.vocabSize) } catch let e as ContentRuleError {
            throw fail("vocabulary: \(e.message)")
        }

        // Tensors: exactly the layout, with or without both moments.
        let layout = ParameterLayout(config: config)
        let expected = Set(layout.slots.flatMap { ["\($0.name)", "adam_m.\($0.name)", "adam_v.\($0.name)"] })
        for t in file.tensors where !expected.contains(t.name) {
            throw fail("tensor \(quotedName(t.name)) is not part of the \(arch.rawValue) layout for this config")
        }
        let hasMoments = file.tensors.contains { $0.name.hasPrefix("adam_m.") || $0.name.hasPrefix("adam_v.") }
        var tensors: [NamedTensor] = []
        for role in [TensorRole.parameter, .adamM, .adamV] {
            for slot in layout.slots {
                let name = role.namePrefix + slot.name
                guard role == .parameter || hasMoments else {
                    tensors.append(NamedTensor(name: name, role: role, shape: slot.shape, values: [Float](repeating: 0, count: slot.count)))
                    continue
                }
                guard let info = byName[name] else {
                    throw fail("tensor \(quotedName(name)) is missing" + (role == .parameter ? "" : " (the file has other optimizer moments)"))
                }
                guard info.shape == slot.shape else {
                    throw fail("tensor \(quotedName(name)) has shape \(info.shape), expected \(slot.shape)")
                }
                let values = try file.loadFloats(info)
                if let bad = values.firstIndex(where: { !$0.isFinite }) {
                    throw fail("tensor \(quotedName(name)) has a non-finite value at element \(bad)")
                }
                if role == .adamV, let neg = values.firstIndex(where: { $0 < 0 }) {
                    throw fail("tensor \(quotedName(name)) has a negative second moment at element \(neg)")
                }
                tensors.append(NamedTensor(name: name, role: role, shape: slot.shape, values: values))
            }
        }

        // Training state.
        let seed: UInt64
        if let s = options.seed {
            seed = s
        } else if let text = meta["seed"] {
            guard let s = UInt64(text) else { throw fail("__metadata__ seed is not an unsigned integer: \(quotedName(text))") }
            seed = s
        } else {
            seed = 42
        }
        var training = TrainingState(rng: PythonRandom(seed: seed).state)
        training.seed = seed
        if hasMoments {
            // AdamW continues the moments only with the step count and the progress they
            // came with (written by `export --include-optimizer`); the spec's content rules
            // apply to them as to a .ttc's (spec/FORMAT.md §3.3). Anything missing or bad is
            // an error, never a silent reset that would keep the moments.
            func required(_ key: String) throws -> String {
                guard let text = meta[key] else {
                    throw fail("__metadata__ \(key): missing; the file has optimizer moments, which need the training progress (step, tokens_seen, loss_history, session_starts)")
                }
                return text
            }
            _ = try required("step")
            let step = try metaInt("step")!
            _ = try required("tokens_seen")
            let tokensSeen = try metaInt("tokens_seen")!
            let history = try lossHistory(try required("loss_history"), fail: { fail("__metadata__ loss_history: \($0)") })
            let starts = try sessionStarts(try required("session_starts"), fail: { fail("__metadata__ session_starts: \($0)") })
            do {
                try ContentRules.checkProgress(step: step, tokensSeen: tokensSeen, lossCount: history.count, sessionStarts: starts,
                                               batchSize: training.batchSize, context: config.context)
            } catch let e as ContentRuleError {
                let key = e.field.hasPrefix("train.") ? String(e.field.dropFirst("train.".count)) : e.field
                throw fail("__metadata__ \(key): \(e.message)")
            }
            training.step = step
            training.tokensSeen = tokensSeen
            training.lossHistory = history
            training.sessionStarts = starts
        }
        return Checkpoint(config: config, vocabulary: vocabulary, training: training, tensors: tensors)
    }

    /// A JSON list of numbers that are finite in float32 (export writes shortest float32
    /// decimals); anything else is an error naming the element.
    static func lossHistory(_ text: String, fail: (String) -> FormatError) throws -> [Float] {
        let items = try jsonList(text, fail: fail)
        var out: [Float] = []
        out.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            guard case let .number(n) = item else { throw fail("element \(i) is not a number") }
            guard let v = Float(n), v.isFinite else { throw fail("element \(i) (\(n)) is not a finite float32") }
            out.append(v)
        }
        return out
    }

    /// A JSON list of non-negative integers; their order and range are the content rules'.
    static func sessionStarts(_ text: String, fail: (String) -> FormatError) throws -> [Int] {
        try jsonList(text, fail: fail).enumerated().map { i, item in
            guard let v = item.nonNegativeInt else { throw fail("element \(i) is not a non-negative integer") }
            return v
        }
    }

    static func jsonList(_ text: String, fail: (String) -> FormatError) throws -> [HeaderJSON] {
        let parsed: HeaderJSON
        do { parsed = try HeaderJSON.parse(Array(text.utf8), maxArrayLength: text.utf8.count) } catch { throw fail("\(error)") }
        guard case let .array(items) = parsed else { throw fail("is not a JSON list") }
        return items
    }
}
