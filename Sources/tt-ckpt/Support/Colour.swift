import Foundation

/// ANSI colour for a few words of output: only when the stream is a terminal, never when
/// `NO_COLOR` is set to anything non-empty (no-color.org), and never for `TERM=dumb`.
enum Colour {
    enum Style: String {
        case red = "31", green = "32", bold = "1", boldRed = "1;31"
    }

    /// Whether output written to `fd` may be coloured.
    static func enabled(for fd: Int32) -> Bool {
        let environment = ProcessInfo.processInfo.environment
        if let noColour = environment["NO_COLOR"], !noColour.isEmpty { return false }
        if environment["TERM"] == "dumb" { return false }
        return isatty(fd) == 1
    }

    /// `text` wrapped in the style's escape codes when `fd` may be coloured, else `text`.
    static func paint(_ text: String, _ style: Style, for fd: Int32 = STDOUT_FILENO) -> String {
        enabled(for: fd) ? "\u{1B}[\(style.rawValue)m\(text)\u{1B}[0m" : text
    }
}
