import Foundation

/// One implementation's training throughput on one preset: tt-ckpt's or a peer's.
struct Throughput {
    var threads: Int
    var stepsPerSecond: Double
    var tokensPerSecond: Double
    var gflops: Double
    var forwardMs: Double
    var backwardMs: Double
    var optimizerMs: Double

    /// The table cells from "threads" to "opt ms".
    var cells: [String] {
        ["\(threads)", fmt(stepsPerSecond, 1), fmt(tokensPerSecond, 0), fmt(gflops, 1),
         fmt(forwardMs, 3), fmt(backwardMs, 3), fmt(optimizerMs, 3)]
    }
}

/// One peer measurement, as printed by Benchmarks/peers/*_peer.py (one JSON line each).
struct PeerResult {
    var peer: String
    var version: String
    var preset: String
    var figures: Throughput

    init?(json: [String: Any]) {
        guard let peer = json["peer"] as? String, let preset = json["preset"] as? String,
              let sps = json["steps_per_s"] as? Double, let tps = json["tokens_per_s"] as? Double,
              let gf = json["gflops"] as? Double else { return nil }
        self.peer = peer
        self.preset = preset
        version = json["version"] as? String ?? "?"
        figures = Throughput(threads: json["threads"] as? Int ?? 0, stepsPerSecond: sps, tokensPerSecond: tps, gflops: gf,
                             forwardMs: json["fwd_ms"] as? Double ?? .nan, backwardMs: json["bwd_ms"] as? Double ?? .nan,
                             optimizerMs: json["opt_ms"] as? Double ?? .nan)
    }
}

/// Runs the PyTorch and JAX peer scripts in this process's session, via `python3`.
struct PeerRunner {
    /// Benchmarks/peers of this checkout.
    var directory: String
    var python: String = "python3"

    /// The scripts next to this source file's package: <root>/Benchmarks/peers.
    static func defaultDirectory(filePath: String = #filePath) -> String {
        var url = URL(fileURLWithPath: filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }   // tt-bench, Sources, <root>
        return url.appendingPathComponent("Benchmarks/peers").path
    }

    enum Outcome {
        case measured([PeerResult])
        case notInstalled(String)
        case failed(String)
    }

    /// Runs `<peer>_peer.py --preset <preset> --seconds <seconds>` if `module` imports, with
    /// `environment` changes (a nil value removes the variable).
    func run(peer: String, module: String, presets: [String], seconds: Double, threads: Int,
             environment: [String: String?] = [:]) -> Outcome {
        let probe = launch([python, "-c", "import \(module)"])
        guard probe.status == 0 else { return .notInstalled("peer not installed (python3 -c 'import \(module)' failed)") }
        var results: [PeerResult] = []
        for preset in presets {
            let script = directory + "/\(peer)_peer.py"
            let r = launch([python, script, "--preset", preset, "--seconds", String(seconds), "--threads", String(threads)],
                           environment: environment)
            guard r.status == 0 else {
                // One preset failing leaves the others' figures.
                let last = r.stderr.split(separator: "\n").last.map(String.init) ?? "exit \(r.status)"
                if results.isEmpty && preset == presets.last { return .failed("\(peer) \(preset): \(last)") }
                continue
            }
            for line in r.stdout.split(separator: "\n") {
                if let data = line.data(using: .utf8),
                   let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                   let result = PeerResult(json: obj) {
                    results.append(result)
                }
            }
        }
        return .measured(results)
    }

    /// Runs a peer script that prints one JSON object (io_peer.py, generate_peer.py).
    func runJSON(_ argv: [String], environment: [String: String?] = [:]) -> Result<[String: Any], PeerError> {
        let r = launch([python] + argv, environment: environment)
        guard r.status == 0 else {
            return .failure(PeerError(message: r.stderr.split(separator: "\n").last.map(String.init) ?? "exit \(r.status)"))
        }
        for line in r.stdout.split(separator: "\n").reversed() {
            if let data = line.data(using: .utf8), let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
                return .success(obj)
            }
        }
        return .failure(PeerError(message: "no JSON line in its output"))
    }

    /// Whether `python3 -c "import <module>"` succeeds.
    func has(module: String) -> Bool { launch([python, "-c", "import \(module)"]).status == 0 }

    struct PeerError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    func launch(_ argv: [String], environment: [String: String?] = [:]) -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        if !environment.isEmpty {
            var env = ProcessInfo.processInfo.environment
            for (key, value) in environment { env[key] = value }
            process.environment = env
        }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        do { try process.run() } catch { return (127, "", "\(error)") }
        // Read both pipes before waiting, so a chatty child cannot block on a full pipe.
        final class Box: @unchecked Sendable { var data = Data() }   // written before `leave`, read after `wait`
        let errBox = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errBox.data = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        let errData = errBox.data
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }
}
