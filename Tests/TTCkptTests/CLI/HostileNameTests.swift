import Foundation
import Testing
@testable import TTCore

/// A tensor name holding U+202E (RIGHT-TO-LEFT OVERRIDE) would reverse the rest of a line
/// on the terminal. It reaches the user through inspect's table, diff's table and an error
/// line; each must print it escaped.
@Suite struct HostileNameTests {
    static let name = "evil\u{202E}gnp.exe"
    static let shown = "evil\\u{202e}gnp.exe"

    /// The fixture checkpoint plus a tensor of role `other` (any name is allowed there).
    func write(_ dir: URL, _ file: String, value: Float) throws -> String {
        var c = AnalysisFixtures.checkpoint()
        c.tensors.append(NamedTensor(name: Self.name, role: .other, shape: [4], values: [value, 1, 2, 3]))
        return try AnalysisFiles.write(c, dir, file)
    }

    func expectEscaped(_ text: String, _ what: String) {
        #expect(!text.unicodeScalars.contains("\u{202E}"), "raw U+202E in \(what)")
        #expect(text.contains(Self.shown), "\(what): \(text)")
    }

    @Test func inspectDiffAndErrorLinesEscapeTheName() throws {
        let dir = try AnalysisFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try write(dir, "a.ttc", value: 0)
        let b = try write(dir, "b.ttc", value: 5)

        let inspect = try CLIRunner.run(["inspect", a])
        #expect(inspect.status == 0)
        expectEscaped(inspect.stdout, "inspect")

        let diff = try CLIRunner.run(["diff", a, b, "--role", "all"])
        #expect(diff.status == 1)
        expectEscaped(diff.stdout, "diff")

        // A corrupt blob: the reader's message names the tensor on the error line.
        try AnalysisFiles.corruptBlob(b, tensor: Self.name)
        let verify = try CLIRunner.run(["inspect", b, "--verify"])
        #expect(verify.status == 2)
        #expect(verify.stderrLines.count == 1)
        expectEscaped(verify.stderr, "inspect --verify's error line")
        let failedDiff = try CLIRunner.run(["diff", a, b, "--role", "all"])
        #expect(failedDiff.status == 2)
        expectEscaped(failedDiff.stderr, "diff's error line")
    }
}
