import TTCore
// Hugging Face tokenizer files in and out: tokenizer.json (model.type "BPE"), and the
// vocab.json + merges.txt pair.
//
// What is accepted from tokenizer.json (anything else is one clear error, since encoding
// would silently differ from tokenizers'):
// - `model`: type "BPE" (or no type), `dropout` null, `continuing_subword_prefix` and
//   `end_of_word_suffix` null or "", `ignore_merges` (default false). `unk_token`,
//   `fuse_unk` and `byte_fallback` are read past: with all 256 byte tokens present (which
//   is checked) no text ever needs them.
// - `vocab`: object token -> id; `merges`: "a b" strings or ["a", "b"] pairs, in rank order.
// - `normalizer`: null. `pre_tokenizer`: ByteLevel with `use_regex` true (the GPT-2
//   pattern); its `add_prefix_space` is kept. `decoder`: null or ByteLevel.
//   `post_processor`, `truncation`, `padding`: ignored (nothing is added when encoding).
// - `added_tokens`: id, content, special, normalized; `single_word`, `lstrip` and `rstrip`
//   must be false.
// Ids must be exactly 0..<n over model.vocab and added_tokens together (n tokens), each id
// used once. Token strings are compared as UTF-8 bytes.
//
// The loaders take the JSON already parsed (see TokenizerJSONValue): the caller reads the
// file with a bounded read (`BPELimits.maxFileBytes`) and parses it with its JSON parser.

public enum BPEFiles {
    /// Rejects a file larger than `BPELimits.maxFileBytes` (call before reading it).
    public static func checkSize(_ byteCount: Int, file: String) throws {
        guard byteCount <= BPELimits.maxFileBytes else {
            throw InputError(file, "\(byteCount) bytes is more than the limit \(BPELimits.maxFileBytes) for a tokenizer file")
        }
    }

    /// Parses and loads a tokenizer.json: checks the size, runs `parse` (the caller's JSON
    /// parser; its error's description becomes the message, so it should say "invalid
    /// JSON ..." as HeaderJSONError does), then `tokenizer(fromTokenizerJSON:)`.
    public static func loadTokenizerJSON<J: TokenizerJSONValue>(_ bytes: [UInt8], file: String,
                                                               parse: ([UInt8]) throws -> J) throws -> BPETokenizer {
        try checkSize(bytes.count, file: file)
        return try tokenizer(fromTokenizerJSON: try parseJSON(bytes, file: file, parse: parse), file: file)
    }

    /// Parses and loads vocab.json + merges.txt (see `tokenizer(vocabJSON:...)`).
    public static func loadVocabAndMerges<J: TokenizerJSONValue>(vocab vocabBytes: [UInt8], vocabFile: String,
                                                                merges mergesBytes: [UInt8], mergesFile: String,
                                                                specialTokens: [String] = [],
                                                                parse: ([UInt8]) throws -> J) throws -> BPETokenizer {
        try checkSize(vocabBytes.count, file: vocabFile)
        try checkSize(mergesBytes.count, file: mergesFile)
        let root = try parseJSON(vocabBytes, file: vocabFile, parse: parse)
        return try tokenizer(vocabJSON: root, vocabFile: vocabFile, mergesText: mergesBytes, mergesFile: mergesFile,
                             specialTokens: specialTokens)
    }

    /// Runs the caller's JSON parser on a file's bytes; its error becomes an `InputError`
    /// naming `file`.
    public static func parseJSON<J>(_ bytes: [UInt8], file: String, parse: ([UInt8]) throws -> J) throws -> J {
        do {
            return try parse(bytes)
        } catch let e as InputError {
            throw e
        } catch {
            throw InputError(file, "\(error)")
        }
    }

    // MARK: tokenizer.json

