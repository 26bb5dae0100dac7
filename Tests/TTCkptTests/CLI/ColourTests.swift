import Foundation
import Testing

/// Colour only on a terminal, never with NO_COLOR set (no-color.org) or TERM=dumb.
@Suite struct ColourTests {
    /// Runs `command` on a pseudo-terminal (`script`), so stdout and stderr are TTYs.
    func onTerminal(_ command: String, in dir: TemporaryDirectory, environment: [String: String] = [:]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-qec", command, "/dev/null"]
        process.currentDirectoryURL = dir.url
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = nil
        env["TERM"] = "xterm"
        env.merge(environment) { $1 }
        process.environment = env
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return output
    }

    @Test func colourOnATerminalOnly() throws {
        let dir = try TemporaryDirectory("colour")
        #expect(try CLIRunner.run(["init", dir.path("a.ttc")]).status == 0)
        #expect(try CLIRunner.run(["init", dir.path("b.ttc"), "--seed", "7"]).status == 0)
        let bin = "'\(CLIRunner.binaryPath)'"
        let commands = "\(bin) diff a.ttc b.ttc; \(bin) inspect a.ttc --verify; \(bin) inspect missing.ttc"

        let coloured = try onTerminal(commands, in: dir)
        #expect(coloured.contains("result: \u{1B}[31mdifferent\u{1B}[0m"))
        #expect(coloured.contains("tensors \u{1B}[32mok\u{1B}[0m"))
        #expect(coloured.contains("\u{1B}[1;31mtt-ckpt:\u{1B}[0m missing.ttc: "))

        for environment in [["NO_COLOR": "1"], ["TERM": "dumb"]] {
            let plain = try onTerminal(commands, in: dir, environment: environment)
            #expect(plain.contains("result: different"), "\(environment)")
            #expect(plain.contains("tt-ckpt: missing.ttc: "), "\(environment)")
            #expect(!plain.contains("\u{1B}["), "\(environment)")
        }

        // Not a terminal: plain text.
        let piped = try CLIRunner.run(["diff", dir.path("a.ttc"), dir.path("b.ttc")])
        #expect(piped.stdout.contains("result: different") && !piped.stdout.contains("\u{1B}["))
    }
}
