import TTCore
// Learning a byte-level BPE from a corpus, the way Hugging Face tokenizers'
// `ByteLevelBPETokenizer().train(files, vocab_size, min_frequency, special_tokens)` does
// (its `BpeTrainer` with the 256-character ByteLevel initial alphabet), so that the same
// corpus gives the same vocabulary and merges.
//
// 1. Words: the corpus is cut into lines after each "\n" (the "\n" stays with its line; as
//    tokenizers reads a training file), each line is pre-tokenized (GPT2PreTokenizer), and
//    the pieces are counted. Any bytes are accepted (tokenizers only reads UTF-8 files).
// 2. Ids: the special tokens first, in the order given; then the 256 byte tokens in
//    alphabet order (the order of their byte-level characters' code points, `!` first);
//    then each new token in the order it is created.
// 3. Pair counts: for every word, each adjacent pair of symbols counts the word's count.
// 4. Repeat until the vocabulary has `vocabularySize` tokens: take the pair with the highest
//    count; **ties go to the smallest pair (left id, right id), compared as numbers, left
//    first** (tokenizers' `Merge` ordering). Stop if its count is below
//    `minimumFrequency` or below 1. The merged token is the two spellings concatenated (if
//    that string is already a token, its id is reused). Merge it left to right, without
//    overlap, in the words that had the pair, and update the counts of the pairs around
//    each merge (incremental: only the affected words are touched).
//
// The bookkeeping follows tokenizers exactly: a priority queue of (count, pair, words)
// entries that are refreshed lazily when popped with a stale count; a merge applies to the
// words recorded with the popped entry; pairs that gain occurrences are queued again with
// the words that gained them. If the same pair is merged twice (possible only when a
// merged token's string already existed), only its last rank is kept, as tokenizers'
// saved merges do. Single-threaded and deterministic.

public struct BPETrainer: Sendable {
    /// Target number of tokens, special tokens and the 256 byte tokens included.
    public var vocabularySize: Int
    /// Pairs seen fewer times than this are never merged (ByteLevelBPETokenizer's default: 2).
    public var minimumFrequency: Int
    /// Tokens given ids 0, 1, ... and added (special) to the tokenizer; never learned.
    public var specialTokens: [String]

    public init(vocabularySize: Int, minimumFrequency: Int = 2, specialTokens: [String] = []) {
        self.vocabularySize = vocabularySize
        self.minimumFrequency = minimumFrequency
        self.specialTokens = specialTokens
    }

    /// The pieces of `corpus` and how often each occurs (rule 1 at the top of this file).
    public static func wordCounts(of corpus: [UInt8]) -> [[UInt8]: Int] {
        var counts: [ArraySlice<UInt8>: Int] = [:]
        corpus.withUnsafeBufferPointer { buffer in
            var lineStart = 0
            while lineStart < buffer.count {
                var lineEnd = lineStart
                while lineEnd < buffer.count && buffer[lineEnd] != 0x0A { lineEnd += 1 }
                if lineEnd < buffer.count { lineEnd += 1 }  // keep the "\n"
                GPT2PreTokenizer.forEachPiece(in: buffer, from: lineStart, to: lineEnd) { piece in
                    counts[corpus[piece], default: 0] += 1
                }
                lineStart = lineEnd
            }
        }
        var out: [[UInt8]: Int] = [:]
        out.reserveCapacity(counts.count)
        for (word, count) in counts { out[Array(word)] = count }
        return out
    }

    /// Learns a tokenizer from `corpus` (any bytes).
    /// - Parameter source: the corpus file named in error messages.
    public func train(corpus: [UInt8], source: String) throws -> BPETokenizer {
        guard !corpus.isEmpty else { throw InputError(source, "is empty") }
        return try train(wordCounts: Self.wordCounts(of: corpus), source: source)
    }

