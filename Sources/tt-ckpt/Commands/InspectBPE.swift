import TTCore

// inspect's lines for a bpe vocabulary (kept apart from Inspect.swift, which another
// helper owns): the merges by rank and the added tokens, after the vocabulary line.
extension InspectText {
    static let mergesShown = 32

    /// "merges" and "added tokens" rows for a bpe vocabulary; none for other kinds.
    static func bpeRows(_ v: Vocabulary) -> [(String, String)] {
        guard v.kind == .bpe, let b = v.bpe else { return [] }
        func token(_ id: UInt32) -> String {
            Int(id) < v.tokens.count ? TerminalText.quoted(v.tokens[Int(id)]) : "#\(id)"
        }
        let count = b.merges.count / 2
        var merges = "\(count) by rank, pre-tokenizer \(TerminalText.escaped(b.preTokenizer))"
        if b.addPrefixSpace { merges += ", add_prefix_space" }
        if b.ignoreMerges { merges += ", ignore_merges" }
        merges += count > 0 ? ":" : ""
        for r in 0..<min(count, mergesShown) { merges += " \(r):\(token(b.merges[2 * r]))+\(token(b.merges[2 * r + 1]))" }
        if count > mergesShown { merges += " … (\(count - mergesShown) more; --json lists all)" }
        var added = b.addedIDs.isEmpty ? "none" : ""
        for (id, flags) in zip(b.addedIDs, b.addedFlags) {
            added += (added.isEmpty ? "" : " ") + "\(id):\(token(id))"
            let kinds = (flags & 1 != 0 ? ["special"] : []) + (flags & 2 != 0 ? ["normalized"] : [])
            if !kinds.isEmpty { added += " (" + kinds.joined(separator: ", ") + ")" }
        }
        return [("merges", merges), ("added tokens", added)]
    }
}
