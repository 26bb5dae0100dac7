import Foundation
import Testing

/// Runs the built `tt-ckpt` binary for end-to-end tests. Shared by every CLI test file.
///
/// The binary is found, in order: `$TT_CKPT_BIN`; next to the test bundle (the directory of
/// `CommandLine.arguments[0]` or `Bundle.main`, and their parents, since SwiftPM builds the
/// test runner and the executable into the same `.build/<triple>/debug`); or
/// `.build/debug/tt-ckpt` under the package root found from this file's path.
enum CLIRunner {
    static let binaryPath: String = {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["TT_CKPT_BIN"], fm.isExecutableFile(atPath: env) { return env }
        var starts: [URL] = [URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent(),
                             Bundle.main.bundleURL.deletingLastPathComponent()]
        starts.append(contentsOf: starts.map { $0.deletingLastPathComponent() })
        starts.append(contentsOf: starts.map { $0.deletingLastPathComponent() })
        for dir in starts {
            let candidate = dir.appendingPathComponent("tt-ckpt").path
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: candidate, isDirectory: &isDir), !isDir.boolValue, fm.isExecutableFile(atPath: candidate) {
                return candidate
            }
        }
        return TestPaths.path(".build/debug/tt-ckpt")
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        /// stderr split into lines, without the empty one after the final newline.
        var stderrLines: [String] { stderr.split(separator: "\n", omittingEmptySubsequences: false).dropLast(stderr.hasSuffix("\n") ? 1 : 0).map(String.init) }
        var stdoutLines: [String] { stdout.split(separator: "\n").map(String.init) }
    }

    /// Runs `tt-ckpt args...` in `dir` and expects success: exit 0 and nothing on stderr.
    @discardableResult
    static func ok(_ args: [String], in dir: TemporaryDirectory, sourceLocation: SourceLocation = #_sourceLocation) throws -> Result {
        let result = try run(args, in: dir.url)
        #expect(result.status == 0, "\(args.joined(separator: " ")): \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.isEmpty, "\(result.stderr)", sourceLocation: sourceLocation)
        return result
    }

    /// Runs `tt-ckpt args...` to completion in `directory` (default: the current one).
    static func run(_ args: [String], in directory: URL? = nil) throws -> Result {
        let running = try start(args, in: directory)
        running.process.waitUntilExit()
        return running.result()
    }

    /// A started `tt-ckpt` whose output goes to files, so a test can watch it and signal it.
    final class Running {
        let process: Process
        let stdoutURL: URL
        let stderrURL: URL
        private let scratch: URL
        init(process: Process, stdoutURL: URL, stderrURL: URL, scratch: URL) {
            self.process = process
            self.stdoutURL = stdoutURL
            self.stderrURL = stderrURL
            self.scratch = scratch
        }
        var stdoutSoFar: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }
        func result() -> Result {
            Result(status: process.terminationStatus,
                   stdout: (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "",
                   stderr: (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "")
        }
        deinit { try? FileManager.default.removeItem(at: scratch) }
    }

    /// Set to 1 for every child `start` runs: a child whose parent ended (a test process
    /// that crashed) gets SIGHUP, so no `train --steps 100000000` outlives the tests.
    static let exitWithParent = "TTCKPT_EXIT_WITH_PARENT"

    static func start(_ args: [String], in directory: URL? = nil) throws -> Running {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("tt-ckpt-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let out = scratch.appendingPathComponent("stdout"), err = scratch.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binaryPath)
        process.arguments = args
        var environment = ProcessInfo.processInfo.environment
        environment[exitWithParent] = "1"
        process.environment = environment
        if let directory { process.currentDirectoryURL = directory }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try launch(process)
        return Running(process: process, stdoutURL: out, stderrURL: err, scratch: scratch)
    }

    /// Runs `process` with no signal blocked, as a shell would start it. (A child inherits
    /// the signal mask of the thread that spawns it, and the test's threads are dispatch
    /// workers, which block nearly every signal: a child started from one would never see
    /// a SIGHUP or SIGTERM it does not catch itself, nor die of SIGPIPE.)
    static func launch(_ process: Process) throws {
        var none = sigset_t(), saved = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        try process.run()
    }
}

/// A fresh directory under the system temp dir, removed on deinit. Tests run in parallel,
/// so each test makes its own.
final class TemporaryDirectory {
    let url: URL
    init(_ label: String = "test") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("tt-ckpt-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }

    /// Absolute path of `name` inside the directory.
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    func write(_ name: String, _ text: String) throws { try write(name, Data(text.utf8)) }
    func write(_ name: String, _ bytes: Data) throws { try bytes.write(to: url.appendingPathComponent(name)) }
    func read(_ name: String) throws -> Data { try Data(contentsOf: url.appendingPathComponent(name)) }
    func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: path(name)) }
    /// The names in the directory, sorted.
    func listing() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: url.path).sorted() }
}

/// Checks the error contract: exit status 2, exactly one stderr line `tt-ckpt: <subject>: ...`,
/// nothing on stdout.
func expectUserError(_ result: CLIRunner.Result, subject: String, containing fragment: String? = nil,
                     sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(result.status == 2, "exit status; stderr: \(result.stderr)", sourceLocation: sourceLocation)
    #expect(result.stderrLines.count == 1, "stderr lines: \(result.stderr)", sourceLocation: sourceLocation)
    let line = result.stderrLines.first ?? ""
    #expect(line.hasPrefix("tt-ckpt: " + subject), "stderr: \(line)", sourceLocation: sourceLocation)
    if let fragment { #expect(line.contains(fragment), "stderr: \(line)", sourceLocation: sourceLocation) }
    #expect(result.stdout.isEmpty, "stdout: \(result.stdout)", sourceLocation: sourceLocation)
}
