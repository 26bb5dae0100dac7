// The content rules of spec/FORMAT.md §3.2 ("Content rules"): what a vocabulary and the
// training progress must satisfy, whatever file they come from. The .ttc reader and writer
// (TTFormat) and the safetensors importer (TTInterop) call these functions, so a value one
// of them refuses is refused by all, with the same message.

/// A value that breaks a content rule. `field` names it by its .ttc metadata key
/// (`vocab.tokens`, `train.session_starts`, ...); `message` says what is wrong without
/// naming the key, so each reader prefixes its own spelling of the field
/// (`metadata key 'train.step': ...` in a .ttc, `__metadata__ step: ...` in safetensors).
public struct ContentRuleError: Error, Equatable, Sendable, CustomStringConvertible {
    public var field: String
    public var message: String
    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }
    public var description: String { "\(field): \(message)" }
}

public enum ContentRules {
    /// Longest token, in UTF-8 bytes (the format's string cap).
    public static let maxTokenBytes = 1 << 20
    /// Most sequences one optimizer step may have (`train.batch_size`). Far above the
    /// trainer's own cap; it bounds how many tokens a step can have seen.
    public static let maxBatchSize = 1 << 16

    /// The rules for `vocab.kind` and `vocab.tokens` (spec §3.2), checked in this order:
    /// the token count equals `vocabSize`; a byte vocabulary has 256 tokens; then token by
    /// token in id order: not empty, at most `maxTokenBytes`, the kind's rule (char: one
    /// Unicode scalar; word: no White_Space scalar; byte: the label of its byte), and not
    /// equal (as UTF-8 bytes) to an earlier token. The first failure is thrown.
    /// - Throws: `ContentRuleError` with field `vocab.tokens`.
    public static func checkVocabulary(_ vocabulary: Vocabulary, vocabSize: Int) throws {
        func fail(_ m: String) -> ContentRuleError { ContentRuleError(field: "vocab.tokens", message: m) }
        let tokens = vocabulary.tokens
        guard tokens.count == vocabSize else {
            throw fail("\(tokens.count) tokens, but the model's vocab_size is \(vocabSize)")
        }
        if vocabulary.kind == .byte && tokens.count != 256 {
            throw fail("a byte vocabulary has exactly 256 tokens, this one \(tokens.count)")
        }
        var seen: [[UInt8]: Int] = [:]
        seen.reserveCapacity(tokens.count)
        for (i, token) in tokens.enumerated() {
            let bytes = Array(token.utf8)
            guard !bytes.isEmpty else { throw fail("token \(i) is empty") }
            guard bytes.count <= maxTokenBytes else { throw fail("token \(i) is longer than \(maxTokenBytes) bytes") }
            // Other kinds (bpe, format 1.1) have their own rules, checked with their data.
            if vocabulary.kind == .char {
                let n = token.unicodeScalars.count
                guard n == 1 else {
                    throw fail("token \(i) \(quoted(token)) is \(n) characters; a char vocabulary has one Unicode scalar per token")
                }
            } else if vocabulary.kind == .word {
                if let s = token.unicodeScalars.first(where: { $0.properties.isWhitespace }) {
                    throw fail("token \(i) \(quoted(token)) contains whitespace (\(codePoint(s))); word tokens are split at whitespace")
                }
            } else if vocabulary.kind == .byte {
                let label = Vocabulary.byteLabel(UInt8(i))
                guard bytes == Array(label.utf8) else {
                    throw fail("token \(i) is \(quoted(token)), expected \(quoted(label)), the label of byte \(hexByte(UInt8(i)))")
                }
            }
            if let first = seen.updateValue(i, forKey: bytes) {
                throw fail("tokens \(first) and \(i) are the same, \(quoted(token))")
            }
        }
    }

    /// The cross-checks of the training progress (spec §3.2), in this order:
    /// `batchSize` in 1...`maxBatchSize`; one loss per step; no tokens seen before the first
    /// step and at most step × context × `maxBatchSize` after it; each session start at most
    /// `step` and not less than the one before.
    /// - Throws: `ContentRuleError` naming the field at fault (`train.batch_size`,
    ///   `train.loss_history`, `train.tokens_seen`, `train.session_starts`).
    public static func checkProgress(step: Int, tokensSeen: Int, lossCount: Int, sessionStarts: [Int],
                                     batchSize: Int, context: Int) throws {
        func fail(_ field: String, _ m: String) -> ContentRuleError { ContentRuleError(field: "train." + field, message: m) }
        guard step >= 0 else { throw fail("step", "\(step) is negative") }
        guard tokensSeen >= 0 else { throw fail("tokens_seen", "\(tokensSeen) is negative") }
        guard (1...maxBatchSize).contains(batchSize) else {
            throw fail("batch_size", "must be in 1...\(maxBatchSize), got \(batchSize)")
        }
        guard lossCount == step else {
            throw fail("loss_history", "\(lossCount) losses for \(step) steps; there is one loss per step")
        }
        if step == 0 {
            guard tokensSeen == 0 else { throw fail("tokens_seen", "\(tokensSeen) tokens seen in 0 steps") }
        } else {
            let (perStep, o1) = max(context, 1).multipliedReportingOverflow(by: maxBatchSize)
            let (bound, o2) = step.multipliedReportingOverflow(by: perStep)
            if !o1 && !o2 && tokensSeen > bound {
                throw fail("tokens_seen", "\(tokensSeen) tokens seen in \(step) steps, more than \(step) × \(context) positions × \(maxBatchSize) sequences")
            }
        }
        for (i, s) in sessionStarts.enumerated() {
            guard s >= 0, s <= step else {
                throw fail("session_starts", "element \(i) (\(s)) is not in 0...\(step), the steps taken")
            }
            if i > 0, s < sessionStarts[i - 1] {
                throw fail("session_starts", "element \(i) (\(s)) is less than element \(i - 1) (\(sessionStarts[i - 1])); sessions start in order")
            }
        }
    }

    private static func quoted(_ s: String) -> String { TerminalText.quoted(s, quote: "'", limit: 200) }

    private static func codePoint(_ s: Unicode.Scalar) -> String {
        let hex = String(s.value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    private static func hexByte(_ b: UInt8) -> String {
        let hex = String(b, radix: 16, uppercase: true)
        return "0x" + (hex.count == 1 ? "0" : "") + hex
    }
}

extension Vocabulary {
    /// The 256-token byte vocabulary: token i is `byteLabel(i)`.
    public static let bytes = Vocabulary(kind: .byte, tokens: (0..<256).map { byteLabel(UInt8($0)) })

    /// Label of byte `b` in the byte vocabulary (spec §3.2): the character itself for
    /// printable ASCII 0x21...0x7E, `<0xNN>` (uppercase hex) for every other byte.
    public static func byteLabel(_ b: UInt8) -> String {
        if b >= 0x21 && b <= 0x7E { return String(UnicodeScalar(b)) }
        let hex = String(b, radix: 16, uppercase: true)
        return "<0x" + (hex.count == 1 ? "0" + hex : hex) + ">"
    }
}