    /// A tokenizer from a parsed tokenizer.json (rules at the top of this file).
    /// - Throws: `InputError` naming `file` and the field: "model.vocab: ...",
    ///   "model.merges[12]: ...", "added_tokens[0]: ...", "pre_tokenizer: ...".
    public static func tokenizer<J: TokenizerJSONValue>(fromTokenizerJSON root: J, file: String) throws -> BPETokenizer {
        func fail(_ message: String) -> InputError { InputError(file, message) }
        guard root.objectMembers != nil else { throw fail("the top level is \(root.typeName), not an object") }
        guard let model = root[member: "model"], model.objectMembers != nil else {
            throw fail("no \"model\" object: not a tokenizer.json (a vocab.json goes with its merges.txt)")
        }
        if let type = model[member: "type"] {
            guard let name = type.stringValue else { throw fail("model.type is \(type.typeName), not a string") }
            guard name == "BPE" else { throw fail("model.type is \(TerminalText.quoted(name)); only \"BPE\" is supported") }
        }
        if let dropout = model[member: "dropout"], !dropout.isNull {
            throw fail("model.dropout is set; BPE dropout is not supported (it makes encoding random)")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let v = model[member: key], !v.isNull, v.stringValue != "" {
                throw fail("model.\(key) is set; only byte-level BPE without it is supported")
            }
        }
        var options = BPEOptions()
        if let v = model[member: "ignore_merges"] {
            guard let b = v.boolValue else { throw fail("model.ignore_merges is \(v.typeName), not a boolean") }
            options.ignoreMerges = b
        }
        if let normalizer = root[member: "normalizer"], !normalizer.isNull {
            let name = normalizer[member: "type"]?.stringValue ?? normalizer.typeName
            throw fail("normalizer \(TerminalText.quoted(name)) is not supported (only null)")
        }
        guard let pre = root[member: "pre_tokenizer"], !pre.isNull else {
            throw fail("pre_tokenizer is null; a byte-level BPE needs the ByteLevel pre-tokenizer")
        }
        let preType = pre[member: "type"]?.stringValue ?? pre.typeName
        guard preType == "ByteLevel" else {
            throw fail("pre_tokenizer \(TerminalText.quoted(preType)) is not supported (only ByteLevel with the GPT-2 pattern)")
        }
        if let v = pre[member: "use_regex"] {
            guard let b = v.boolValue else { throw fail("pre_tokenizer.use_regex is \(v.typeName), not a boolean") }
            guard b else { throw fail("pre_tokenizer.use_regex is false; only the GPT-2 pattern is supported") }
        }
        guard let prefix = pre[member: "add_prefix_space"], let addPrefixSpace = prefix.boolValue else {
            throw fail("pre_tokenizer.add_prefix_space is missing or not a boolean")
        }
        options.addPrefixSpace = addPrefixSpace
        if let decoder = root[member: "decoder"], !decoder.isNull {
            let name = decoder[member: "type"]?.stringValue ?? decoder.typeName
            guard name == "ByteLevel" else { throw fail("decoder \(TerminalText.quoted(name)) is not supported (only ByteLevel)") }
        }

        // Added tokens.
        var added: [AddedToken] = []
        if let list = root[member: "added_tokens"], !list.isNull {
            guard let items = list.arrayItems else { throw fail("added_tokens is \(list.typeName), not an array") }
            guard items.count <= BPELimits.maxVocabularySize else {
                throw fail("added_tokens has \(items.count) entries, more than the limit \(BPELimits.maxVocabularySize)")
            }
            for (i, item) in items.enumerated() {
                let at = "added_tokens[\(i)]"
                guard item.objectMembers != nil else { throw fail("\(at) is \(item.typeName), not an object") }
                guard let idValue = item[member: "id"], let id = idValue.nonNegativeInteger else {
                    throw fail("\(at).id is missing or not a non-negative integer")
                }
                guard id < BPELimits.maxVocabularySize else {
                    throw fail("\(at).id \(id) is out of range (limit \(BPELimits.maxVocabularySize) tokens)")
                }
                guard let content = item[member: "content"]?.stringValue else { throw fail("\(at).content is missing or not a string") }
                guard !content.isEmpty, content.utf8.count <= BPELimits.maxTokenBytes else {
                    throw fail("\(at).content is empty or longer than \(BPELimits.maxTokenBytes) bytes")
                }
                func flag(_ key: String, default value: Bool) throws -> Bool {
                    guard let v = item[member: key] else { return value }
                    guard let b = v.boolValue else { throw fail("\(at).\(key) is \(v.typeName), not a boolean") }
                    return b
                }
                for key in ["single_word", "lstrip", "rstrip"] where try flag(key, default: false) {
                    throw fail("\(at) (\(TerminalText.quoted(content))): \(key) true is not supported")
                }
                let special = try flag("special", default: false)
                added.append(AddedToken(id: Int32(id), content: content, special: special,
                                        normalized: try flag("normalized", default: !special)))
            }
        }

        guard let vocab = model[member: "vocab"] else { throw fail("model.vocab is missing") }
        guard let merges = model[member: "merges"] else { throw fail("model.merges is missing") }
        guard let mergeItems = merges.arrayItems else { throw fail("model.merges is \(merges.typeName), not an array") }
        let (tokens, spellingIDs) = try readVocabulary(vocab, added: added, field: "model.vocab", file: file)
        guard mergeItems.count <= BPELimits.maxMerges else {
            throw fail("model.merges has \(mergeItems.count) entries, more than the limit \(BPELimits.maxMerges)")
        }
        var pairs: [BPEMerge] = []
        pairs.reserveCapacity(mergeItems.count)
        for (i, item) in mergeItems.enumerated() {
            let at = "model.merges[\(i)]"
            let parts: [String]
            if let text = item.stringValue {
                parts = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            } else if let pair = item.arrayItems, pair.count == 2, let a = pair[0].stringValue, let b = pair[1].stringValue {
                parts = [a, b]
            } else {
                throw fail("\(at) is neither \"a b\" nor [\"a\", \"b\"]")
            }
            pairs.append(try resolveMerge(parts, spellingIDs: spellingIDs, at: at, file: file))
        }
        return try BPETokenizer(tokens: tokens, merges: pairs, addedTokens: added, options: options, source: file)
    }

