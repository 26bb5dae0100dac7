import Foundation
import Testing
@testable import TTCore
@testable import TTFormat

/// Issue 6, crash-safe saves: `train --save-every 1` killed with SIGKILL at random moments
/// always leaves a checkpoint that loads, verifies, and is the complete state of one step.
@Suite struct KillDuringSaveTests {
    @Test func sigkillDuringSavesNeverLeavesABrokenCheckpoint() throws {
        let dir = try TemporaryDirectory("kill")
        #expect(try CLIRunner.run(["init", "m.ttc"], in: dir.url).status == 0)
        let path = dir.path("m.ttc")
        // A fixed seed for the kill moments, so a failure can be replayed.
        var rng = PythonRandom(seed: 2026)
        var lastStep = 0
        var killedMidWrite = 0
        let trials = 12
        for trial in 0..<trials {
            let running = try CLIRunner.start(["train", "m.ttc", "--steps", "1000000", "--save-every", "1", "--keep", "0",
                                               "--quiet"], in: dir.url)
            // The tutorial saves after every step (a few hundred a second in a debug build),
            // so most kills land inside a write.
            usleep(UInt32(150_000 + rng.randbelow(250_000)))
            kill(running.process.processIdentifier, SIGKILL)
            running.process.waitUntilExit()
            #expect(running.process.terminationReason == .uncaughtSignal, "trial \(trial)")
            // readCheckpoint checks every CRC; the state must be one step's, whole.
            let checkpoint = try CheckpointReader(path: path).readCheckpoint()
            let state = checkpoint.training
            #expect(state.step >= lastStep, "trial \(trial): went back from \(lastStep) to \(state.step)")
            #expect(state.lossHistory.count == state.step)
            #expect(Int(state.windowsDrawn) == state.step)
            #expect(state.tokensSeen == 4 * state.step)
            #expect(checkpoint.tensors.count == 3 * ParameterLayout(config: checkpoint.config).slots.count)
            if !AtomicWrite.temporaryFiles(for: path).isEmpty { killedMidWrite += 1 }
            lastStep = state.step
        }
        #expect(lastStep > 0)
        print("kill test: \(trials) kills, \(killedMidWrite) left a temporary file (killed mid-write), last step \(lastStep)")
        // Leftover temporary files are removed by the next run.
        #expect(try CLIRunner.run(["train", "m.ttc", "--steps", "1", "--quiet"], in: dir.url).status == 0)
        #expect(AtomicWrite.temporaryFiles(for: path).isEmpty)
        #expect(try dir.listing() == ["m.ttc"])
    }
}
