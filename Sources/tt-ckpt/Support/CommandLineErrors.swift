import ArgumentParser
import Foundation
import TTCore

/// How the tool reports trouble: exactly one line on stderr, `tt-ckpt: <file or option>:
/// <problem>`, and exit status 2, for parse errors, `validate()` failures and errors thrown
/// while running alike. `--help` and `--version` print and exit 0; a command that throws
/// `ExitCode` (diff's 1, training's 130/143) exits with that code and no extra output.
enum CommandLineErrors {
    static let troubleStatus: Int32 = 2

    static func runMain(_ root: ParsableCommand.Type) -> Never {
        do {
            var command = try root.parseAsRoot(nil)
            try command.run()
            exit(0)
        } catch {
            fail(error, root: root)
        }
    }

    static func fail(_ error: Error, root: ParsableCommand.Type) -> Never {
        if let code = error as? ExitCode { exit(code.rawValue) }
        let code = root.exitCode(for: error)
        if code == .success { root.exit(withError: error) }  // help, version
        let line = oneLine(error, root: root)
        if line.isEmpty { exit(code.rawValue) }  // an ExitCode wrapped by the parser
        writeError(line)
        exit(troubleStatus)
    }

    /// The error as one line, without the `tt-ckpt: ` prefix.
    static func oneLine(_ error: Error, root: ParsableCommand.Type) -> String {
        var text: String
        switch error {
        case let e as CustomStringConvertible where !(error is ValidationError): text = e.description
        default: text = root.message(for: error)
        }
        if let line = OptionNames.line(error) { text = line }  // the library's errors, with option names
        let first = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        return first.trimmingCharacters(in: .whitespaces)
    }

    /// Writes `tt-ckpt: <line>` to stderr, the line escaped for the terminal
    /// (`TerminalText.escaped`, which leaves text escaped before unchanged).
    static func writeError(_ line: String) {
        let prefix = Colour.paint("tt-ckpt:", .boldRed, for: STDERR_FILENO)
        FileHandle.standardError.write(Data((prefix + " " + TerminalText.escaped(line) + "\n").utf8))
    }
}
