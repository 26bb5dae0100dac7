import Dispatch
import Foundation

/// Runs `body(i)` once for every i in `0..<sizes.count` on up to `threads` threads. Items
/// are handed out largest first (ties: lower index first) from a shared counter, so one big
/// item does not leave the other threads idle at the end. `body` must write only what item
/// i owns; what it computes must not depend on which thread runs it. With one thread (or
/// one item) everything runs in order on the calling thread.
package func forEachLargestFirst(sizes: [Int], threads: Int, _ body: (Int) -> Void) {
    let threads = min(max(1, threads), max(1, sizes.count))
    if threads == 1 {
        for i in sizes.indices { body(i) }
        return
    }
    let order = sizes.indices.sorted { (sizes[$0], $1) > (sizes[$1], $0) }
    let next = WorkCounter()
    DispatchQueue.concurrentPerform(iterations: threads) { _ in
        while true {
            let k = next.take()
            guard k < order.count else { return }
            body(order[k])
        }
    }
}

/// Items to be worked on two at a time (`SHA256.digests`): indices sorted by size, largest
/// first (ties: lower index first), taken two by two, so the two in a pair are close in
/// size; an odd count leaves the smallest alone.
package func pairsLargestFirst(sizes: [Int]) -> [(Int, Int?)] {
    let order = sizes.indices.sorted { (sizes[$0], $1) > (sizes[$1], $0) }
    return stride(from: 0, to: order.count, by: 2).map { (order[$0], $0 + 1 < order.count ? order[$0 + 1] : nil) }
}

/// 0, 1, 2, ... to any number of threads.
final class WorkCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func take() -> Int {
        lock.withLock {
            defer { value += 1 }
            return value
        }
    }
}

/// Work items 0, 1, 2, ... handed out in order to any number of threads, whose results are
/// passed on in that order: `finish` stores item i's result, and the thread that completes
/// the run of finished items at the front passes them to `emit`, outside the lock, while
/// the others go on working. One thread emits at a time. What `emit` returns is the result
/// kept for `results()` (the emitted value is released once `emit` returns, so `emit` can
/// keep less of it). The first error `emit` throws stops the hand-out; `results()`
/// rethrows it.
final class InOrderQueue<Result>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result?]
    private var handedOut = 0
    private var emitted = 0
    private var emitting = false
    private var failure: (any Error)? = nil

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    /// Whether an emit has failed (the hand-out has stopped).
    var failed: Bool { lock.withLock { failure != nil } }

    /// The next item to work on, or nil when there are none left or an emit failed.
    func take() -> Int? {
        lock.withLock {
            guard failure == nil, handedOut < slots.count else { return nil }
            defer { handedOut += 1 }
            return handedOut
        }
    }

    func finish(_ i: Int, _ result: Result, emit: (Int, Result) throws -> Result) {
        lock.lock()
        slots[i] = result
        guard !emitting, failure == nil else { return lock.unlock() }
        emitting = true
        while true {
            let start = emitted
            while emitted < slots.count, slots[emitted] != nil { emitted += 1 }
            // Moved out of their slots (only this thread reads slots below `emitted`), so
            // each is released as soon as it has been emitted.
            var ready: [Result?] = (start..<emitted).map { k in
                defer { slots[k] = nil }
                return slots[k]
            }
            if ready.isEmpty || failure != nil {
                for (k, r) in zip(start..., ready) { slots[k] = r }
                emitting = false
                return lock.unlock()
            }
            lock.unlock()
            do {
                for j in ready.indices {
                    let r = ready[j]!
                    ready[j] = nil
                    let kept = try emit(start + j, r)
                    lock.withLock { slots[start + j] = kept }
                }
            } catch {
                lock.withLock { failure = error }
            }
            lock.lock()
        }
    }

    /// Every result in order, once all are finished; or the error an emit threw.
    func results() throws -> [Result] {
        try lock.withLock {
            if let failure { throw failure }
            return slots.map { $0! }
        }
    }
}
