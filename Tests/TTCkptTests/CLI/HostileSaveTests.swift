import Foundation
import Testing
@testable import TTCore
@testable import TTFormat
@testable import TTTraining

/// Crash-safe saves end to end: SIGKILL at random moments, repeated SIGINT/SIGTERM during
/// saves, and real write faults (full disk, read-only directory) where the machine allows.
/// The library-level fault tests are in AtomicWriteFaultTests; the CLI's injected faults are
/// rows of BadInputTests (spec/BAD-INPUT.md).
@Suite struct HostileSaveTests {
    /// Loads and verifies every CRC; checks the state is one whole step's (tutorial, B = 1:
    /// each step draws one window and computes the loss over 4 targets).
    static func expectCompleteState(_ path: String, _ label: String) throws -> Int {
        let checkpoint = try CheckpointReader(path: path).readCheckpoint()
        let t = checkpoint.training
        #expect(t.lossHistory.count == t.step, "\(label)")
        #expect(Int(t.windowsDrawn) == t.step, "\(label)")
        #expect(t.tokensSeen == 4 * t.step, "\(label)")
        #expect(t.sessionStarts.allSatisfy { $0 <= t.step }, "\(label)")
        #expect(checkpoint.tensors.count == 3 * ParameterLayout(config: checkpoint.config).slots.count, "\(label)")
        return t.step
    }

    /// `train --save-every 1 --keep 2` killed with SIGKILL at seeded random moments (from
    /// 10 ms, before the first save, to 600 ms). After every kill: the target and every step
    /// file load and verify and hold a complete step; a copy of the target resumes (or, if
    /// never trained, trains) one more step; and the next run removes the killed writer's
    /// temporary files. Trials: TTCKPT_KILL_TRIALS (default 20).
    @Test func sigkillAtRandomMomentsAlwaysLeavesAResumableCheckpoint() throws {
        let trials = Int(ProcessInfo.processInfo.environment["TTCKPT_KILL_TRIALS"] ?? "") ?? 20
        let dir = try TemporaryDirectory("hostile-kill")
        #expect(try CLIRunner.run(["init", "m.ttc"], in: dir.url).status == 0)
        let path = dir.path("m.ttc")
        var rng = PythonRandom(seed: 6)
        var lastStep = 0, midWrite = 0, resumed = 0
        for trial in 0..<trials {
            let leftovers = AtomicWrite.temporaryFiles(for: path)
            let running = try CLIRunner.start(["train", "m.ttc", "--steps", "1000000", "--save-every", "1", "--keep", "2", "--quiet"],
                                              in: dir.url)
            usleep(UInt32(10_000 + rng.randbelow(590_000)))
            kill(running.process.processIdentifier, SIGKILL)
            running.process.waitUntilExit()
            #expect(running.process.terminationReason == .uncaughtSignal, "trial \(trial): \(running.result().stderr)")
            let now = AtomicWrite.temporaryFiles(for: path)
            if now.contains(where: { !leftovers.contains($0) }) { midWrite += 1 }
            let step = try Self.expectCompleteState(path, "trial \(trial)")
            #expect(step >= lastStep, "trial \(trial): went back from \(lastStep) to \(step)")
            // A run that took a step had removed the previous run's leftovers first.
            if step > lastStep {
                #expect(leftovers.allSatisfy { !now.contains($0) }, "trial \(trial): stale \(leftovers) still there")
            }
            for (s, p) in StepFiles.list(output: path) {
                #expect(try Self.expectCompleteState(p, "trial \(trial) \(p)") == s)
            }
            // A copy continues.
            let copy = dir.path("copy.ttc")
            try? FileManager.default.removeItem(atPath: copy)
            try FileManager.default.copyItem(atPath: path, toPath: copy)
            let r = try CLIRunner.run([step > 0 ? "resume" : "train", "copy.ttc", "--steps", "1", "--quiet"], in: dir.url)
            #expect(r.status == 0, "trial \(trial): \(r.stderr)")
            #expect(try Self.expectCompleteState(copy, "trial \(trial) copy") == step + 1)
            if step > 0 { resumed += 1 }
            lastStep = step
        }
        #expect(lastStep > 0)
        print("HostileSaveTests kill: \(trials) SIGKILLs, all recovered; \(midWrite) left a temporary file; "
              + "\(resumed) resumed; last step \(lastStep)")
        #expect(try CLIRunner.run(["train", "m.ttc", "--steps", "1", "--quiet"], in: dir.url).status == 0)
        #expect(AtomicWrite.temporaryFiles(for: path).isEmpty)
        // Step files' temporaries too (regression: they used to stay forever).
        #expect(try dir.listing().filter { $0.contains(".tmp-") } == [])
    }