    // MARK: vocab.json + merges.txt

    /// A tokenizer from a parsed vocab.json (object token -> id) and the bytes of merges.txt
    /// (UTF-8 lines "a b" in rank order; lines starting with "#version" are skipped, as
    /// tokenizers does; "\n" or "\r\n" line ends; a final line end is optional). Options are
    /// GPT-2's (no prefix space). `specialTokens` (for example `<|endoftext|>`) must be in
    /// vocab.json; they become added, special tokens.
    public static func tokenizer<J: TokenizerJSONValue>(vocabJSON: J, vocabFile: String, mergesText: [UInt8],
                                                       mergesFile: String, specialTokens: [String] = []) throws -> BPETokenizer {
        try checkSize(mergesText.count, file: mergesFile)
        var probe: [[UInt8]: Int32] = [:]
        if let members = vocabJSON.objectMembers, members.count <= BPELimits.maxVocabularySize {
            for (key, value) in members { if let id = value.nonNegativeInteger, id < Int32.max { probe[Array(key.utf8)] = Int32(id) } }
        }
        var added: [AddedToken] = []
        for content in specialTokens {
            guard let id = probe[Array(content.utf8)] else {
                throw InputError(vocabFile, "the special token \(TerminalText.quoted(content)) is not in the vocabulary")
            }
            added.append(AddedToken(id: id, content: content, special: true, normalized: false))
        }
        let (tokens, spellingIDs) = try readVocabulary(vocabJSON, added: added, field: nil, file: vocabFile)
        guard let text = String(validating: mergesText, as: UTF8.self) else {
            throw InputError(mergesFile, "is not valid UTF-8")
        }
        var lines = text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        guard lines.count <= BPELimits.maxMerges + 1 else {
            throw InputError(mergesFile, "\(lines.count) lines is more than the limit \(BPELimits.maxMerges) merges")
        }
        var pairs: [BPEMerge] = []
        pairs.reserveCapacity(lines.count)
        for (i, raw) in lines.enumerated() {
            var line = Array(raw)
            if line.last == 0x0D { line.removeLast() }
            if line.starts(with: Array("#version".utf8)) { continue }
            let parts = line.split(separator: 0x20, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            pairs.append(try resolveMerge(parts, spellingIDs: spellingIDs, at: "line \(i + 1)", file: mergesFile))
        }
        guard pairs.count <= BPELimits.maxMerges else {
            throw InputError(mergesFile, "\(pairs.count) merges is more than the limit \(BPELimits.maxMerges)")
        }
        return try BPETokenizer(tokens: tokens, merges: pairs, addedTokens: added, source: mergesFile)
    }

    /// Reads a vocab object into token bytes by id plus spelling -> id. Ids must be exactly
    /// 0..<n over the vocab and the added tokens together.
    private static func readVocabulary<J: TokenizerJSONValue>(_ vocab: J, added: [AddedToken], field: String?,
                                                             file: String) throws -> ([[UInt8]], [[UInt8]: Int32]) {
        let prefix = field.map { $0 + ": " } ?? ""
        func fail(_ message: String) -> InputError { InputError(file, prefix + message) }
        guard let members = vocab.objectMembers else { throw fail("is \(vocab.typeName), not an object token -> id") }
        guard members.count <= BPELimits.maxVocabularySize else {
            throw fail("\(members.count) tokens is more than the limit \(BPELimits.maxVocabularySize)")
        }
        var addedByID: [Int32: AddedToken] = [:]
        for token in added {
            if let other = addedByID.updateValue(token, forKey: token.id) {
                throw InputError(file, "added tokens \(TerminalText.quoted(other.content)) and \(TerminalText.quoted(token.content)) have the same id \(token.id)")
            }
        }
        // n = vocab entries + added tokens whose id the vocab does not use; checked below
        // that every id is below n and used once, so ids are exactly 0..<n.
        var vocabIDs = Set<Int32>()
        for (key, value) in members {
            guard let id = value.nonNegativeInteger else {
                throw fail("the id of \(TerminalText.quoted(key)) is \(value.numberText ?? value.typeName), not a non-negative integer")
            }
            guard id < BPELimits.maxVocabularySize else {
                throw fail("the id \(id) of \(TerminalText.quoted(key)) is out of range (limit \(BPELimits.maxVocabularySize) tokens)")
            }
            vocabIDs.insert(Int32(id))
        }
        let count = members.count + addedByID.keys.filter { !vocabIDs.contains($0) }.count
        var tokens = [[UInt8]?](repeating: nil, count: count)
        var names = [String?](repeating: nil, count: count)
        var spellingIDs: [[UInt8]: Int32] = [:]
        spellingIDs.reserveCapacity(count)
        for (key, value) in members {
            let id = value.nonNegativeInteger!
            guard id < count else {
                throw fail("the id \(id) of \(TerminalText.quoted(key)) is out of range: ids must be 0..<\(count) (\(count) tokens)")
            }
            if let other = names[id] {
                throw fail("\(TerminalText.quoted(other)) and \(TerminalText.quoted(key)) have the same id \(id)")
            }
            let bytes: [UInt8]
            if let token = addedByID[Int32(id)] {
                let content = Array(token.content.utf8)
                guard Array(key.utf8) == content || ByteLevel.bytes(ofSpelling: key) == content else {
                    throw fail("the id \(id) of \(TerminalText.quoted(key)) belongs to the added token \(TerminalText.quoted(token.content))")
                }
                bytes = content
            } else {
                guard let decoded = ByteLevel.bytes(ofSpelling: key) else {
                    let s = ByteLevel.firstForeignScalar(in: key)!
                    throw fail("the token \(TerminalText.quoted(key)) (id \(id)) has the character U+\(String(s.value, radix: 16, uppercase: true)), which is not in the byte-level alphabet")
                }
                bytes = decoded
            }
            guard !bytes.isEmpty, bytes.count <= BPELimits.maxTokenBytes else {
                throw fail("the token \(TerminalText.quoted(key)) (id \(id)) is empty or longer than \(BPELimits.maxTokenBytes) bytes")
            }
            tokens[id] = bytes
            names[id] = key
            spellingIDs[Array(key.utf8)] = Int32(id)
        }
        for (id, token) in addedByID.sorted(by: { $0.key < $1.key }) where !vocabIDs.contains(id) {
            guard Int(id) < count else {
                throw InputError(file, "added token \(TerminalText.quoted(token.content)): id \(id) is out of range: ids must be 0..<\(count) (\(count) tokens)")
            }
            tokens[Int(id)] = Array(token.content.utf8)
            names[Int(id)] = token.content
        }
        // Every slot is filled: count ids, each below count, none twice.
        return (tokens.map { $0! }, spellingIDs)
    }

    private static func resolveMerge(_ parts: [String], spellingIDs: [[UInt8]: Int32], at: String,
                                     file: String) throws -> BPEMerge {
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw InputError(file, "\(at): expected two tokens separated by one space")
        }
        var ids: [Int32] = []
        for part in parts {
            guard let id = spellingIDs[Array(part.utf8)] else {
                throw InputError(file, "\(at): \(TerminalText.quoted(part)) is not in the vocabulary")
            }
            ids.append(id)
        }
        guard spellingIDs[Array((parts[0] + parts[1]).utf8)] != nil else {
            throw InputError(file, "\(at): the merged token \(TerminalText.quoted(parts[0] + parts[1])) is not in the vocabulary")
        }
        return BPEMerge(ids[0], ids[1])
    }

