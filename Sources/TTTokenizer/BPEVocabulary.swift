import TTCore
// A BPETokenizer as the values a .ttc checkpoint keeps (spec/FORMAT.md, format 1.1:
// `vocab.tokens`, `vocab.merges`, `vocab.bpe.*`), held in a `Vocabulary` of kind `bpe`, and
// read back through the same validation as any other input (`BPETokenizer.init(tokens:merges:...)`).

extension Vocabulary {
    /// The vocabulary of `tokenizer`: token strings (an added token's content, any other
    /// token's byte-level spelling, as vocab.json writes them; always valid UTF-8), merges
    /// and added tokens.
    public init(_ tokenizer: BPETokenizer) {
        self.init(kind: .bpe, tokens: (0..<tokenizer.count).map { tokenizer.spelling(of: Int32($0)) },
                  bpe: BPEData(merges: tokenizer.merges.flatMap { [UInt32($0.left), UInt32($0.right)] },
                               addedIDs: tokenizer.addedTokens.map { UInt32($0.id) },
                               addedFlags: tokenizer.addedTokens.map { ($0.special ? 1 : 0) | ($0.normalized ? 2 : 0) },
                               preTokenizer: BPETokenizer.gpt2PreTokenizerName,
                               addPrefixSpace: tokenizer.options.addPrefixSpace,
                               ignoreMerges: tokenizer.options.ignoreMerges))
    }
}

extension BPETokenizer {
    /// The pre-tokenizer name stored with a tokenizer.
    public static let gpt2PreTokenizerName = "gpt2"

    /// The tokenizer a `bpe` vocabulary describes, validated (spec/FORMAT.md's rules for
    /// `vocab.tokens`, `vocab.merges` and `vocab.bpe.*`).
    /// - Throws: `InputError` naming `source` and the key (`vocab.merges: ...`).
    public init(vocabulary: Vocabulary, source: String) throws {
        func fail(_ key: String, _ message: String) -> InputError { InputError(source, "\(key): \(message)") }
        guard vocabulary.kind == .bpe else { throw fail("vocab.kind", "is \(vocabulary.kind.rawValue), not bpe") }
        guard let s = vocabulary.bpe else { throw fail("vocab.merges", "missing (a bpe vocabulary needs its merges)") }
        let spellings = vocabulary.tokens
        guard s.preTokenizer == Self.gpt2PreTokenizerName else {
            throw fail("vocab.bpe.pre_tokenizer", "\(TerminalText.quoted(s.preTokenizer)) is not a known pre-tokenizer (only \"gpt2\")")
        }
        let n = spellings.count
        guard n >= 1 && n <= BPELimits.maxVocabularySize else {
            throw fail("vocab.tokens", "\(n) tokens is outside 1...\(BPELimits.maxVocabularySize)")
        }
        guard s.merges.count % 2 == 0 else { throw fail("vocab.merges", "has \(s.merges.count) ids, not an even number") }
        guard s.addedIDs.count == s.addedFlags.count else {
            throw fail("vocab.bpe.added_flags", "has \(s.addedFlags.count) entries for \(s.addedIDs.count) added ids")
        }
        var added: [AddedToken] = []
        var previous: Int64 = -1
        for (id, flags) in zip(s.addedIDs, s.addedFlags) {
            guard Int64(id) > previous else { throw fail("vocab.bpe.added_ids", "ids are not strictly increasing at \(id)") }
            guard Int(id) < n else { throw fail("vocab.bpe.added_ids", "id \(id) is out of range (\(n) tokens)") }
            guard flags & ~3 == 0 else { throw fail("vocab.bpe.added_flags", "flags \(flags) of id \(id) has unknown bits") }
            previous = Int64(id)
            added.append(AddedToken(id: Int32(id), content: spellings[Int(id)], special: flags & 1 != 0,
                                    normalized: flags & 2 != 0))
        }
        let addedSet = Set(s.addedIDs)
        var tokens: [[UInt8]] = []
        tokens.reserveCapacity(n)
        for (id, spelling) in spellings.enumerated() {
            if addedSet.contains(UInt32(id)) {
                tokens.append(Array(spelling.utf8))
            } else if let bytes = ByteLevel.bytes(ofSpelling: spelling) {
                tokens.append(bytes)
            } else {
                throw fail("vocab.tokens", "token \(id) \(TerminalText.quoted(spelling)) is not a byte-level spelling and not an added token")
            }
        }
        var pairs: [BPEMerge] = []
        pairs.reserveCapacity(s.merges.count / 2)
        for r in 0..<(s.merges.count / 2) {
            let l = s.merges[2 * r], rt = s.merges[2 * r + 1]
            guard Int(l) < n, Int(rt) < n else {
                throw fail("vocab.merges", "merge \(r) names id \(max(l, rt)), out of range (\(n) tokens)")
            }
            pairs.append(BPEMerge(Int32(l), Int32(rt)))
        }
        try self.init(tokens: tokens, merges: pairs, addedTokens: added,
                      options: BPEOptions(addPrefixSpace: s.addPrefixSpace, ignoreMerges: s.ignoreMerges), source: source,
                      metadataKeys: true)
    }
}
