import ArgumentParser
import TTCore

@main
struct TTCkpt: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tt-ckpt",
        abstract: "Train a small transformer and keep its whole state in verifiable .ttc checkpoints.",
        discussion: """
            Example, the tutorial model end to end:
              tt-ckpt init model.ttc
              tt-ckpt train model.ttc --steps 1000
              tt-ckpt sample model.ttc --prompt "<BOS>" --temperature 0

            Exit status: 0 success; 1 differences (diff); 2 trouble, with one
            line on stderr (for training also a divergence, the last good
            step saved); 130/143/129 training stopped by SIGINT/SIGTERM/SIGHUP,
            saved. Commands that write a file refuse an existing one without
            --force (training CKPT in place needs none).
            """,
        version: TTCkptVersion.string,
        subcommands: [Tutorial.self, Init.self, Train.self, Resume.self, Inspect.self, Diff.self, Sample.self, Eval.self, Export.self, Import.self, Plot.self, Trace.self]
    )

    /// Parses, runs, and maps every failure to one stderr line and exit status 2
    /// (see `CommandLineErrors`).
    static func main() {
        ParentWatch.startIfAsked()
        CommandLineErrors.runMain(TTCkpt.self)
    }
}
