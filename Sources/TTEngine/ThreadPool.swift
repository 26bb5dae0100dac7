import TTCore
import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A fixed set of persistent worker threads that run one data-parallel loop at a time.
///
/// `parallelFor` splits `0..<count` into at most `threadCount` contiguous chunks of
/// near-equal size (chunk c is `c·count/n ..< (c+1)·count/n`), runs chunk 0 on the
/// calling thread and the others on the workers, and returns when all are done. The
/// split is static, so which indices a chunk covers depends only on `count` and the
/// number of chunks. Kernels built on it split work by output element, so their results
/// do not depend on the thread count at all.
///
/// Workers that finish a chunk can poll for the next loop for a while (`spinIterations`
/// CPU pause hints) before they sleep, so loops issued back to back, as a training step
/// does, need not pay a thread wake-up each.
///
/// With `threadCount == 1` everything runs inline. A pool runs one loop at a time: a
/// `parallelFor` issued while the pool is busy (from another thread, or nested inside a
/// body) runs inline on its caller instead of waiting, which is always correct because
/// bodies must not depend on how the range is split.
///
/// History: from commit 6ff4ddf to this one, the chunks ran on
/// `DispatchQueue.concurrentPerform`, after a measurement on a busy machine showed no clear
/// win for this pool. On the idle machine it loses: concurrentPerform lets the caller run
/// a chunk no worker has picked up yet, and Linux's workers often wake late, so a loop of
/// two chunks ran on one thread (a 1024×256×1024 forward matmul at 1.0× its one-thread
/// speed through concurrentPerform in two tt-bench matmul runs, 2.0× with two pthreads in
/// C). Training gpt small at 2 threads (tt-bench --sections training --presets small,
/// 6 alternating rounds of 1 s, 2026-11-30): concurrentPerform median 21 135 tokens/s
/// (best 23 096), this pool spinning 2000 pauses 24 649 (26 205), 20 000 pauses 25 105
/// (26 161).
public final class ThreadPool: @unchecked Sendable {
    /// Total threads a loop runs on, the caller included.
    public let threadCount: Int

    private typealias Job = (Int) -> Void   // argument: chunk index

    private var workers: [pthread_t] = []
    private let state = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let done = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Held by the thread that owns the pool for one `parallelFor`.
    private let busy = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    /// Pause hints a worker (or the caller, waiting for workers) spins before sleeping.
    /// Spinning makes back-to-back loops cheap (under 1 µs instead of a wake-up of 5 to
    /// 10 µs) on an idle machine, but on one oversubscribed by other jobs a spinning
    /// thread gets preempted and loops cost 100 µs or more; so the default is short, 2000
    /// (tens of µs), and `TTCKPT_SPIN` (0...1_000_000) changes it, 0 to sleep at once.
    /// Set it before loops run.
    public var spinIterations: Int = ThreadPool.defaultSpinIterations

    /// `TTCKPT_SPIN` if it is an integer in 0...1_000_000, else 2000.
    public static var defaultSpinIterations: Int {
        if let text = getenv("TTCKPT_SPIN"), let n = Int(String(cString: text)), (0...1_000_000).contains(n) {
            return n
        }
        return 2000
    }

    // Guarded by `state`.
    private var job: Job?
    private var chunks = 0
    private var shuttingDown = false
    // Written under `state` too, but also polled without it: [0] generation (loops
    // started), [1] chunks still running on workers.
    private let counters = UnsafeMutablePointer<UInt>.allocate(capacity: 2)
    private var generation: UnsafeMutablePointer<UInt> { counters }
    private var remaining: UnsafeMutablePointer<UInt> { counters + 1 }

    /// A pool sized by `TTCKPT_THREADS` if set (1...256), else the number of active CPUs.
    /// Shared by kernels that are not handed a pool explicitly.
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

