/// A problem with something the user gave: a file, a corpus, an option value, a prompt.
/// `description` is one line, `subject: problem`, with control characters escaped, so the
/// command line can print it as is after `tt-ckpt: `.
public struct InputError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The file or option the problem is about (`corpus.txt`, `--prompt`).
    public var subject: String
    public var message: String

    public init(_ subject: String, _ message: String) {
        self.subject = subject
        self.message = message
    }

    public var description: String { "\(displayEscaped(subject)): \(displayEscaped(message))" }
}

/// `text` with every control character, and every other character that would break a
/// one-line message, replaced by a Swift-style escape (`\n`, `\t`, `\u{7}`).
/// Printable characters, including non-ASCII letters, are kept.
public func displayEscaped(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.unicodeScalars.count)
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default:
            let category = scalar.properties.generalCategory
            let invisible: Bool
            switch category {
            case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned:
                invisible = true
            default:
                invisible = false
            }
            if invisible {
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out
}

/// A token or symbol quoted for a message: `"é"`, `"\t"`, `" "`.
package func quotedSymbol(_ text: String) -> String {
    "\"" + displayEscaped(text).replacingBackslashFreeQuotes() + "\""
}

extension String {
    fileprivate func replacingBackslashFreeQuotes() -> String {
        var out = ""
        for ch in self { out += ch == "\"" ? "\\\"" : String(ch) }
        return out
    }
}
