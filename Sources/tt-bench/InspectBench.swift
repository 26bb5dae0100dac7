import Foundation
import TTCore
#if canImport(Glibc)
import Glibc
#endif

/// `inspect`, `inspect --stats`, `--verify` and `diff` on two 420 MB safetensors files
/// (100 tensors of 1024 × 1024 F32), beside the tools users reach for on the same files in
/// the same run: `sft` (sft-cli: info, stat, check, diff --delta) and `ckptkit` (info, stats,
/// validate, diff). Each command is a child process; its wall time and peak RSS (ru_maxrss
/// from wait4) are the best of `trials` runs after one warm-up run (the files stay in the
/// page cache, so every tool reads them from memory).
enum InspectBench {
    static let tensorCount = 100
    static let side = 1024

    struct Measure {
        var seconds: Double
        var peakRSS: Int  // bytes
        var status: Int32
    }

    /// GNU time, when installed: it forks the command from its own small process, so the
    /// child's ru_maxrss starts near 0 instead of at this process's peak.
    static let gnuTime: String? = FileManager.default.isExecutableFile(atPath: "/usr/bin/time") ? "/usr/bin/time" : nil

    /// Runs `argv` with stdout and stderr to /dev/null; wall seconds, peak RSS (ru_maxrss of
    /// the command, through GNU time when installed), exit status.
    static func spawn(_ argv: [String]) -> Measure? {
        let report = NSTemporaryDirectory() + "/tt-bench-rss-\(getpid())"
        defer { unlink(report) }
        let command = gnuTime.map { [$0, "-f", "%M", "-o", report] + argv } ?? argv
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var cargs = command.map { strdup($0) } + [nil]
        defer { for p in cargs { free(p) } }
        var pid: pid_t = 0
        let start = monotonicSeconds()
        guard posix_spawnp(&pid, command[0], &actions, nil, &cargs, environ) == 0 else { return nil }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        let seconds = monotonicSeconds() - start
        let exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        var peak = usage.ru_maxrss * 1024
        if gnuTime != nil {
            // GNU time writes "Command exited with non-zero status N" first for exit ≠ 0;
            // the last line is %M, in KiB.
            guard let text = try? String(contentsOfFile: report, encoding: .utf8),
                  let kib = text.split(separator: "\n").last.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) else { return nil }
            peak = kib * 1024
        }
        return Measure(seconds: seconds, peakRSS: peak, status: exit)
    }

    static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Best of `trials` (by time) after a warm-up run; nil if the command cannot run.
    static func measure(_ argv: [String], trials: Int) -> Measure? {
        guard let warm = spawn(argv) else { return nil }
        var best = warm
        for _ in 0..<trials {
            guard let m = spawn(argv) else { return nil }
            if m.seconds < best.seconds || best.seconds == warm.seconds { best = m }
        }
        return best
    }

    /// Writes A (values from a seeded generator) and B = A + 1e-3 × noise, tensor by tensor
    /// (this process holds one tensor at a time, so its own peak RSS, which a spawned child's
    /// ru_maxrss starts from, stays small).
    static func writeFiles(_ a: String, _ b: String) throws {
        let names = (0..<tensorCount).map { "model.layers.\($0).weight" }
        let bytesPer = side * side * 4
        var members: [(String, JSONValue)] = []
        for (i, name) in names.enumerated() {
            members.append((name, .object([("dtype", .string("F32")), ("shape", .array([.int(side), .int(side)])),
                                           ("data_offsets", .array([.int(i * bytesPer), .int((i + 1) * bytesPer)]))])))
        }
        var header = Array(JSONValue.object(members).serialized(pretty: false, escaping: .minimal).utf8)
        header += [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8)
        var prefix: [UInt8] = []
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { prefix += $0 }
        prefix += header
        guard let fa = FileHandle(forWritingAtPath: a) ?? create(a), let fb = FileHandle(forWritingAtPath: b) ?? create(b) else {
            throw InputError(a, "cannot create the benchmark files")
        }
        defer { try? fa.close(); try? fb.close() }
        fa.write(Data(prefix))
        fb.write(Data(prefix))
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func uniform() -> Float {  // splitmix64 -> [-1, 1)
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return Float(z >> 40) * 0x1p-23 - 1
        }
        var va = [Float](repeating: 0, count: side * side), vb = va
        for _ in names {
            for i in va.indices {
                va[i] = uniform() * 0.05
                vb[i] = va[i] + uniform() * 1e-3
            }
            va.withUnsafeBytes { fa.write(Data($0)) }
            vb.withUnsafeBytes { fb.write(Data($0)) }
        }
    }

    static func create(_ path: String) -> FileHandle? {
        FileManager.default.createFile(atPath: path, contents: nil) ? FileHandle(forWritingAtPath: path) : nil
    }

    /// The tt-ckpt binary next to this one (same build directory).
    static func ttCkptBinary() -> String? {
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let candidate = me.deletingLastPathComponent().appendingPathComponent("tt-ckpt").path
        return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : nil
    }

    static func which(_ tool: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let p = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    static func run(directory: String, trials: Int) -> String {
        guard let tt = ttCkptBinary() else {
            return "inspect: no tt-ckpt binary next to tt-bench (swift build -c release builds both)\n"
        }
        let dir = directory + "/tt-bench-inspect-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = dir + "/a.safetensors", b = dir + "/b.safetensors"
        do { try writeFiles(a, b) } catch { return "inspect: \(error)\n" }
        let size = (try? FileManager.default.attributesOfItem(atPath: a)[.size] as? NSNumber)?.doubleValue ?? 0
        let floor = spawn(["true"])?.peakRSS ?? 0

        let sft = which("sft"), ckptkit = which("ckptkit")
        struct Row { var operation: String; var ours: [String]; var peers: [(String, [String])] }
        let rows = [
            Row(operation: "header view", ours: [tt, "inspect", a],
                peers: [("sft info", ["sft", "info", a]), ("ckptkit info", ["ckptkit", "info", a])]),
            Row(operation: "per-tensor stats", ours: [tt, "inspect", a, "--stats"],
                peers: [("sft stat", ["sft", "stat", a]), ("ckptkit stats (header only: counts, sizes)", ["ckptkit", "stats", a])]),
            Row(operation: "validate + NaN/Inf scan", ours: [tt, "inspect", a, "--verify"],
                peers: [("sft check", ["sft", "check", a]), ("ckptkit validate (header only)", ["ckptkit", "validate", a])]),
            Row(operation: "diff with value metrics", ours: [tt, "diff", a, b],
                peers: [("sft diff --delta", ["sft", "diff", a, b, "--delta"]), ("ckptkit diff (names/shapes only)", ["ckptkit", "diff", a, b])]),
        ]
        var table = Table("inspect and diff on two \(fmt(size / 1e6, 0)) MB safetensors files (\(tensorCount) tensors of \(side)×\(side) F32)",
                          headers: ["operation", "command", "seconds", "peak RSS MiB", "peer time / ours", "our RSS / peer's"])
        var notes: [String] = []
        func mib(_ b: Int) -> String { fmt(Double(b) / 1_048_576, 1) }
        for row in rows {
            guard let ours = measure(row.ours, trials: trials) else { notes.append("\(row.ours.joined(separator: " ")): could not run"); continue }
            let label = "tt-ckpt " + row.ours.dropFirst().map { $0 == a ? "a" : $0 == b ? "b" : $0 }.joined(separator: " ")
            table.add([row.operation, label, fmt(ours.seconds, 3), mib(ours.peakRSS), "", ""])
            for (name, argv) in row.peers {
                guard (argv[0] == "sft" ? sft : ckptkit) != nil else {
                    notes.append("\(name): not installed (pip install \(argv[0] == "sft" ? "sft-cli" : "ckptkit"))")
                    continue
                }
                guard let m = measure(argv, trials: trials) else { notes.append("\(name): could not run"); continue }
                table.add(["", name + (m.status == 0 || m.status == 1 ? "" : " (exit \(m.status))"), fmt(m.seconds, 3), mib(m.peakRSS),
                           fmt(m.seconds / ours.seconds, 2) + "×", fmt(Double(ours.peakRSS) / Double(m.peakRSS), 3)])
            }
        }
        var out = table.render()
        out += "\nBest of \(trials) runs after a warm-up (files in the page cache), \(ProcessInfo.processInfo.activeProcessorCount) cores, "
        out += "load average \(fmt(loadAverage(), 2)) after the section. Peak RSS is the command's ru_maxrss"
        out += gnuTime != nil ? " (GNU time's %M); `true` measured the same way: \(mib(floor)) MiB.\n"
                              : "; a spawned child starts from this process's peak, \(mib(floor)) MiB (`true` measured the same way).\n"
        if !notes.isEmpty { out += notes.map { "- " + $0 }.joined(separator: "\n") + "\n" }
        return out
    }
}
