import Foundation
import Testing

/// The library names settings, never command-line options: no string literal in a library
/// target holds `--word` (the CLI maps settings to options in OptionNames.swift). A scan of
/// the sources, so a flag name added below the CLI fails here.
@Suite struct LayeringTests {
    static let sources = TestPaths.packageRoot.appendingPathComponent("Sources")

    @Test func noLibraryTargetNamesAnOption() throws {
        let libraries = ["TTCore", "TTEngine", "TTFormat", "TTTokenizer", "TTTraining", "TTInterop", "TTAnalysis", "TTCkpt"]
        let option = try Regex(#""[^"\n]*--[a-z][^"\n]*""#)
        var found: [String] = []
        var files = 0
        for target in libraries {
            let dir = Self.sources.appendingPathComponent(target)
            for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) where name.hasSuffix(".swift") {
                files += 1
                let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
                for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                    let code = line.trimmingCharacters(in: .whitespaces)
                    if code.hasPrefix("//") { continue }  // documentation may mention the CLI
                    if line.contains(option) { found.append("\(target)/\(name):\(i + 1): \(code)") }
                }
            }
        }
        #expect(files > 40, "the scan found the sources")
        #expect(found.isEmpty, "\(found.joined(separator: "\n"))")
    }
}
