import ArgumentParser
import TTCkpt

@main
struct TTCkpt: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tt-ckpt",
        abstract: "Train a small transformer and keep its whole state in verifiable .ttc checkpoints.",
        version: TTCkptVersion.string,
        subcommands: [Inspect.self, Diff.self]
    )
}