    /// Starts `threads - 1` workers (`threads` is clamped to 1...256).
    public init(threads: Int) {
        threadCount = min(max(threads, 1), 256)
        pthread_mutex_init(state, nil)
        pthread_mutex_init(busy, nil)
        pthread_cond_init(wake, nil)
        pthread_cond_init(done, nil)
        counters.initialize(repeating: 0, count: 2)
        for index in 1..<threadCount {
            let context = Unmanaged.passRetained(WorkerContext(pool: self, index: index)).toOpaque()
            #if canImport(Darwin)
            var thread: pthread_t? = nil
            #else
            var thread = pthread_t()
            #endif
            let rc = pthread_create(&thread, nil, { raw in
                #if canImport(Darwin)
                let context = Unmanaged<WorkerContext>.fromOpaque(raw).takeRetainedValue()
                #else
                let context = Unmanaged<WorkerContext>.fromOpaque(raw!).takeRetainedValue()
                #endif
                context.pool.workerLoop(index: context.index)
                return nil
            }, context)
            precondition(rc == 0, "ThreadPool: pthread_create failed (\(rc))")
            #if canImport(Darwin)
            workers.append(thread!)
            #else
            workers.append(thread)
            #endif
        }
    }

    deinit {
        pthread_mutex_lock(state)
        shuttingDown = true
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(state)
        for thread in workers { pthread_join(thread, nil) }
        pthread_mutex_destroy(state)
        pthread_mutex_destroy(busy)
        pthread_cond_destroy(wake)
        pthread_cond_destroy(done)
        state.deallocate()
        counters.deallocate()
        busy.deallocate()
        wake.deallocate()
        done.deallocate()
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
        if n == 1 || pthread_mutex_trylock(busy) != 0 {
            body(0..<count)
            return
        }
        defer { pthread_mutex_unlock(busy) }
        withoutActuallyEscaping(body) { body in
            let run: Job = { c in body(ThreadPool.chunk(c, of: n, count: count)) }
            pthread_mutex_lock(state)
            job = run
            chunks = n
            ck_atomic_store(remaining, UInt(n - 1))
            ck_atomic_store(generation, ck_atomic_load(generation) &+ 1)
            pthread_cond_broadcast(wake)
            pthread_mutex_unlock(state)

            run(0)

            var spins = 0
            while ck_atomic_load(remaining) > 0 && spins < spinIterations {
                ck_cpu_relax()
                spins += 1
            }
            pthread_mutex_lock(state)
            while ck_atomic_load(remaining) > 0 { pthread_cond_wait(done, state) }
            job = nil
            pthread_mutex_unlock(state)
        }
    }

    private final class WorkerContext {
        // Workers must not keep the pool alive; deinit joins them before it is freed.
        unowned(unsafe) let pool: ThreadPool
        let index: Int
        init(pool: ThreadPool, index: Int) {
            self.pool = pool
            self.index = index
        }
    }

    private func workerLoop(index: Int) {
        var seen: UInt = 0
        while true {
            var spins = 0
            while ck_atomic_load(generation) == seen && spins < spinIterations {
                ck_cpu_relax()
                spins += 1
            }
            pthread_mutex_lock(state)
            while ck_atomic_load(generation) == seen && !shuttingDown { pthread_cond_wait(wake, state) }
            if shuttingDown {
                pthread_mutex_unlock(state)
                return
            }
            seen = ck_atomic_load(generation)
            let active = index < chunks
            // Only a worker with a chunk takes the job: the closure must not outlive the
            // `parallelFor` that lent it.
            var run = active ? job : nil
            pthread_mutex_unlock(state)
            guard active, run != nil else { continue }
            run!(index)
            // Drop the closure before reporting done: the caller checks it did not escape.
            run = nil
            if ck_atomic_decrement(remaining) == 0 {
                // Under the mutex, so the caller cannot miss it between its check and its wait.
                pthread_mutex_lock(state)
                pthread_cond_signal(done)
                pthread_mutex_unlock(state)
            }
        }
    }
}
