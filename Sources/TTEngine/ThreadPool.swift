import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How many threads a data-parallel loop runs on. The threads are the system's
/// (`DispatchQueue.concurrentPerform`); this type fixes their count and the split.
///
/// `parallelFor` splits `0..<count` into at most `threadCount` contiguous chunks of
/// near-equal size (chunk c is `c·count/n ..< (c+1)·count/n`) and returns when all have
/// run; the calling thread runs chunks too. The split is static, so which indices a chunk
/// covers depends only on `count` and the number of chunks. Kernels built on it split
/// work by output element, so their results do not depend on the thread count at all.
/// With `threadCount == 1` everything runs inline. A `parallelFor` nested in a body is
/// safe (concurrentPerform runs it on the threads it has).
///
/// Until commit 3c1978d this was a pool of persistent pthreads (209 lines and C atomics).
/// Measured against concurrentPerform on the training step (release, 2 threads, on this
/// project's 2-core machine while other jobs ran; `tt-bench --sections pool` at that
/// commit, best of alternating rounds), pool/concurrentPerform steps/s were: gpt small
/// 0.81, 1.27, 0.81 (workers spinning 2000 pauses), 0.94; gpt medium 0.89, 1.06, 1.21
/// (spinning), 0.90; tutorial 1.00, 0.97 (its ops run inline). It did not win clearly, so
/// it was replaced by this.
public final class ThreadPool: Sendable {
    /// Threads a loop runs on at most, the caller included.
    public let threadCount: Int

    /// `threads` is clamped to 1...256.
    public init(threads: Int) {
        threadCount = min(max(threads, 1), 256)
    }

    /// Sized by `TTCKPT_THREADS` if set (1...256), else the number of active CPUs. Used by
    /// kernels that are not handed a pool explicitly.
    public static let shared = ThreadPool(threads: ThreadPool.defaultThreadCount)

    /// One thread: runs everything inline.
    public static let serial = ThreadPool(threads: 1)

    /// `TTCKPT_THREADS` if it is an integer in 1...256, else the active CPU count.
    public static var defaultThreadCount: Int {
        if let text = getenv("TTCKPT_THREADS"), let n = Int(String(cString: text)), (1...256).contains(n) {
            return n
        }
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// The chunk `c` of `n` that `parallelFor(count)` gives: `c·count/n ..< (c+1)·count/n`.
    @inlinable
    public static func chunk(_ c: Int, of n: Int, count: Int) -> Range<Int> {
        (c &* count / n) ..< ((c &+ 1) &* count / n)
    }

    /// Calls `body` once per non-empty contiguous chunk of `0..<count`, in parallel.
    /// Chunks are disjoint and cover `0..<count`; at most `threadCount` of them.
    public func parallelFor(_ count: Int, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let n = min(threadCount, count)
        if n == 1 {
            body(0..<count)
            return
        }
        DispatchQueue.concurrentPerform(iterations: n) { c in body(ThreadPool.chunk(c, of: n, count: count)) }
    }
}
