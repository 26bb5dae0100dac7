import Foundation
import TTFormat

/// Step-numbered checkpoint copies written beside the output by `--save-every`.
///
/// Naming: the output path with a trailing `.ttc` removed, then `.step`, the global step
/// zero-padded to at least 6 digits, and `.ttc`: `run/model.ttc` at step 100 gives
/// `run/model.step000100.ttc`. Pruning to N keeps the N highest-numbered such files whose
/// step is at most the current one; files numbered above it (from another run) are left alone.
public enum StepFiles {
    public static func path(output: String, step: Int) -> String {
        let stem = output.hasSuffix(".ttc") ? String(output.dropLast(4)) : output
        var digits = String(step)
        if digits.count < 6 { digits = String(repeating: "0", count: 6 - digits.count) + digits }
        return stem + ".step" + digits + ".ttc"
    }

    /// The step number of `fileName` if it is a step file of `output`'s stem.
    static func step(of fileName: String, stemName: String) -> Int? {
        let prefix = stemName + ".step", suffix = ".ttc"
        guard fileName.hasPrefix(prefix), fileName.hasSuffix(suffix),
              fileName.count > prefix.count + suffix.count else { return nil }
        let digits = fileName.dropFirst(prefix.count).dropLast(suffix.count)
        guard digits.count >= 6, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }

    /// Existing step files of `output`, sorted by step.
    public static func list(output: String) -> [(step: Int, path: String)] {
        let url = URL(fileURLWithPath: output)
        let directory = url.deletingLastPathComponent().path
        let name = url.lastPathComponent
        let stemName = name.hasSuffix(".ttc") ? String(name.dropLast(4)) : name
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let prefixDir = output.contains("/") ? String(output[...output.lastIndex(of: "/")!]) : ""
        return names.compactMap { n in step(of: n, stemName: stemName).map { ($0, prefixDir + n) } }
            .sorted { $0.step < $1.step }
    }

    /// Removes the temporary files a killed writer left for step files of `output`
    /// (`.STEM.stepNNNNNN.ttc.tmp-PID-HEX` whose PID no longer exists; see
    /// `AtomicWrite.removeStaleTemporaryFiles`). Returns the paths removed.
    @discardableResult
    public static func removeStaleTemporaryFiles(output: String) -> [String] {
        let url = URL(fileURLWithPath: output)
        let directory = url.deletingLastPathComponent().path
        let name = url.lastPathComponent
        let stemName = name.hasSuffix(".ttc") ? String(name.dropLast(4)) : name
        let prefixDir = output.contains("/") ? String(output[...output.lastIndex(of: "/")!]) : ""
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var targets = Set<String>()
        for n in names where n.hasPrefix(".") {
            guard let r = n.range(of: ".tmp-", options: .backwards) else { continue }
            let target = String(n[n.index(after: n.startIndex)..<r.lowerBound])
            if step(of: target, stemName: stemName) != nil { targets.insert(prefixDir + target) }
        }
        return targets.sorted().flatMap { AtomicWrite.removeStaleTemporaryFiles(for: $0) }
    }

    /// Removes all but the `keep` newest step files numbered ≤ `upTo`.
    public static func prune(output: String, keep: Int, upTo: Int) {
        let candidates = list(output: output).filter { $0.step <= upTo }
        for file in candidates.dropLast(max(0, keep)) { unlink(file.path) }
    }
}
