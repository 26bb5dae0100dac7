import Foundation
import Testing
@testable import TTCore
@testable import TTFormat
@testable import TTTraining

/// Parallel compression and loading (issue 5) give the same results as one thread.
@Suite struct CheckpointParallelTests {
    func checkpoint() throws -> Checkpoint {
        let config = ModelConfig(arch: .gpt, vocabSize: 6, dModel: 32, nHeads: 2, dFF: 64, nLayers: 2, context: 16)
        let vocabulary = Vocabulary(kind: .char, tokens: ["a", "b", "c", "d", "e", "f"])
        let initial = try TrainingSession.initialCheckpoint(config: config, vocabulary: vocabulary, seed: 3, data: nil)
        let session = try TrainingSession(checkpoint: initial, maxBatchSize: 2, source: "t")
        var rng = PythonRandom(seed: 9)
        let batch = EngineFixtures.randomBatch(&rng, config: config, batchSize: 2, seqLen: 16)
        for t in 1...2 { session.state.lossHistory.append(session.model.trainStep(batch, optimizer: AdamWConfig(), step: t).loss) }
        session.state.step = 2
        session.state.tokensSeen = 2 * batch.targetCount
        return session.snapshot()
    }

    @Test func threadsGiveTheSameBytesAndTheSameLoad() throws {
        let c = try checkpoint()
        var one = WriteOptions(), three = WriteOptions()
        three.threads = 3
        let bytes1 = try CheckpointWriter.encodedBytes(c, options: one)
        let bytes3 = try CheckpointWriter.encodedBytes(c, options: three)
        #expect(bytes1 == bytes3)
        one.threads = 1
        let reader = try CheckpointReader(bytes: bytes1, name: "m.ttc")
        let serial = try reader.readCheckpoint()
        #expect(serial == c)
        #expect(try reader.readCheckpoint(threads: 3) == serial)
    }

    @Test func parallelLoadReportsTheFirstBadTensorInFileOrder() throws {
        let c = try checkpoint()
        var bytes = try CheckpointWriter.encodedBytes(c)
        let reader = try CheckpointReader(bytes: bytes, name: "m.ttc")
        // Corrupt the last byte of the second and of the last blob.
        for e in [reader.entries[1], reader.entries[reader.entries.count - 1]] {
            bytes[Int(e.offset + e.storedLength) - 1] ^= 0xff
        }
        let bad = try CheckpointReader(bytes: bytes, name: "m.ttc")
        var serialError = "", parallelError = ""
        do { _ = try bad.readCheckpoint() } catch { serialError = "\(error)" }
        do { _ = try bad.readCheckpoint(threads: 4) } catch { parallelError = "\(error)" }
        #expect(!serialError.isEmpty)
        #expect(serialError.contains(reader.entries[1].name))
        #expect(parallelError == serialError)
    }

    /// The save streams each blob to the file as it is compressed and writes the header
    /// last: the file must be exactly the encoded bytes, for any thread count, and a
    /// second path gets the same bytes. With one path the blobs' bytes are dropped as they
    /// are written (the header is built from their kept lengths).
    @Test func streamedSavesAreTheEncodedBytes() throws {
        let c = try checkpoint()
        let expected = try CheckpointWriter.encodedBytes(c)
        let dir = FormatFixtures.tempDirectory()
        for threads in [1, 2, 3, 8] {
            var o = WriteOptions()
            o.threads = threads
            let paths = [dir + "/a\(threads).ttc", dir + "/b\(threads).ttc"]
            var written: [String] = []
            try CheckpointWriter.write(c, to: paths, options: o, written: { written.append($0) })
            #expect(written == paths)
            for p in paths { #expect(FormatFixtures.readBytes(p) == expected, "\(threads) threads: \(p)") }
            let single = dir + "/c\(threads).ttc"
            try CheckpointWriter.write(c, to: single, options: o)
            #expect(FormatFixtures.readBytes(single) == expected, "\(threads) threads, one path")
            var kept: [Int] = []
            let dropped = try CheckpointWriter.compressAll(c.tensors, options: o, keepStored: false) { _, blob in kept.append(blob.stored.count) }
            #expect(dropped.allSatisfy { $0.stored.isEmpty })
            #expect(dropped.map(\.storedLength) == kept)
            let full = try CheckpointWriter.compressAll(c.tensors, options: o)
            #expect(dropped.map(\.storedLength) == full.map(\.stored.count))
        }
    }

    /// `InOrderQueue` passes results on in item order whatever order they finish in, one
    /// emit at a time, and keeps what each emit returns; an emit that throws stops the
    /// hand-out and its error comes back.
    @Test func inOrderQueueEmitsInOrderAndStopsOnError() throws {
        final class Log: @unchecked Sendable {
            let lock = NSLock()
            var order: [Int] = []
            var inside = 0, overlapped = false, wrong = false
        }
        for failAt in [nil, 0, 17, 99] as [Int?] {
            let queue = InOrderQueue<Int>(count: 100)
            let log = Log()
            struct Stop: Error {}
            DispatchQueue.concurrentPerform(iterations: 4) { _ in
                while let i = queue.take() {
                    usleep(UInt32((i * 7919) % 13) * 50)   // finish out of order
                    queue.finish(i, i * i) { k, r in
                        log.lock.withLock { log.inside += 1; if log.inside > 1 { log.overlapped = true } }
                        defer { log.lock.withLock { log.inside -= 1 } }
                        if r != k * k { log.lock.withLock { log.wrong = true } }
                        if k == failAt { throw Stop() }
                        log.lock.withLock { log.order.append(k) }
                        return -r
                    }
                }
            }
            #expect(!log.overlapped && !log.wrong)
            if let failAt {
                #expect(log.order == Array(0..<failAt))
                #expect(throws: Stop.self) { try queue.results() }
            } else {
                #expect(log.order == Array(0..<100))
                #expect(try queue.results() == (0..<100).map { -$0 * $0 })
            }
        }
    }
}
