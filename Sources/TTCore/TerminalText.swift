/// Text that came from a file or a user (tensor names, tokens, paths, metadata strings,
/// option values) made safe to print on a terminal. Every line tt-ckpt prints from file
/// content goes through `escaped`, on stdout and stderr alike, so such text can never move
/// the cursor, ring the bell, send an escape sequence, end the line, or reorder the line
/// around it (bidi controls).
///
/// Replaced: `\n`, `\t`, `\r` by those escapes; every other scalar of the general
/// categories control (C0, DEL, C1), format (the bidi controls U+061C, U+200E–U+200F,
/// U+202A–U+202E, U+2066–U+2069, zero-width characters, ...), line and paragraph separator,
/// surrogate, private use and unassigned by `\u{hex}` (lowercase hex, Swift's syntax).
/// Everything else, non-ASCII letters included, is kept.
///
/// A backslash is kept as it is, so escaping is idempotent: `escaped(escaped(s)) ==
/// escaped(s)`. Messages escape the names they quote when they are built, and the command
/// line escapes every line again before printing it; neither can double the other's
/// escapes. The price: a name holding the six characters `\u{7}` prints like one holding
/// BEL; `inspect --json` tells them apart.
public enum TerminalText {
    /// The bidirectional formatting controls (all of general category Cf; listed so the
    /// rule does not depend on the Unicode tables of the platform).
    public static let bidiControls: [ClosedRange<UInt32>] = [
        0x061C...0x061C, 0x200E...0x200F, 0x202A...0x202E, 0x2066...0x2069,
    ]

    /// True for every scalar `escaped` replaces.
    public static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if v < 0x20 || (0x7F...0x9F).contains(v) { return true }
        if v < 0xA0 { return false }
        if bidiControls.contains(where: { $0.contains(v) }) { return true }
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned:
            return true
        default:
            return false
        }
    }

    /// `s` with every scalar that `needsEscape` flags replaced (see the type). With `limit`,
    /// at most that many scalars of `s` are kept, followed by `...` when some were cut.
    /// `keepingLineBreaks` keeps `\n` and `\t` as they are, for text whose lines are its own
    /// (generated text); everything else is escaped as usual.
    public static func escaped(_ s: String, limit: Int? = nil, keepingLineBreaks: Bool = false) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        var count = 0
        for scalar in s.unicodeScalars {
            if let limit, count >= limit {
                out += "..."
                break
            }
            count += 1
            guard needsEscape(scalar) && !(keepingLineBreaks && (scalar == "\n" || scalar == "\t")) else {
                out.unicodeScalars.append(scalar)
                continue
            }
            switch scalar {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default: out += "\\u{" + String(scalar.value, radix: 16) + "}"
            }
        }
        return out
    }

    /// `escaped(s)` between two `quote` characters, with `quote` itself preceded by a
    /// backslash inside, so leading and trailing spaces and the empty string show:
    /// `"é"`, `"\t"`, `" "`, `'layers.0.attn.wq'`.
    public static func quoted(_ s: String, quote: Unicode.Scalar = "\"", limit: Int? = nil) -> String {
        var out = String.UnicodeScalarView()
        out.append(quote)
        for scalar in escaped(s, limit: limit).unicodeScalars {
            if scalar == quote { out.append("\\") }
            out.append(scalar)
        }
        out.append(quote)
        return String(out)
    }
}
