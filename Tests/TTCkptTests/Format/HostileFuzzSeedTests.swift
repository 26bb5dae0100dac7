import Foundation
import Testing
@testable import TTFormat

@Suite struct HostileFuzzSeedTests {
    /// Writes the fuzz seed corpus (Tests/Fuzz/corpus/) when TTCKPT_WRITE_FUZZ_SEEDS names a
    /// directory; otherwise checks that every sample image reads back cleanly.
    @Test func sampleImagesReadAndSeedCorpus() throws {
        let images = try HostileSamples.images()
        #expect(images.count >= 6)
        for (name, bytes) in images {
            let reader = try CheckpointReader(bytes: bytes, name: name)
            _ = try reader.readCheckpoint()
        }
        if let dir = ProcessInfo.processInfo.environment["TTCKPT_WRITE_FUZZ_SEEDS"] {
            for (name, bytes) in images where !name.contains("/") {
                FormatFixtures.writeBytes(bytes, to: dir + "/seed-" + name + ".ttc")
            }
        }
    }
}
