import TTCore
import TTFormat

/// The JSON forms of a checkpoint's header fields, shared by `inspect --json` and `diff`
/// (which compares these trees field by field). Key names follow the spec's snake_case.
public enum CheckpointJSON {
    /// `"major.minor"`.
    public static func formatVersion(_ source: CheckpointSource) -> String {
        "\(source.formatVersion.major).\(source.formatVersion.minor)"
    }

    /// {arch, vocab_size, d_model, n_heads, d_ff, n_layers, context}.
    public static func config(_ c: ModelConfig) -> JSONValue {
        .object([
            ("arch", .string(c.arch.rawValue)),
            ("vocab_size", .int(c.vocabSize)),
            ("d_model", .int(c.dModel)),
            ("n_heads", .int(c.nHeads)),
            ("d_ff", .int(c.dFF)),
            ("n_layers", .int(c.nLayers)),
            ("context", .int(c.context)),
        ])
    }

    /// {kind, size, tokens}; `tokens: false` leaves the token list out.
    public static func vocabulary(_ v: Vocabulary, tokens: Bool = true) -> JSONValue {
        var members: [(String, JSONValue)] = [("kind", .string(v.kind.rawValue)), ("size", .int(v.tokens.count))]
        if tokens { members.append(("tokens", .array(v.tokens.map { .string($0) }))) }
        if tokens, v.kind == .bpe, let b = v.bpe {
            // The merges as [left id, right id] pairs in rank order; added tokens by id.
            members.append(("merges", .array(stride(from: 0, to: b.merges.count - 1, by: 2).map {
                .array([.int(Int(b.merges[$0])), .int(Int(b.merges[$0 + 1]))])
            })))
            members.append(("added_tokens", .array(zip(b.addedIDs, b.addedFlags).map { id, flags in
                .object([("id", .int(Int(id))), ("special", .bool(flags & 1 != 0)), ("normalized", .bool(flags & 2 != 0))])
            })))
            members.append(("pre_tokenizer", .string(b.preTokenizer)))
            members.append(("add_prefix_space", .bool(b.addPrefixSpace)))
            members.append(("ignore_merges", .bool(b.ignoreMerges)))
        }
        return .object(members)
    }

    /// Every AdamW field, hyperparameters as exact Doubles.
    public static func optimizer(_ o: AdamWConfig) -> JSONValue {
        .object([
            ("learning_rate", .double(o.learningRate)),
            ("beta1", .double(o.beta1)),
            ("beta2", .double(o.beta2)),
            ("epsilon", .double(o.epsilon)),
            ("weight_decay", .double(o.weightDecay)),
            ("exempt_norm_and_bias", .bool(o.exemptNormAndBias)),
            ("grad_clip", .double(o.gradClip)),
            ("schedule", .string(o.schedule.rawValue)),
            ("warmup_steps", .int(o.warmupSteps)),
            ("decay_steps", .int(o.decaySteps)),
            ("min_lr_ratio", .double(o.minLRRatio)),
        ])
    }

    /// {name, byte_count, token_count, sha256}, or null before any training.
    public static func data(_ d: DataIdentity?) -> JSONValue {
        guard let d else { return .null }
        return .object([
            ("name", .string(d.name)),
            ("byte_count", .int(d.byteCount)),
            ("token_count", .int(d.tokenCount)),
            ("sha256", .string(d.sha256)),
        ])
    }

    /// CRC-32 (zlib's) of the 624 state words as little-endian bytes: a short fingerprint
    /// of the generator state for display and comparison.
    public static func rngFingerprint(_ state: PythonRandom.State) -> UInt32 {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(state.words.count * 4)
        for w in state.words {
            bytes.append(UInt8(truncatingIfNeeded: w))
            bytes.append(UInt8(truncatingIfNeeded: w >> 8))
            bytes.append(UInt8(truncatingIfNeeded: w >> 16))
            bytes.append(UInt8(truncatingIfNeeded: w >> 24))
        }
        return crc32Of(bytes)
    }

    /// {index, gauss_next, words_crc32}.
    public static func rng(_ state: PythonRandom.State) -> JSONValue {
        .object([
            ("index", .int(state.index)),
            ("gauss_next", state.gaussNext.map { .double($0) } ?? .null),
            ("words_crc32", .uint(UInt64(rngFingerprint(state)))),
        ])
    }

    /// The training state. `lossHistory: false` leaves the (possibly long) history out.
    public static func training(_ t: TrainingState, lossHistory: Bool = true) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("step", .int(t.step)),
            ("tokens_seen", .int(t.tokensSeen)),
            ("seed", .uint(t.seed)),
            ("batch_size", .int(t.batchSize)),
            ("optimizer", optimizer(t.optimizer)),
            ("data", data(t.data)),
            ("windows_drawn", .uint(t.windowsDrawn)),
            ("rng", rng(t.rng)),
            ("session_starts", .array(t.sessionStarts.map { .int($0) })),
        ]
        if lossHistory { members.append(("loss_history", .array(t.lossHistory.map { .float($0) }))) }
        return .object(members)
    }

    /// One directory entry: {name, role, dtype, shape, stored_bytes, raw_bytes, crc32,
    /// stored_crc32, compression, filter, offset}. `crc32` is the raw bytes' CRC (the one
    /// `zlib.crc32` gives for the little-endian values), as an integer.
    public static func entry(_ e: TensorEntry) -> [(String, JSONValue)] {
        [
            ("name", .string(e.name)),
            ("role", .string(e.role.label)),
            ("dtype", .string(e.dtype.label)),
            ("shape", .array(e.shape.map { .int($0) })),
            ("stored_bytes", .uint(e.storedLength)),
            ("raw_bytes", .uint(e.rawLength)),
            ("crc32", .uint(UInt64(e.rawCRC32))),
            ("stored_crc32", .uint(UInt64(e.storedCRC32))),
            ("compression", .string(e.compression.label)),
            ("filter", .string(e.filter.label)),
            ("offset", .uint(e.offset)),
        ]
    }

    /// Row labels for a tensor whose rows are token ids (see `hasVocabularyRows`), else nil.
    public static func rowLabels(_ name: String, shape: [Int], vocabulary: Vocabulary) -> [String]? {
        guard hasVocabularyRows(name), let rows = shape.first, shape.count >= 1 else { return nil }
        return (0..<rows).map { $0 < vocabulary.tokens.count ? vocabulary.tokens[$0] : "" }
    }
}
