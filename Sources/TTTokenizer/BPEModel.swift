import TTCore
// The byte-level BPE model: a vocabulary of byte strings, merges by rank, added tokens;
// encode and decode.
//
// Encoding a text (bytes; any bytes, UTF-8 or not), as Hugging Face tokenizers does for a
// ByteLevel BPE with no normalizer:
// 1. Added tokens are cut out first: the ones with `normalized == false` in one pass, then
//    the ones with `normalized == true` in the pieces left over; each pass scans left to
//    right and takes, at the leftmost position where some added token starts, the longest
//    one (aho-corasick "leftmost-longest"). Each becomes its own id.
// 2. The rest, segment by segment: with `addPrefixSpace`, a space is put before a segment
//    that does not start with one; then GPT-2's pre-tokenization (GPT2PreTokenizer).
// 3. Each piece: with `ignoreMerges`, a piece that is a token is that token. Otherwise the
//    piece starts as one byte token per byte, and the adjacent pair with the lowest merge
//    rank is merged, leftmost first among equal ranks, until no adjacent pair has a merge.
//
// Decoding concatenates the tokens' bytes (an added token's bytes are its content's UTF-8).
// So decode(encode(x)) == x for every byte string x when `addPrefixSpace` is false (the
// GPT-2 setting); with it, each segment gains the space that was put in front.

/// Caps on what a tokenizer file or a stored vocabulary may declare; checked before the
/// corresponding memory is allocated.
public enum BPELimits {
    /// Largest tokenizer.json, vocab.json or merges.txt read (GPT-2's tokenizer.json is 1.4 MB).
    public static let maxFileBytes = 64 << 20
    /// Most tokens (the .ttc format's cap on `model.vocab_size`).
    public static let maxVocabularySize = 1 << 20
    /// Most merges.
    public static let maxMerges = 1 << 20
    /// Longest token, in bytes (GPT-2's longest is 128 bytes; ample room for others).
    public static let maxTokenBytes = 1024
}

/// A token matched whole in the text before pre-tokenization (`<|endoftext|>`), as in a
/// tokenizer.json `added_tokens` entry. Its bytes are its content's UTF-8.
public struct AddedToken: Equatable, Hashable, Sendable {
    public var id: Int32
    public var content: String
    /// A special token: skipped by `decode(_:skippingSpecialTokens: true)`.
    public var special: Bool
    /// tokenizer.json's `normalized`: matched in the second pass (see the top of this file).
    public var normalized: Bool

    public init(id: Int32, content: String, special: Bool = true, normalized: Bool = false) {
        self.id = id
        self.content = content
        self.special = special
        self.normalized = normalized
    }
}

/// A merge: the adjacent tokens `left` `right` become the token whose bytes are theirs
/// concatenated. A merge's rank is its index in `BPETokenizer.merges`.
public struct BPEMerge: Equatable, Hashable, Sendable {
    public var left: Int32
    public var right: Int32
    public init(_ left: Int32, _ right: Int32) {
        self.left = left
        self.right = right
    }
}

/// Encoding options carried by a tokenizer.json's pre-tokenizer and model.
public struct BPEOptions: Equatable, Hashable, Sendable {
    /// ByteLevel `add_prefix_space` (false for GPT-2).
    public var addPrefixSpace: Bool
    /// BPE `ignore_merges`: a piece that is itself a token is not split (false for GPT-2).
    public var ignoreMerges: Bool

    public init(addPrefixSpace: Bool = false, ignoreMerges: Bool = false) {
        self.addPrefixSpace = addPrefixSpace
        self.ignoreMerges = ignoreMerges
    }
}

/// A validated byte-level BPE tokenizer. Ids are `Int32` in `0..<count`.
public struct BPETokenizer: Sendable {
    /// Token bytes, id = index.
    public let tokens: [[UInt8]]
    /// Merges in rank order.
    public let merges: [BPEMerge]
    /// Added tokens in increasing id order.
    public let addedTokens: [AddedToken]
    public let options: BPEOptions

    /// Id of each byte's one-byte token.
    let byteTokenIDs: [Int32]
    /// Pair key (left << 32 | right) -> rank << 32 | result id.
    let mergeTable: [UInt64: UInt64]
    /// Token bytes -> id, every token.
    let tokenIDs: [[UInt8]: Int32]
    /// Added tokens by pass (non-normalized first), as (bytes, id), grouped by first byte
    /// and ordered longest first.
    let addedByFirstByte: [[UInt8: [([UInt8], Int32)]]]
    /// Ids of special tokens.
    let specialIDs: Set<Int32>

