#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Monotonic seconds.
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Runs `body` once to warm up, then repeatedly for at least `minSeconds` (and at least
/// `minRuns` times); returns the mean seconds per call over the timed runs.
func timePerCall(minSeconds: Double, minRuns: Int = 3, _ body: () -> Void) -> Double {
    body()
    var runs = 0
    let start = now()
    var elapsed = 0.0
    repeat {
        body()
        runs += 1
        elapsed = now() - start
    } while elapsed < minSeconds || runs < minRuns
    return elapsed / Double(runs)
}

/// Peak resident set size of this process in bytes (Linux: VmHWM), or nil.
func peakRSSBytes() -> Int? {
    guard let f = fopen("/proc/self/status", "r") else { return nil }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), f) != nil {
        let s = String(cString: line)
        if s.hasPrefix("VmHWM:") {
            let digits = s.filter { $0.isNumber }
            if let kb = Int(digits) { return kb * 1024 }
        }
    }
    return nil
}
