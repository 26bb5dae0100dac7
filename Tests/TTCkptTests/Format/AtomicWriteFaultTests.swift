import Foundation
import Testing
@testable import TTFormat
@testable import TTInterop

/// Interrupted and failing saves through the injectable file system: the previous file
/// must stay readable and byte-identical, and nothing half-written may remain.
@Suite struct AtomicWriteFaultTests {
    static let old = FormatFixtures.checkpoint(steps: 2)
    static let new = FormatFixtures.checkpoint(seed: 7, steps: 3)

    /// Writes `old` to a fresh directory and returns (directory, path, its bytes).
    static func setUp() throws -> (String, String, [UInt8]) {
        let dir = FormatFixtures.tempDirectory()
        let path = dir + "/run.ttc"
        try CheckpointWriter.write(old, to: path)
        return (dir, path, FormatFixtures.readBytes(path))
    }

    @Test func failedSavesLeaveThePreviousFileIntact() throws {
        let size = try CheckpointWriter.encodedBytes(Self.new).count
        var faults: [FaultInjectingFileSystem.Fault] = [.createDenied, .syncFails, .closeFails, .renameFails]
        // Up to `size - 1` bytes fail while the blobs stream out; `size` fails the header,
        // written last over the zeros that held its place.
        faults += [0, 1, 31, 32, 100, size / 2, size - 1, size].map { .noSpace(after: $0) }
        for fault in faults {
            let (dir, path, before) = try Self.setUp()
            let io = FaultInjectingFileSystem(fault)
            var o = WriteOptions()
            o.io = io
            #expect { try CheckpointWriter.write(Self.new, to: path, options: o) } throws: { e in
                let f = e as? FormatError
                return f?.kind == .writeFailed && f!.description.hasPrefix(path + ": ") && !f!.description.contains("\n")
            }
            #expect(FormatFixtures.readBytes(path) == before, "\(fault): target changed")
            #expect(FormatFixtures.bitExactlyEqual(try CheckpointReader(path: path).readCheckpoint(), Self.old))
            #expect(AtomicWrite.temporaryFiles(for: path).isEmpty, "\(fault): temporary left behind")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["run.ttc"])
            if fault != .createDenied { #expect(io.createdPaths.count == 1) }
        }
    }

