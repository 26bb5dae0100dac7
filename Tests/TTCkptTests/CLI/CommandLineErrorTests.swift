import Foundation
import Testing

/// Bad input through the real binary: one stderr line naming the file or option, exit
/// status 2, nothing on stdout, no file created or changed. These cases are caught before
/// any checkpoint is read or model built.
@Suite struct CommandLineErrorTests {
    /// Runs `args` in a fresh directory holding `files`, checks the error contract, and that
    /// the directory is unchanged afterwards.
    func expectRefused(_ args: [String], files: [String: String] = [:], subject: String, containing: String? = nil,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let dir = try TemporaryDirectory("cli-err")
        for (name, text) in files { try dir.write(name, text) }
        let before = try dir.listing().map { ($0, try dir.read($0)) }
        let result = try CLIRunner.run(args.map { $0.replacingOccurrences(of: "$D", with: dir.url.path) }, in: dir.url)
        expectUserError(result, subject: subject.replacingOccurrences(of: "$D", with: dir.url.path), containing: containing,
                        sourceLocation: sourceLocation)
        let after = try dir.listing().map { ($0, try dir.read($0)) }
        #expect(after.map(\.0) == before.map(\.0), "files changed", sourceLocation: sourceLocation)
        #expect(after.map(\.1) == before.map(\.1), "contents changed", sourceLocation: sourceLocation)
    }

    @Test func initRefusesToOverwrite() throws {
        try expectRefused(["init", "m.ttc"], files: ["m.ttc": "precious"], subject: "m.ttc", containing: "already exists (use --force")
    }

    @Test func initRefusesADirectoryEvenWithForce() throws {
        try expectRefused(["init", "$D", "--force"], subject: "$D", containing: "is a directory")
    }

    @Test func initRefusesAMissingDirectory() throws {
        try expectRefused(["init", "no/such/m.ttc"], subject: "no/such/m.ttc", containing: "no such file or directory")
    }

    @Test func initRefusesHeadsThatDoNotDivideDModel() throws {
        try expectRefused(["init", "m.ttc", "--heads", "3"], subject: "--heads", containing: "3 heads do not divide d_model 16")
    }

    @Test func initRefusesZeroAndAbsurdSizes() throws {
        try expectRefused(["init", "m.ttc", "--layers", "0"], subject: "--layers", containing: "at least 1")
        try expectRefused(["init", "m.ttc", "--d-model", "100000"], subject: "--d-model", containing: "at most")
        try expectRefused(["init", "m.ttc", "--context", "4096"], subject: "--context", containing: "at most 2048")
        try expectRefused(["init", "m.ttc", "--d-model", "8192", "--d-ff", "32768", "--layers", "64"],
                          subject: "config", containing: "parameters")
        try expectRefused(["init", "m.ttc", "--context", "2048", "--d-model", "64", "--heads", "64", "--layers", "8"],
                          subject: "config", containing: "MiB of activations, more than the limit 4096 MiB")
    }

    @Test func initRefusesAVocabSizeThatDisagreesWithTheVocabulary() throws {
        try expectRefused(["init", "m.ttc", "--vocab-size", "7"], subject: "--vocab-size", containing: "6 tokens")
    }

    @Test func initNeedsACorpusForGptSmall() throws {
        try expectRefused(["init", "m.ttc", "--preset", "gpt-small"], subject: "--data", containing: "give --data FILE")
    }

    @Test func initRefusesBadCorpora() throws {
        try expectRefused(["init", "m.ttc", "--preset", "gpt-small", "--data", "empty.txt"],
                          files: ["empty.txt": ""], subject: "empty.txt", containing: "is empty")
        try expectRefused(["init", "m.ttc", "--preset", "gpt-small", "--data", "missing.txt"],
                          subject: "missing.txt", containing: "cannot open: No such file")
        try expectRefused(["init", "m.ttc", "--preset", "gpt-small", "--data", "$D"], subject: "$D", containing: "is a directory")
        try expectRefused(["init", "m.ttc", "--data", "blank.txt"], files: ["blank.txt": " \n "],
                          subject: "blank.txt", containing: "no words")
    }

    @Test func initRefusesInvalidUTF8ForCharTokens() throws {
        let dir = try TemporaryDirectory("cli-err")
        try dir.write("bin.txt", Data([0x61, 0x62, 0xC3, 0x28]))
        let result = try CLIRunner.run(["init", "m.ttc", "--preset", "gpt-small", "--data", "bin.txt"], in: dir.url)
        expectUserError(result, subject: "bin.txt", containing: "not valid UTF-8 (bad byte at offset 2)")
        #expect(!dir.exists("m.ttc"))
    }

