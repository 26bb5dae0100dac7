import Foundation
import Testing
@testable import TTTraining

/// `tt-ckpt tutorial`: the series' numbers beside ours, training, and the completion.
@Suite struct TutorialCommandTests {
    /// The library's numbers agree with the series at the rounding it prints them with:
    /// ±5e-7 on 6-decimal weights, ±5e-5 on 4-decimal probabilities and losses.
    @Test func computedNumbersMatchThePublishedOnes() {
        let ours = TutorialNumbers.computed(), series = TutorialNumbers.published
        #expect(abs(ours.tokEmb10 - series.tokEmb10) <= 5e-7)
        #expect(abs(ours.tokEmb10AfterOneStep - series.tokEmb10AfterOneStep) <= 5e-7)
        #expect(abs(ours.averageLoss - series.averageLoss) <= 5e-5)
        #expect(ours.position0Probabilities.count == 6 && ours.positionLosses.count == 4)
        for (a, b) in zip(ours.position0Probabilities, series.position0Probabilities) { #expect(abs(a - b) <= 5e-5) }
        for (a, b) in zip(ours.positionLosses, series.positionLosses) { #expect(abs(a - b) <= 5e-5) }
        // The mean of the per-position losses is the loss the engine reports.
        #expect(abs(ours.positionLosses.reduce(0, +) / 4 - ours.averageLoss) < 1e-6)
    }

    @Test func walkthroughWritesWhatInitAndTrainWrite() throws {
        let dir = try TemporaryDirectory("tutorial")
        let walk = try CLIRunner.run(["tutorial", dir.path("walk.ttc"), "--steps", "300"])
        #expect(walk.status == 0, "\(walk.stderr)")
        #expect(walk.stdout.contains("per-position losses                 1.9033 1.6123 1.8479 1.9560   (series: 1.9033 1.6123 1.8479 1.9560)"))
        #expect(walk.stdout.contains("Greedy completion of <BOS>: I like transformers <EOS>"))

        #expect(try CLIRunner.run(["init", dir.path("two.ttc")]).status == 0)
        #expect(try CLIRunner.run(["train", dir.path("two.ttc"), "--steps", "300", "--quiet"]).status == 0)
        #expect(try dir.read("walk.ttc") == dir.read("two.ttc"))

        // It refuses to overwrite without --force, and leaves the file alone.
        let before = try dir.read("walk.ttc")
        expectUserError(try CLIRunner.run(["tutorial", dir.path("walk.ttc")]), subject: dir.path("walk.ttc"))
        #expect(try dir.read("walk.ttc") == before)
        expectUserError(try CLIRunner.run(["tutorial", dir.path("x.ttc"), "--steps", "0"]), subject: "--steps")
        #expect(!dir.exists("x.ttc"))
    }
}
