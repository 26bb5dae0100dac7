/// A problem with something the user gave: a file, a corpus, an option value, a prompt.
/// `description` is one line, `subject: problem`, escaped (`TerminalText`), so the
/// command line can print it as is after `tt-ckpt: `.
public struct InputError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The file or option the problem is about (`corpus.txt`, `--prompt`).
    public var subject: String
    public var message: String

    public init(_ subject: String, _ message: String) {
        self.subject = subject
        self.message = message
    }

    public var description: String { "\(TerminalText.escaped(subject)): \(TerminalText.escaped(message))" }
}