    public var count: Int { tokens.count }

    /// Builds and validates a tokenizer.
    /// - Parameter source: the file or key named in error messages.
    /// - Throws: `InputError` when: the vocabulary is empty or larger than
    ///   `BPELimits.maxVocabularySize`; a token is empty or longer than `maxTokenBytes`; two
    ///   tokens have the same bytes; one of the 256 one-byte tokens is missing; a merge names
    ///   an id out of range, repeats an earlier pair, or its concatenation is not a token;
    ///   there are more than `maxMerges` merges; an added token's id is out of range or
    ///   repeated, or its content is not that id's token.
    ///
    /// With `metadataKeys`, each message starts with the checkpoint metadata key at fault
    /// (`vocab.tokens: `, `vocab.merges: `, `vocab.bpe.added_ids: `).
    public init(tokens: [[UInt8]], merges: [BPEMerge], addedTokens: [AddedToken] = [],
                options: BPEOptions = BPEOptions(), source: String, metadataKeys: Bool = false) throws {
        enum Part: String { case tokens = "vocab.tokens", merges = "vocab.merges", added = "vocab.bpe.added_ids" }
        func fail(_ part: Part, _ message: String) -> InputError {
            InputError(source, metadataKeys ? part.rawValue + ": " + message : message)
        }
        guard !tokens.isEmpty else { throw fail(.tokens, "the vocabulary is empty") }
        guard tokens.count <= BPELimits.maxVocabularySize else {
            throw fail(.tokens, "\(tokens.count) tokens is more than the limit \(BPELimits.maxVocabularySize)")
        }
        guard merges.count <= BPELimits.maxMerges else {
            throw fail(.merges, "\(merges.count) merges is more than the limit \(BPELimits.maxMerges)")
        }
        var tokenIDs: [[UInt8]: Int32] = [:]
        tokenIDs.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() {
            guard !token.isEmpty else { throw fail(.tokens, "token \(id) is empty") }
            guard token.count <= BPELimits.maxTokenBytes else {
                throw fail(.tokens, "token \(id) is \(token.count) bytes, more than the limit \(BPELimits.maxTokenBytes)")
            }
            if let other = tokenIDs.updateValue(Int32(id), forKey: token) {
                throw fail(.tokens, "tokens \(other) and \(id) are the same bytes \(quotedToken(token))")
            }
        }
        var byteTokenIDs = [Int32](repeating: -1, count: 256)
        for b in ByteLevel.alphabet {
            guard let id = tokenIDs[[b]] else {
                throw fail(.tokens, "the vocabulary lacks the one-byte token for byte 0x\(hex2(b)) (\(TerminalText.quoted(String(ByteLevel.scalarForByte[Int(b)]))))")
            }
            byteTokenIDs[Int(b)] = id
        }
        var mergeTable: [UInt64: UInt64] = [:]
        mergeTable.reserveCapacity(merges.count)
        for (rank, merge) in merges.enumerated() {
            for id in [merge.left, merge.right] where id < 0 || Int(id) >= tokens.count {
                throw fail(.merges, "merge \(rank): id \(id) is out of range (\(tokens.count) tokens)")
            }
            let joined = tokens[Int(merge.left)] + tokens[Int(merge.right)]
            guard let result = tokenIDs[joined] else {
                throw fail(.merges, "merge \(rank) (\(quotedToken(tokens[Int(merge.left)])) \(quotedToken(tokens[Int(merge.right)]))): the merged token \(quotedToken(joined)) is not in the vocabulary")
            }
            let key = pairKey(merge.left, merge.right)
            if let earlier = mergeTable.updateValue(UInt64(rank) << 32 | UInt64(UInt32(result)), forKey: key) {
                throw fail(.merges, "merge \(rank) (\(quotedToken(tokens[Int(merge.left)])) \(quotedToken(tokens[Int(merge.right)]))) repeats merge \(earlier >> 32)")
            }
        }
        var seenAdded = Set<Int32>()
        var passes: [[UInt8: [([UInt8], Int32)]]] = [[:], [:]]
        for token in addedTokens {
            guard token.id >= 0, Int(token.id) < tokens.count else {
                throw fail(.added, "added token \(TerminalText.quoted(token.content)): id \(token.id) is out of range (\(tokens.count) tokens)")
            }
            guard seenAdded.insert(token.id).inserted else { throw fail(.added, "added token id \(token.id) appears twice") }
            let bytes = Array(token.content.utf8)
            guard bytes == tokens[Int(token.id)] else {
                throw fail(.added, "added token \(TerminalText.quoted(token.content)) (id \(token.id)) is not that id's token \(quotedToken(tokens[Int(token.id)]))")
            }
            passes[token.normalized ? 1 : 0][bytes[0], default: []].append((bytes, token.id))
        }
        for p in 0..<2 {
            for key in passes[p].keys { passes[p][key]!.sort { $0.0.count > $1.0.count } }
        }
        self.tokens = tokens
        self.merges = merges
        self.addedTokens = addedTokens.sorted { $0.id < $1.id }
        self.options = options
        self.byteTokenIDs = byteTokenIDs
        self.mergeTable = mergeTable
        self.tokenIDs = tokenIDs
        self.addedByFirstByte = passes
        self.specialIDs = Set(addedTokens.filter(\.special).map(\.id))
    }

