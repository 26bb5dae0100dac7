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

/// 0, 1, 2, ... to any number of threads.
private final class WorkCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func take() -> Int {
        lock.withLock {
            defer { value += 1 }
            return value
        }
    }
}
