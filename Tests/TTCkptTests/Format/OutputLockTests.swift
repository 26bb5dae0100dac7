import Foundation
import Testing
@testable import TTCore
@testable import TTFormat

/// Issue 11 #4: the write lock beside a file (spec/TRAINING.md, "Concurrent runs").
/// The two-process case is `RunSafetyTests.secondWriterIsRefusedWithTheHoldersPid`.
@Suite struct OutputLockTests {
    @Test func lockFileHoldsThePIDAndIsRemovedOnRelease() throws {
        let dir = try TemporaryDirectory("lock-unit")
        let lock = try OutputLock.acquire(dir.path("m.ttc"))
        #expect(lock.lockPath == dir.path(".m.ttc.lock"))
        #expect(try String(contentsOfFile: lock.lockPath, encoding: .utf8) == "\(getpid())\n")
        // The same process may take it again (tutorial writes then trains one file).
        let again = try OutputLock.acquire(dir.path("m.ttc"))
        #expect(again === lock)
        again.release()
        #expect(try dir.listing() == [".m.ttc.lock"])
        lock.release()
        #expect(try dir.listing() == [])
    }

    /// Another open file description holding the flock (as another process would) makes
    /// acquire fail at once with the PID it wrote.
    @Test func aHeldLockIsRefusedNamingTheHolder() throws {
        let dir = try TemporaryDirectory("lock-held")
        let fd = open(dir.path(".m.ttc.lock"), O_RDWR | O_CREAT, 0o644)
        defer { close(fd) }
        #expect(flock(fd, LOCK_EX | LOCK_NB) == 0)
        _ = "4242\n".withCString { write(fd, $0, 5) }
        #expect {
            try OutputLock.acquire(dir.path("m.ttc"))
        } throws: { error in
            (error as? InputError)?.description == "\(dir.path("m.ttc")): is being written by process 4242 (lock file .m.ttc.lock); wait for it to finish or stop it"
        }
        // A lock file whose holder is gone (no flock) is taken over.
        flock(fd, LOCK_UN)
        let lock = try OutputLock.acquire(dir.path("m.ttc"))
        #expect(try String(contentsOfFile: lock.lockPath, encoding: .utf8) == "\(getpid())\n")
        lock.release()
    }

    /// Lock and temporary names stay within NAME_MAX for any valid name.
    @Test func lockAndTemporaryNamesFitNameMax() throws {
        for length in [1, 200, 230, 231, 254, 255] {
            let name = String(repeating: "é", count: length / 2) + String(repeating: "x", count: length % 2)
            #expect(name.utf8.count == length)
            #expect(AtomicWrite.temporaryName(for: name, pid: Int32.max, suffix: UInt32.max).utf8.count <= 255)
            #expect(AtomicWrite.splitPath(OutputLock.lockPath(for: "d/" + name)).1.utf8.count <= 255)
            let kept = AtomicWrite.keptName(name)
            #expect(name.hasPrefix(kept) && kept.utf8.count <= AtomicWrite.keptNameBytes)
            #expect(kept.utf8.count >= min(length, AtomicWrite.keptNameBytes - 1))  // cut at a character boundary
        }
        #expect(AtomicWrite.temporaryName(for: "m.ttc", pid: 12, suffix: 0xab) == ".m.ttc.tmp-12-ab")
    }

    /// The probe of a path to be written leaves the directory as it was, and fails early
    /// for a name the file system cannot hold.
    @Test func probeLeavesNothingAndRefusesLongNames() throws {
        let dir = try TemporaryDirectory("probe")
        try AtomicWrite.probe(dir.path(String(repeating: "a", count: 255)))
        #expect(try dir.listing() == [])
        #expect {
            try AtomicWrite.probe(dir.path(String(repeating: "a", count: 256)))
        } throws: { error in
            (error as? FormatError)?.message == "the file name is 256 bytes, more than this file system's limit of 255"
        }
        // And a long name really saves, its temporary cut to fit.
        try AtomicWrite.write([[1, 2, 3]], to: dir.path(String(repeating: "b", count: 255)))
        #expect(try dir.listing() == [String(repeating: "b", count: 255)])
    }
}

/// Issue 11 #9: the bounds every command applies before inflating a tensor.
@Suite struct CheckpointBoundsTests {
    func entry(_ role: TensorRole, raw: UInt64) -> TensorEntry {
        TensorEntry(name: "x", role: role, dtype: .f32, shape: [Int(raw / 4)], compression: .zlib, filter: .none,
                    offset: 0, storedLength: 1, rawLength: raw, rawCRC32: 0, storedCRC32: 0)
    }

    @Test func modelsAboveInitsLimitAndLargeOtherTensorsAreRefused() throws {
        #expect(throws: Never.self) { try CheckpointBounds.check(config: .tutorial, entries: [], path: "m.ttc") }
        let big = ModelConfig(arch: .gpt, vocabSize: 1 << 20, dModel: 256, nHeads: 8, dFF: 1024, nLayers: 1, context: 128)
        #expect {
            try CheckpointBounds.check(config: big, entries: [], path: "m.ttc")
        } throws: { error in
            (error as? InputError)?.description == "m.ttc: \(ParameterLayout.parameterCount(big)) parameters is more than the limit 134217728"
        }
        let others = [entry(.other, raw: 1 << 29), entry(.other, raw: 1 << 29)]
        #expect(throws: Never.self) { try CheckpointBounds.check(config: .tutorial, entries: others, path: "m.ttc") }
        #expect {
            try CheckpointBounds.check(config: .tutorial, entries: others + [entry(.other, raw: 4)], path: "m.ttc")
        } throws: { error in
            (error as? InputError)?.description == "m.ttc: its tensors of role other hold 1073741828 bytes, more than the limit 1073741824"
        }
    }

    /// Issue 11 #2, reader side: the reader applies the same float32 check to what a file
    /// records (`AdamWConfig.validate`, shared with the command line).
    @Test func readerRejectsAnEpsilonThatIsZeroInFloat32() throws {
        let good = try CheckpointWriter.encodedBytes(FormatFixtures.checkpoint())
        let pattern = withUnsafeBytes(of: (1.5e-8).bitPattern.littleEndian, Array.init)
        let at = try #require((0...(good.count - 8)).first { Array(good[$0..<($0 + 8)]) == pattern })
        var bytes = good
        bytes.replaceSubrange(at..<(at + 8), with: withUnsafeBytes(of: (1e-46).bitPattern.littleEndian, Array.init))
        let error = try #require(FormatFixtures.readError(HostileMutationTests.fixChecksums(bytes)))
        #expect(error.message.contains("1e-46 is 0 in float32"), "\(error.message)")
    }
}