    /// The id of the token with these bytes, if any.
    public func id(of token: [UInt8]) -> Int32? { tokenIDs[token] }

    /// How token `id` is written in vocab.json / tokenizer.json: an added token's content,
    /// any other token's byte-level spelling (`Ġthe`).
    /// - Precondition: `id` is in `0..<count`.
    public func spelling(of id: Int32) -> String {
        if let added = addedTokens.first(where: { $0.id == id }) { return added.content }
        return ByteLevel.spelling(of: tokens[Int(id)])
    }

    /// Whether `id` is an added token.
    public func isAdded(_ id: Int32) -> Bool { addedTokens.contains { $0.id == id } }

    // MARK: Encode

    /// The ids of `text` (see the top of this file). Deterministic; nothing is added
    /// (no BOS/EOS). With `matchingAddedTokens` false, added tokens' text is encoded as
    /// ordinary text.
    public func encode(_ text: [UInt8], matchingAddedTokens: Bool = true) -> [Int32] {
        var ids: [Int32] = []
        ids.reserveCapacity(text.count / 3 + 1)
        var cache: [ArraySlice<UInt8>: [Int32]] = [:]
        let segments = matchingAddedTokens && !addedTokens.isEmpty
            ? splitOnAddedTokens(text) : [(0..<text.count, nil)]
        for (range, added) in segments {
            if let added { ids.append(added); continue }
            if range.isEmpty { continue }
            if options.addPrefixSpace && text[range.lowerBound] != 0x20 {
                let segment = [0x20] + text[range]
                encodeSegment(segment, 0..<segment.count, into: &ids, cache: &cache)
            } else {
                encodeSegment(text, range, into: &ids, cache: &cache)
            }
        }
        return ids
    }

    /// The ids of a string's UTF-8 bytes.
    public func encode(_ text: String, matchingAddedTokens: Bool = true) -> [Int32] {
        encode(Array(text.utf8), matchingAddedTokens: matchingAddedTokens)
    }

    private func encodeSegment(_ text: [UInt8], _ range: Range<Int>, into ids: inout [Int32],
                               cache: inout [ArraySlice<UInt8>: [Int32]]) {
        text.withUnsafeBufferPointer { buffer in
            GPT2PreTokenizer.forEachPiece(in: buffer, from: range.lowerBound, to: range.upperBound) { piece in
                let bytes = text[piece]
                if let hit = cache[bytes] {
                    ids.append(contentsOf: hit)
                    return
                }
                let pieceIDs = encodePiece(bytes)
                if piece.count <= 256 && cache.count < 1 << 16 { cache[bytes] = pieceIDs }
                ids.append(contentsOf: pieceIDs)
            }
        }
    }