    /// Learns a tokenizer from counted words (pieces).
    /// - Throws: `InputError` for a vocabulary size outside
    ///   (256 + special tokens)...`BPELimits.maxVocabularySize`, a minimum frequency below 0,
    ///   an empty, over-long or repeated special token.
    public func train(wordCounts: [[UInt8]: Int], source: String) throws -> BPETokenizer {
        let floor = 256 + specialTokens.count
        guard vocabularySize >= floor && vocabularySize <= BPELimits.maxVocabularySize else {
            throw InputError(setting: .vocabSize, "\(vocabularySize) is outside \(floor)...\(BPELimits.maxVocabularySize) (256 byte tokens + \(specialTokens.count) special)")
        }
        guard minimumFrequency >= 0 else { throw InputError("minimum frequency", "\(minimumFrequency) is negative") }

        // Vocabulary keyed by spelling (UTF-8), as tokenizers keys it by string.
        var idOfSpelling: [[UInt8]: Int32] = [:]
        var spellings: [[UInt8]] = []
        var isSpecial: [Bool] = []
        for content in specialTokens {
            let key = Array(content.utf8)
            guard !key.isEmpty && key.count <= BPELimits.maxTokenBytes else {
                throw InputError("special token", "\(TerminalText.quoted(content)) is empty or longer than \(BPELimits.maxTokenBytes) bytes")
            }
            guard idOfSpelling[key] == nil else { throw InputError("special token", "\(TerminalText.quoted(content)) is given twice") }
            idOfSpelling[key] = Int32(spellings.count)
            spellings.append(key)
            isSpecial.append(true)
        }
        var byteID = [Int32](repeating: -1, count: 256)
        for b in ByteLevel.alphabet {
            let key = Array(String(ByteLevel.scalarForByte[Int(b)]).utf8)
            if let existing = idOfSpelling[key] {
                byteID[Int(b)] = existing
            } else {
                idOfSpelling[key] = Int32(spellings.count)
                byteID[Int(b)] = Int32(spellings.count)
                spellings.append(key)
                isSpecial.append(false)
            }
        }

        // Words in a fixed order (by bytes) so that every run does the same work.
        let sortedWords = wordCounts.filter { $0.value > 0 }.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        var words: [[Int32]] = sortedWords.map { $0.key.map { byteID[Int($0)] } }
        let counts: [Int] = sortedWords.map(\.value)

        // Initial pair counts and the words each pair occurs in.
        var pairCounts: [UInt64: Int] = [:]
        var whereToUpdate: [UInt64: [Int]] = [:]
        for (w, word) in words.enumerated() where word.count > 1 {
            for i in 0..<(word.count - 1) {
                let key = pairKey(word[i], word[i + 1])
                pairCounts[key, default: 0] += counts[w]
                if whereToUpdate[key]?.last != w { whereToUpdate[key, default: []].append(w) }
            }
        }
        var queue = MergeQueue()
        for (pair, positions) in whereToUpdate.sorted(by: { $0.key < $1.key }) {
            let count = pairCounts[pair]!
            if count > 0 { queue.push(count: count, pair: pair, positions: positions) }
        }
        whereToUpdate.removeAll()

        var merges: [(pair: UInt64, result: Int32)] = []
        while spellings.count < vocabularySize {
            guard var top = queue.pop() else { break }
            let current = pairCounts[top.pair] ?? 0
            if top.count != current {
                top.count = current
                queue.push(top)
                continue
            }
            if top.count < 1 || top.count < minimumFrequency { break }
            let left = Int32(truncatingIfNeeded: top.pair >> 32), right = Int32(truncatingIfNeeded: top.pair & 0xFFFF_FFFF)
            let spelling = spellings[Int(left)] + spellings[Int(right)]
            let newID: Int32
            if let existing = idOfSpelling[spelling] {
                newID = existing
            } else {
                newID = Int32(spellings.count)
                idOfSpelling[spelling] = newID
                spellings.append(spelling)
                isSpecial.append(false)
            }
            merges.append((top.pair, newID))

            var gained: [UInt64: [Int]] = [:]
            for w in queue.positions(of: top) {
                mergeWord(&words[w], left, right, newID) { pair, change in
                    pairCounts[pair, default: 0] += change * counts[w]
                    if change > 0, gained[pair]?.last != w { gained[pair, default: []].append(w) }
                }
            }
            queue.release(top)
            for (pair, positions) in gained.sorted(by: { $0.key < $1.key }) {
                let count = pairCounts[pair]!
                if count > 0 { queue.push(count: count, pair: pair, positions: positions) }
            }
        }

        // Tokens as bytes; the last rank of a pair merged twice (see the top of this file).
        var tokens: [[UInt8]] = []
        tokens.reserveCapacity(spellings.count)
        for (id, spelling) in spellings.enumerated() {
            if isSpecial[id] {
                tokens.append(spelling)
            } else {
                tokens.append(ByteLevel.bytes(ofSpelling: String(decoding: spelling, as: UTF8.self))!)
            }
        }
        var lastRank: [UInt64: Int] = [:]
        for (rank, m) in merges.enumerated() { lastRank[m.pair] = rank }
        let kept = merges.enumerated().filter { lastRank[$0.element.pair] == $0.offset }.map {
            BPEMerge(Int32(truncatingIfNeeded: $0.element.pair >> 32), Int32(truncatingIfNeeded: $0.element.pair & 0xFFFF_FFFF))
        }
        let added = specialTokens.enumerated().map { AddedToken(id: Int32($0.offset), content: $0.element, special: true, normalized: false) }
        return try BPETokenizer(tokens: tokens, merges: kept, addedTokens: added, source: source)
    }
}