    /// init removes what a killed init (or save) of the same path left behind.
    @Test func initRemovesStaleTemporaryFilesOfItsOutput() throws {
        let dir = try TemporaryDirectory("hostile-inittmp")
        try dir.write(".x.ttc.tmp-2147483646-ab", "partial")
        try dir.write(".x.ttc.tmp-\(getpid())-cd", "a live writer's")
        #expect(try CLIRunner.run(["init", "x.ttc"], in: dir.url).status == 0)
        #expect(try dir.listing() == [".x.ttc.tmp-\(getpid())-cd", "x.ttc"])
    }

    /// Stale temporaries of step files are removed; a live writer's and other files are kept.
    @Test func staleStepFileTemporariesAreRemoved() throws {
        let dir = try TemporaryDirectory("hostile-steptmp")
        let names = [".m.step000005.ttc.tmp-2147483646-ab", ".m.step000012.ttc.tmp-\(getpid())-cd",
                     ".m.ttc.tmp-2147483646-ef", ".n.step000005.ttc.tmp-2147483646-01", "m.step000005.ttc"]
        for n in names { try dir.write(n, "x") }
        let removed = StepFiles.removeStaleTemporaryFiles(output: dir.path("m.ttc"))
        #expect(removed == [dir.path(".m.step000005.ttc.tmp-2147483646-ab")])
        #expect(try dir.listing() == names.filter { !$0.hasSuffix("-ab") }.sorted())
        // In a subdirectory.
        let sub = dir.path("sub")
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: false)
        FormatFixtures.writeBytes([1], to: sub + "/.m.step000001.ttc.tmp-2147483646-1")
        #expect(StepFiles.removeStaleTemporaryFiles(output: sub + "/m.ttc") == [sub + "/.m.step000001.ttc.tmp-2147483646-1"])
    }

    /// SIGINT (or SIGTERM) during training, then, from 20 ms later, a storm of SIGINT and
    /// SIGTERM every millisecond until the process exits: the first signal decides the exit
    /// status (130 or 143), the announced step is the one saved, and the file verifies. With
    /// --save-every 1 the storm overlaps the saves, the final one included. (Two different
    /// signals sent back to back, microseconds apart, may be recorded in either order: the
    /// handlers run on a dispatch queue; hence the 20 ms.)
    @Test func repeatedSignalsDuringTheSaveCorruptNothing() throws {
        let dir = try TemporaryDirectory("hostile-signal")
        #expect(try CLIRunner.run(["init", "m.ttc"], in: dir.url).status == 0)
        var rng = PythonRandom(seed: 130)
        for trial in 0..<4 {
            let first = trial % 2 == 0 ? SIGINT : SIGTERM
            let running = try CLIRunner.start(["train", "m.ttc", "--steps", "1000000", "--save-every", "1", "--keep", "0", "--quiet"],
                                              in: dir.url)
            usleep(UInt32(200_000 + rng.randbelow(200_000)))
            let pid = running.process.processIdentifier
            kill(pid, first)
            usleep(20_000)
            var sent = 1
            while running.process.isRunning && sent < 5000 {
                kill(pid, sent % 2 == 0 ? SIGINT : SIGTERM)
                sent += 1
                usleep(1000)
            }
            running.process.waitUntilExit()
            let result = running.result()
            #expect(running.process.terminationReason == .exit)
            #expect(result.status == StopFlag.exitStatus(for: first), "trial \(trial): \(result.stderr)")
            #expect(result.stderrLines.count == 1, "trial \(trial): \(result.stderr)")
            let step = try Self.expectCompleteState(dir.path("m.ttc"), "trial \(trial)")
            let name = first == SIGINT ? "SIGINT" : "SIGTERM"
            #expect(result.stderrLines.first == "tt-ckpt: m.ttc: interrupted by \(name); saved step \(step)")
            #expect(try dir.listing() == ["m.ttc"])
        }
    }

    // MARK: real write faults (root with mount(8); skipped elsewhere)

    static let canMount: Bool = {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/bin/mount") else { return false }
        let probe = FormatFixtures.tempDirectory()
        defer { rmdir(probe) }
        guard shell("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe]) == 0 else { return false }
        return shell("/bin/umount", [probe]) == 0
    }()

    @discardableResult
    static func shell(_ tool: String, _ args: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }

    /// A full disk: a 64 KiB tmpfs holding a 45 KB checkpoint has no room for the new one.
    @Test(.enabled(if: canMount, "needs root and mount(8)"))
    func realFullDiskKeepsThePreviousCheckpoint() throws {
        let dir = try TemporaryDirectory("hostile-enospc")
        #expect(try CLIRunner.run(["init", "m.ttc"], in: dir.url).status == 0)
        #expect(try CLIRunner.run(["train", "m.ttc", "--steps", "2", "--quiet"], in: dir.url).status == 0)
        let mnt = dir.path("small")
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: false)
        #expect(Self.shell("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt]) == 0)
        defer { Self.shell("/bin/umount", [mnt]); withExtendedLifetime(dir) {} }
        try FileManager.default.copyItem(atPath: dir.path("m.ttc"), toPath: mnt + "/m.ttc")
        let before = FormatFixtures.readBytes(mnt + "/m.ttc")
        let r = try CLIRunner.run(["train", "small/m.ttc", "--steps", "1", "--quiet"], in: dir.url)
        #expect(r.status == 2)
        #expect(r.stderrLines.count == 1)
        #expect(r.stderrLines.first?.hasPrefix("tt-ckpt: small/m.ttc: save failed, previous file (if any) left unchanged: write small/.m.ttc.tmp-") == true,
                "\(r.stderr)")
        #expect(r.stderr.hasSuffix(": No space left on device\n"))
        #expect(FormatFixtures.readBytes(mnt + "/m.ttc") == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: mnt) == ["m.ttc"])
        // And init into the full disk leaves nothing behind either.
        _ = FileManager.default.createFile(atPath: mnt + "/filler", contents: Data(count: 12_000))
        let i = try CLIRunner.run(["init", "small/n.ttc"], in: dir.url)
        #expect(i.status == 2 && i.stderrLines.count == 1 && i.stderr.contains("No space left on device"), "\(i.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: mnt).sorted() == ["filler", "m.ttc"])
    }

    /// An unwritable directory for root: a read-only bind mount.
    @Test(.enabled(if: canMount, "needs root and mount(8)"))
    func realReadOnlyDirectoryIsRefused() throws {
        let dir = try TemporaryDirectory("hostile-rofs")
        let src = dir.path("src"), ro = dir.path("ro")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: false)
        try FileManager.default.createDirectory(atPath: ro, withIntermediateDirectories: false)
        #expect(try CLIRunner.run(["init", "src/m.ttc"], in: dir.url).status == 0)
        #expect(Self.shell("/bin/mount", ["--bind", src, ro]) == 0)
        defer { Self.shell("/bin/umount", [ro]); withExtendedLifetime(dir) {} }
        #expect(Self.shell("/bin/mount", ["-o", "remount,bind,ro", ro]) == 0)
        let before = FormatFixtures.readBytes(src + "/m.ttc")
        let r = try CLIRunner.run(["train", "ro/m.ttc", "--steps", "1", "--quiet"], in: dir.url)
        #expect(r.status == 2)
        #expect(r.stderrLines == ["tt-ckpt: ro/m.ttc: cannot write here: ro: read-only file system"], "\(r.stderr)")
        // The writer itself, past the command's early check: the create fails, nothing is left.
        #expect { try CheckpointWriter.write(FormatFixtures.checkpoint(), to: ro + "/m.ttc") } throws: { e in
            guard let e = e as? FormatError else { return false }
            return e.kind == .writeFailed && e.message.hasSuffix("Read-only file system")
        }
        #expect(FormatFixtures.readBytes(src + "/m.ttc") == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: src) == ["m.ttc"])
    }

    /// The one fault that leaves the new file: the directory fsync after the rename. The
    /// command still reports it (exit 2) and the new file is complete.
    @Test func directorySyncFailureIsReportedAndTheNewFileIsComplete() throws {
        let dir = try TemporaryDirectory("hostile-dirsync")
        #expect(try CLIRunner.run(["init", "m.ttc"], in: dir.url).status == 0)
        let r = BadInputTests.run(["train", "m.ttc", "--steps", "2", "--quiet"], in: dir.url.path,
                                  env: ["TTCKPT_FAULT_INJECT": "dirsync"])
        #expect(r.status == 2)
        #expect(r.stderrLines == ["tt-ckpt: m.ttc: saved, but the directory could not be synced, so the save may not survive a power loss: fsync directory .: Input/output error"])
        #expect(try Self.expectCompleteState(dir.path("m.ttc"), "dirsync") == 2)
        #expect(try dir.listing() == ["m.ttc"])
    }
}