    @Test func badEnumValuesAndUnknownOptions() throws {
        try expectRefused(["init", "m.ttc", "--preset", "huge"], subject: "The value 'huge' is invalid for '--preset")
        try expectRefused(["init", "m.ttc", "--tokenizer", "sentencepiece"], subject: "The value 'sentencepiece' is invalid for '--tokenizer")
        try expectRefused(["init", "m.ttc", "--frobnicate"], subject: "Unknown option '--frobnicate'")
        try expectRefused(["init"], subject: "Missing expected argument")
        try expectRefused(["launch"], subject: "Unexpected argument 'launch'")
    }

    @Test func trainRefusesBadOptionValuesBeforeReadingAnything() throws {
        // "m.ttc" does not exist: option errors are reported first.
        try expectRefused(["train", "m.ttc", "--steps", "0"], subject: "--steps", containing: "at least 1")
        try expectRefused(["train", "m.ttc", "--steps", "x"], subject: "The value 'x' is invalid for '--steps")
        try expectRefused(["train", "m.ttc"], subject: "Missing expected argument '--steps")
        try expectRefused(["train", "m.ttc", "--steps", "5", "--lr=-1"], subject: "--lr", containing: "must be in (0, 10]")
        try expectRefused(["train", "m.ttc", "--steps", "5", "--lr", "nan"], subject: "--lr")
        try expectRefused(["train", "m.ttc", "--steps", "5", "--beta1", "1"], subject: "--beta1")
        try expectRefused(["train", "m.ttc", "--steps", "5", "--beta2=-0.5"], subject: "--beta2")
        try expectRefused(["train", "m.ttc", "--steps", "5", "--eps", "0"], subject: "--eps")
        try expectRefused(["train", "m.ttc", "--steps", "5", "--weight-decay=-1"], subject: "--weight-decay")
        try expectRefused(["train", "m.ttc", "--steps", "5", "--grad-clip=-1"], subject: "--grad-clip")
        try expectRefused(["train", "m.ttc", "--steps", "5", "--warmup=-1"], subject: "--warmup")
        try expectRefused(["train", "m.ttc", "--steps", "5", "--schedule", "linear"],
                          subject: "The value 'linear' is invalid for '--schedule")
        try expectRefused(["train", "m.ttc", "--steps", "5", "--min-lr-ratio", "2"], subject: "--min-lr-ratio")
        try expectRefused(["train", "m.ttc", "--steps", "5", "--batch-size", "0"], subject: "--batch-size")
        try expectRefused(["train", "m.ttc", "--steps", "5", "--batch-size", "100000"], subject: "--batch-size")
        try expectRefused(["train", "m.ttc", "--steps", "5", "--save-every=-1"], subject: "--save-every")
        try expectRefused(["train", "m.ttc", "--steps", "5", "--save-every", "2", "--keep=-1"], subject: "--keep")
        try expectRefused(["train", "m.ttc", "--steps", "5", "--keep", "2"], subject: "--keep", containing: "--save-every")
        try expectRefused(["train", "m.ttc", "--steps", "5", "--quiet", "--json"], subject: "--quiet")
        try expectRefused(["train", "m.ttc", "--steps", "5", "--log-every", "0"], subject: "--log-every")
    }

    @Test func negativeNumbersNeedTheEqualsForm() throws {
        // ArgumentParser reads "-1" after an option as another option; the message names it.
        try expectRefused(["train", "m.ttc", "--steps", "5", "--lr", "-1"], subject: "Missing value for '--lr")
    }

    @Test func resumeRefusesHyperparameterOverrides() throws {
        for flag in [["--lr", "0.1"], ["--batch-size", "4"], ["--schedule", "cosine"], ["--no-decay-norm-bias"], ["--warmup", "3"]] {
            try expectRefused(["resume", "m.ttc", "--steps", "5"] + flag, subject: flag[0],
                              containing: "resume continues with the hyperparameters the checkpoint records")
        }
    }

    @Test func sampleRefusesBadOptionValues() throws {
        try expectRefused(["sample", "m.ttc", "--temperature=-1"], subject: "--temperature")
        try expectRefused(["sample", "m.ttc", "--temperature", "inf"], subject: "--temperature")
        try expectRefused(["sample", "m.ttc", "--tokens", "0"], subject: "--tokens")
        try expectRefused(["sample", "m.ttc", "--top-k=-2"], subject: "--top-k")
    }

    @Test func everySubcommandHelpHasAPurposeAndAnExample() throws {
        for command in ["init", "train", "resume", "sample"] {
            let result = try CLIRunner.run([command, "--help"])
            #expect(result.status == 0)
            #expect(result.stdout.contains("OVERVIEW: "), "\(command)")
            #expect(result.stdout.contains("Example"), "\(command)")
            #expect(result.stdout.contains("tt-ckpt \(command) "), "\(command) help shows a worked example")
        }
    }
}