    @Test func noSpaceMessageSaysSo() throws {
        let (_, path, _) = try Self.setUp()
        var o = WriteOptions()
        o.io = FaultInjectingFileSystem(.noSpace(after: 100))
        #expect { try CheckpointWriter.write(Self.new, to: path, options: o) } throws: { e in
            (e as? FormatError)?.message.contains("No space left on device") == true
        }
    }

    @Test func directorySyncFailureReportsButKeepsTheCompleteNewFile() throws {
        let (_, path, _) = try Self.setUp()
        var o = WriteOptions()
        o.io = FaultInjectingFileSystem(.directorySyncFails)
        #expect { try CheckpointWriter.write(Self.new, to: path, options: o) } throws: { ($0 as? FormatError)?.kind == .writeFailed }
        // The rename had happened: the target is the complete new checkpoint.
        #expect(FormatFixtures.readBytes(path) == (try CheckpointWriter.encodedBytes(Self.new)))
        AtomicWrite.finishRemovals()   // the replaced file is removed in the background
        #expect(AtomicWrite.temporaryFiles(for: path).isEmpty)
    }

    /// A save over an existing file keeps the old one alive under a temporary name through
    /// the rename (so the rename does not free it), then removes that name in the background.
    @Test func replacedFileIsRetiredUnderATemporaryNameAndRemoved() throws {
        let (dir, path, _) = try Self.setUp()
        let io = RecordingIO()
        var o = WriteOptions()
        o.io = io
        try CheckpointWriter.write(Self.new, to: path, options: o)
        AtomicWrite.finishRemovals()
        let calls = io.recorded
        #expect(calls.count == 3)
        let retired = calls.first.map { String($0.dropFirst("link ".count)) } ?? ""
        #expect(calls == ["link \(retired)", "rename \(path)", "remove \(retired)"])
        #expect(retired.hasPrefix(dir + "/.run.ttc.tmp-\(getpid())-"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["run.ttc"])
        #expect(FormatFixtures.bitExactlyEqual(try CheckpointReader(path: path).readCheckpoint(), Self.new))
        // A save to a new path has nothing to retire.
        let fresh = RecordingIO()
        o.io = fresh
        try CheckpointWriter.write(Self.new, to: dir + "/other.ttc", options: o)
        #expect(fresh.recorded == ["rename \(dir)/other.ttc"])
    }

    /// Safetensors export and SVG plots write through the same `AtomicWrite` as checkpoints:
    /// every fault leaves the previous file, and a failed directory fsync is reported (the
    /// old export path went around `FileSystemIO` and ignored it).
    @Test func safetensorsExportGoesThroughTheSameFaultableLayer() throws {
        let (dir, _, _) = try Self.setUp()
        let path = dir + "/run.safetensors"
        try SafetensorsCheckpoint.export(Self.old, to: path, includeOptimizer: false)
        let before = FormatFixtures.readBytes(path)
        let faults: [FaultInjectingFileSystem.Fault] = [.createDenied, .syncFails, .closeFails, .renameFails, .noSpace(after: 10)]
        for fault in faults {
            let io = FaultInjectingFileSystem(fault)
            #expect { try SafetensorsCheckpoint.export(Self.new, to: path, includeOptimizer: true, io: io) } throws: { e in
                (e as? FormatError)?.kind == .writeFailed
            }
            #expect(FormatFixtures.readBytes(path) == before, "\(fault): target changed")
            #expect(AtomicWrite.temporaryFiles(for: path).isEmpty, "\(fault): temporary left behind")
        }
        let io = FaultInjectingFileSystem(.directorySyncFails)
        #expect { try SafetensorsCheckpoint.export(Self.new, to: path, includeOptimizer: true, io: io) } throws: { e in
            (e as? FormatError)?.message.contains("directory could not be synced") == true
        }
        #expect(FormatFixtures.readBytes(path) != before)  // renamed into place before the fsync
        AtomicWrite.finishRemovals()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["run.safetensors", "run.ttc"])
    }

    @Test func realFileSystemRefusals() throws {
        let (dir, path, before) = try Self.setUp()
        // Read-only target: not replaced.
        chmod(path, 0o444)
        #expect { try CheckpointWriter.write(Self.new, to: path) } throws: { e in
            (e as? FormatError)?.kind == .writeFailed && (e as? FormatError)!.message.contains("read-only")
        }
        #expect(FormatFixtures.readBytes(path) == before)
        chmod(path, 0o644)
        // A directory at the target, and a missing directory.
        #expect { try CheckpointWriter.write(Self.new, to: dir) } throws: { ($0 as? FormatError)?.kind == .writeFailed }
        #expect { try CheckpointWriter.write(Self.new, to: dir + "/no/such/x.ttc") } throws: { ($0 as? FormatError)?.kind == .writeFailed }
        #expect(AtomicWrite.temporaryFiles(for: path).isEmpty)
        // A successful save replaces the old file.
        try CheckpointWriter.write(Self.new, to: path)
        #expect(FormatFixtures.bitExactlyEqual(try CheckpointReader(path: path).readCheckpoint(), Self.new))
    }

    @Test func staleTemporaryFilesAreRecognisedAndCleaned() throws {
        let (dir, path, before) = try Self.setUp()
        // A temp left by a dead process (pid above any pid_max) and one by this process.
        let dead = dir + "/.run.ttc.tmp-2147483646-1a2b"
        let mine = dir + "/.run.ttc.tmp-\(getpid())-ffff"
        let unrelated = dir + "/.other.ttc.tmp-2147483646-1"
        for p in [dead, mine, unrelated] { FormatFixtures.writeBytes(Array(before.prefix(100)), to: p) }
        #expect(AtomicWrite.temporaryFiles(for: path) == [dead, mine].sorted())
        #expect(AtomicWrite.removeStaleTemporaryFiles(for: path) == [dead])
        #expect(AtomicWrite.temporaryFiles(for: path) == [mine])
        #expect(FileManager.default.fileExists(atPath: unrelated))
        #expect(FormatFixtures.readBytes(path) == before)
    }
}