/// Merges every non-overlapping `left right`, left to right, in `word` into `replacement`,
/// reporting the pair-count changes exactly as tokenizers' `Word::merge` does (the merged
/// pair's own count is not reported).
func mergeWord(_ word: inout [Int32], _ left: Int32, _ right: Int32, _ replacement: Int32,
               _ change: (UInt64, Int) -> Void) {
    var i = 0
    while i < word.count {
        if word[i] == left && i + 1 < word.count && word[i + 1] == right {
            if i > 0 {
                change(pairKey(word[i - 1], left), -1)
                change(pairKey(word[i - 1], replacement), 1)
            }
            word[i] = replacement
            word.remove(at: i + 1)
            if i < word.count - 1 {
                change(pairKey(right, word[i + 1]), -1)
                change(pairKey(replacement, word[i + 1]), 1)
            }
        }
        i += 1
    }
}

/// tokenizers' merge queue: a max-heap of (count, pair) with ties to the smaller pair;
/// each entry carries the words it applies to.
struct MergeQueue {
    struct Entry {
        var count: Int
        var pair: UInt64
        var slot: Int
    }

    private var heap: [Entry] = []
    private var positionStore: [[Int]] = []
    private var freeSlots: [Int] = []

    /// Whether `a` comes out before `b`.
    @inline(__always)
    private static func before(_ a: Entry, _ b: Entry) -> Bool {
        a.count != b.count ? a.count > b.count : a.pair < b.pair
    }

    mutating func push(count: Int, pair: UInt64, positions: [Int]) {
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            positionStore[slot] = positions
        } else {
            slot = positionStore.count
            positionStore.append(positions)
        }
        push(Entry(count: count, pair: pair, slot: slot))
    }

    mutating func push(_ entry: Entry) {
        heap.append(entry)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if !Self.before(heap[i], heap[parent]) { break }
            heap.swapAt(parent, i)
            i = parent
        }
    }

    mutating func pop() -> Entry? {
        guard let first = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count && Self.before(heap[l], heap[m]) { m = l }
                if r < heap.count && Self.before(heap[r], heap[m]) { m = r }
                if m == i { break }
                heap.swapAt(i, m)
                i = m
            }
        }
        return first
    }

    func positions(of entry: Entry) -> [Int] { positionStore[entry.slot] }

    /// Frees a popped entry's word list.
    mutating func release(_ entry: Entry) {
        positionStore[entry.slot] = []
        freeSlots.append(entry.slot)
    }
}