    /// BPE on one piece: lowest rank first, leftmost among equal ranks (tokenizers'
    /// `Word::merge_all`, a heap of (rank, position) with stale entries skipped).
    func encodePiece(_ bytes: ArraySlice<UInt8>) -> [Int32] {
        if options.ignoreMerges, let id = tokenIDs[Array(bytes)] { return [id] }
        let n = bytes.count
        if n == 1 { return [byteTokenIDs[Int(bytes.first!)]] }
        var symbol = bytes.map { byteTokenIDs[Int($0)] }
        var next = (0..<n).map { Int32($0 + 1) }  // n = none
        var prev = (0..<n).map { Int32($0 - 1) }  // -1 = none
        var alive = [Bool](repeating: true, count: n)
        var heap = MinHeap()
        func rankAndResult(_ i: Int) -> UInt64? {
            let j = Int(next[i])
            guard j < n else { return nil }
            return mergeTable[pairKey(symbol[i], symbol[j])]
        }
        for i in 0..<(n - 1) {
            if let m = rankAndResult(i) { heap.push((m >> 32) << 32 | UInt64(i)) }
        }
        while let top = heap.pop() {
            let rank = top >> 32
            let i = Int(top & 0xFFFF_FFFF)
            guard alive[i], let m = rankAndResult(i), m >> 32 == rank else { continue }  // stale
            let j = Int(next[i])
            symbol[i] = Int32(truncatingIfNeeded: m & 0xFFFF_FFFF)
            alive[j] = false
            next[i] = next[j]
            if Int(next[j]) < n { prev[Int(next[j])] = Int32(i) }
            if prev[i] >= 0, let mp = rankAndResult(Int(prev[i])) { heap.push((mp >> 32) << 32 | UInt64(prev[i])) }
            if let mn = rankAndResult(i) { heap.push((mn >> 32) << 32 | UInt64(i)) }
        }
        var out: [Int32] = []
        var i = 0
        while i < n { out.append(symbol[i]); i = Int(next[i]) }
        return out
    }

    /// Cuts `text` into segments: added tokens (with their id) and the text between them.
    func splitOnAddedTokens(_ text: [UInt8]) -> [(Range<Int>, Int32?)] {
        var segments: [(Range<Int>, Int32?)] = [(0..<text.count, nil)]
        for pass in addedByFirstByte where !pass.isEmpty {
            var out: [(Range<Int>, Int32?)] = []
            for (range, id) in segments {
                if id != nil { out.append((range, id)); continue }
                var start = range.lowerBound
                var p = range.lowerBound
                while p < range.upperBound {
                    if let candidates = pass[text[p]],
                       let (bytes, id) = candidates.first(where: { c in
                           c.0.count <= range.upperBound - p && text[p..<(p + c.0.count)].elementsEqual(c.0)
                       }) {
                        if p > start { out.append((start..<p, nil)) }
                        out.append((p..<(p + bytes.count), id))
                        p += bytes.count
                        start = p
                    } else {
                        p += 1
                    }
                }
                if start < range.upperBound { out.append((start..<range.upperBound, nil)) }
            }
            segments = out
        }
        return segments
    }

    // MARK: Decode

    /// The bytes of `ids` concatenated; with `skippingSpecialTokens`, special added tokens
    /// contribute nothing.
    /// - Throws: `InputError` (subject "ids") for an id outside `0..<count`.
    public func decode<C: Collection>(_ ids: C, skippingSpecialTokens: Bool = false) throws -> [UInt8]
    where C.Element: BinaryInteger {
        var out: [UInt8] = []
        for raw in ids {
            guard raw >= 0, raw < tokens.count else {
                throw InputError("ids", "id \(raw) is out of range (\(tokens.count) tokens)")
            }
            let id = Int(raw)
            if skippingSpecialTokens && specialIDs.contains(Int32(id)) { continue }
            out.append(contentsOf: tokens[id])
        }
        return out
    }
}

extension BPETokenizer: Equatable {
    public static func == (a: BPETokenizer, b: BPETokenizer) -> Bool {
        a.tokens == b.tokens && a.merges == b.merges && a.addedTokens == b.addedTokens && a.options == b.options
    }
}

@inline(__always)
func pairKey(_ left: Int32, _ right: Int32) -> UInt64 {
    UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
}

func hex2(_ b: UInt8) -> String {
    let s = String(b, radix: 16, uppercase: true)
    return s.count == 1 ? "0" + s : s
}

/// A binary min-heap of UInt64 keys.
struct MinHeap {
    private var items: [UInt64] = []

    mutating func push(_ x: UInt64) {
        items.append(x)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if items[parent] <= items[i] { break }
            items.swapAt(parent, i)
            i = parent
        }
    }

    mutating func pop() -> UInt64? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < items.count && items[l] < items[m] { m = l }
                if r < items.count && items[r] < items[m] { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return first
    }
}

/// A token's bytes quoted for a message: its byte-level spelling (`"Ġthe"`), as vocab.json
/// writes it, so that every byte string can be shown.
func quotedToken(_ bytes: [UInt8]) -> String {
    TerminalText.quoted(ByteLevel.spelling(of: bytes))
}