    // MARK: Writing

    /// merges.txt as tokenizers' `save_model` writes it: "#version: 0.2" then one
    /// "a b" line per merge in rank order, each ending in "\n".
    public static func mergesText(_ tokenizer: BPETokenizer) -> [UInt8] {
        var out = Array("#version: 0.2\n".utf8)
        for m in tokenizer.merges {
            out += Array(tokenizer.spelling(of: m.left).utf8) + [0x20] + Array(tokenizer.spelling(of: m.right).utf8) + [0x0A]
        }
        return out
    }

    /// vocab.json's entries in id order: (spelling, id). The caller writes them as one
    /// JSON object with its JSON writer.
    public static func vocabularyEntries(_ tokenizer: BPETokenizer) -> [(String, Int)] {
        (0..<tokenizer.count).map { (tokenizer.spelling(of: Int32($0)), $0) }
    }

    /// A tokenizer.json document for `tokenizer`, in the layout and member order tokenizers
    /// 0.23 saves for a ByteLevelBPETokenizer (merges as ["a", "b"] pairs), so that
    /// `Tokenizer.from_file` and transformers' `GPT2TokenizerFast` load it. Print it with
    /// `serialized(pretty: false, escaping: .minimal)`.
    public static func tokenizerJSON(_ tokenizer: BPETokenizer) -> JSONValue {
        func byteLevel(addPrefixSpace: Bool, trimOffsets: Bool) -> JSONValue {
            .object([("type", .string("ByteLevel")), ("add_prefix_space", .bool(addPrefixSpace)),
                     ("trim_offsets", .bool(trimOffsets)), ("use_regex", .bool(true))])
        }
        let added: [JSONValue] = tokenizer.addedTokens.map { t in
            .object([("id", .int(Int(t.id))), ("content", .string(t.content)), ("single_word", .bool(false)),
                     ("lstrip", .bool(false)), ("rstrip", .bool(false)), ("normalized", .bool(t.normalized)),
                     ("special", .bool(t.special))])
        }
        let vocab: JSONValue = .object(vocabularyEntries(tokenizer).map { ($0.0, .int($0.1)) })
        let merges: JSONValue = .array(tokenizer.merges.map {
            .array([.string(tokenizer.spelling(of: $0.left)), .string(tokenizer.spelling(of: $0.right))])
        })
        let model: JSONValue = .object([
            ("type", .string("BPE")), ("dropout", .null), ("unk_token", .null), ("continuing_subword_prefix", .null),
            ("end_of_word_suffix", .null), ("fuse_unk", .bool(false)), ("byte_fallback", .bool(false)),
            ("ignore_merges", .bool(tokenizer.options.ignoreMerges)), ("vocab", vocab), ("merges", merges),
        ])
        return .object([
            ("version", .string("1.0")), ("truncation", .null), ("padding", .null), ("added_tokens", .array(added)),
            ("normalizer", .null),
            ("pre_tokenizer", byteLevel(addPrefixSpace: tokenizer.options.addPrefixSpace, trimOffsets: true)),
            ("post_processor", byteLevel(addPrefixSpace: true, trimOffsets: false)),
            ("decoder", byteLevel(addPrefixSpace: true, trimOffsets: true)),
            ("model", model),
        ])
    }

    /// vocab.json as a JSON object (spelling -> id, in id order).
    public static func vocabJSON(_ tokenizer: BPETokenizer) -> JSONValue {
        .object(vocabularyEntries(tokenizer).map { ($0.0, .int($0.1)) })
    }
}
