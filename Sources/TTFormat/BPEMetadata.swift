import TTCore
import TTTokenizer

// The metadata keys of a byte-level BPE vocabulary (format 1.1; spec/FORMAT.md "Metadata
// keys", requested by hf in scratch/spec-requests/hf.md): `vocab.merges` and `vocab.bpe.*`,
// written and read only with `vocab.kind` = `bpe`. The rules a reader checks are the
// tokenizer's own (`BPETokenizer(vocabulary:)`), so the file and the tokenizer cannot
// disagree about what a valid vocabulary is.

extension MetaKey {
    static let bpeAddPrefixSpace = "vocab.bpe.add_prefix_space"
    static let bpeAddedFlags = "vocab.bpe.added_flags"
    static let bpeAddedIDs = "vocab.bpe.added_ids"
    static let bpeIgnoreMerges = "vocab.bpe.ignore_merges"
    static let bpePreTokenizer = "vocab.bpe.pre_tokenizer"
    static let vocabMerges = "vocab.merges"

    /// The keys only a bpe vocabulary may have.
    static let bpeOnly = [bpeAddPrefixSpace, bpeAddedFlags, bpeAddedIDs, bpeIgnoreMerges, bpePreTokenizer, vocabMerges]
}

/// The items of a bpe vocabulary's merges and settings (none for other kinds).
func bpeMetadataItems(_ vocabulary: Vocabulary) -> [MetaItem] {
    guard vocabulary.kind == .bpe, let b = vocabulary.bpe else { return [] }
    return [
        MetaItem(MetaKey.bpeAddPrefixSpace, .bool(b.addPrefixSpace)),
        MetaItem(MetaKey.bpeAddedFlags, .u32Array(b.addedFlags)),
        MetaItem(MetaKey.bpeAddedIDs, .u32Array(b.addedIDs)),
        MetaItem(MetaKey.bpeIgnoreMerges, .bool(b.ignoreMerges)),
        MetaItem(MetaKey.bpePreTokenizer, .string(b.preTokenizer)),
        MetaItem(MetaKey.vocabMerges, .u32Array(b.merges)),
    ]
}

/// The BPE part of a vocabulary of `kind`: required keys read for bpe, and refused for the
/// other kinds (`invalidValue`, naming the key).
func decodeBPEMetadata(_ m: MetadataTable, kind: TokenizerKind) throws -> BPEData? {
    guard kind == .bpe else {
        if let key = MetaKey.bpeOnly.first(where: { m.has($0) }) {
            throw ContentError(.invalidValue, "metadata key '\(key)' is only allowed with vocab.kind 'bpe'")
        }
        return nil
    }
    func optional<T>(_ key: String, _ read: (String) throws -> T, default value: T) throws -> T {
        m.has(key) ? try read(key) : value
    }
    return BPEData(merges: try m.u32Array(MetaKey.vocabMerges),
                   addedIDs: try optional(MetaKey.bpeAddedIDs, m.u32Array, default: []),
                   addedFlags: try optional(MetaKey.bpeAddedFlags, m.u32Array, default: []),
                   preTokenizer: try m.string(MetaKey.bpePreTokenizer),
                   addPrefixSpace: try optional(MetaKey.bpeAddPrefixSpace, m.bool, default: false),
                   ignoreMerges: try optional(MetaKey.bpeIgnoreMerges, m.bool, default: false))
}

/// Checks a bpe vocabulary by building its tokenizer; each failure names its key.
func validateBPEVocabulary(_ vocabulary: Vocabulary) throws {
    guard vocabulary.kind == .bpe else { return }
    do {
        _ = try BPETokenizer(vocabulary: vocabulary, source: "")
    } catch let e as InputError {
        // BPETokenizer(vocabulary:) starts every message with the key at fault: "vocab.merges: ...".
        let parts = e.message.split(separator: ": ", maxSplits: 1)
        let (key, message) = parts.count == 2 ? (String(parts[0]), String(parts[1])) : (MetaKey.vocabTokens, e.message)
        throw ContentError(.invalidValue, "metadata key '\(key)': \(message)")
    }
}
