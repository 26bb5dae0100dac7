import Testing
@testable import TTEngine

@Suite struct ThreadPoolTests {
    @Test func chunksCoverRangeExactlyOnce() {
        for (threads, spin) in [(1, 0), (2, 0), (3, 0), (5, 0), (2, 1000), (3, 1000)] {
            let pool = ThreadPool(threads: threads)
            pool.spinIterations = spin
            for count in [0, 1, 2, 5, 100, 3, 1] {
                let seen = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(count, 1))
                seen.initialize(repeating: 0)
                defer { seen.deallocate() }
                pool.parallelFor(count) { range in
                    for i in range { seen[i] += 1 }
                }
                #expect(Array(seen.prefix(count)) == [Int](repeating: 1, count: count), "threads \(threads) spin \(spin) count \(count)")
            }
        }
    }

    @Test func chunksAreStaticAndContiguous() {
        #expect(ThreadPool.chunk(0, of: 2, count: 7) == 0..<3)
        #expect(ThreadPool.chunk(1, of: 2, count: 7) == 3..<7)
        #expect(ThreadPool.chunk(2, of: 3, count: 10) == 6..<10)
    }

    /// A parallelFor inside a body completes (no deadlock) and covers its range.
    @Test func nestedLoopRunsInline() {
        let pool = ThreadPool(threads: 2)
        let sums = UnsafeMutableBufferPointer<Int>.allocate(capacity: 4)
        sums.initialize(repeating: 0)
        defer { sums.deallocate() }
        pool.parallelFor(4) { outer in
            for i in outer {
                pool.parallelFor(10) { inner in
                    for j in inner { sums[i] += j }
                }
            }
        }
        #expect(Array(sums) == [45, 45, 45, 45])
    }
}
