import Foundation
import Testing
@testable import TTCore
@testable import TTFormat

/// Bad files and data through the real binary: one stderr line naming the file (or option),
/// exit status 2, nothing on stdout, no file created or changed.
@Suite struct FileErrorTests {
    /// A directory with a trained tutorial checkpoint `m.ttc` and some bad inputs.
    func fixture() throws -> TemporaryDirectory {
        let dir = try TemporaryDirectory("file-err")
        #expect(try CLIRunner.run(["init", "m.ttc"], in: dir.url).status == 0)
        #expect(try CLIRunner.run(["train", "m.ttc", "--steps", "2", "--quiet"], in: dir.url).status == 0)
        let good = try dir.read("m.ttc")
        try dir.write("truncated.ttc", good.prefix(good.count / 2))
        var flipped = good
        flipped[good.count - 20] ^= 0x5A
        try dir.write("flipped.ttc", flipped)
        // Major version 2 (u16 little-endian at offset 8, spec/FORMAT.md §1).
        var newer = good
        newer[8] = 2
        newer[9] = 0
        try dir.write("newer.ttc", newer)
        // The 8-byte PNG signature, then an IHDR chunk.
        try dir.write("picture.png", Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]
                                          + [UInt8](repeating: 7, count: 200)))
        try dir.write("empty.ttc", Data())
        try FileManager.default.createDirectory(atPath: dir.path("folder.ttc"), withIntermediateDirectories: false)
        return dir
    }

    func snapshot(_ dir: TemporaryDirectory) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for name in try dir.listing() where name != "folder.ttc" { files[name] = try dir.read(name) }
        return files
    }

    @Test(arguments: ["missing.ttc", "folder.ttc", "picture.png", "empty.ttc", "truncated.ttc", "flipped.ttc", "newer.ttc"])
    func everyCommandRefusesABadCheckpoint(_ name: String) throws {
        let dir = try fixture()
        let before = try snapshot(dir)
        for args in [["train", name, "--steps", "1"], ["resume", name, "--steps", "1"], ["sample", name],
                     ["train", name, "--steps", "1", "-o", "new.ttc"]] {
            let result = try CLIRunner.run(args, in: dir.url)
            expectUserError(result, subject: name)
            #expect(try snapshot(dir) == before, "\(args)")
        }
    }

    @Test func newerMajorVersionIsNamed() throws {
        let dir = try fixture()
        expectUserError(try CLIRunner.run(["sample", "newer.ttc"], in: dir.url), subject: "newer.ttc",
                        containing: "format version 2.1 is not supported")
    }

    @Test func trainRefusesADirectoryAsOutput() throws {
        let dir = try fixture()
        let before = try snapshot(dir)
        expectUserError(try CLIRunner.run(["train", "m.ttc", "--steps", "1", "-o", "folder.ttc"], in: dir.url),
                        subject: "folder.ttc", containing: "is a directory")
        #expect(try snapshot(dir) == before)
    }

    @Test func resumeRefusesANeverTrainedCheckpoint() throws {
        let dir = try TemporaryDirectory("file-err")
        #expect(try CLIRunner.run(["init", "m.ttc"], in: dir.url).status == 0)
        let before = try dir.read("m.ttc")
        expectUserError(try CLIRunner.run(["resume", "m.ttc", "--steps", "1"], in: dir.url),
                        subject: "m.ttc", containing: "never been trained")
        #expect(try dir.read("m.ttc") == before)
    }

    @Test func corpusRulesForTrainAndResume() throws {
        let dir = try TemporaryDirectory("corpus-err")
        try dir.write("a.txt", "abcabcabd abc")
        try dir.write("b.txt", "abcabcabc abd")  // same symbols, other text
        try dir.write("unknown.txt", "abcxyz\u{7}")
        try dir.write("tiny.txt", "a")
        let shape = ["--preset", "gpt-small", "--d-model", "8", "--heads", "2", "--d-ff", "8", "--layers", "1", "--context", "4"]
        #expect(try CLIRunner.run(["init", "m.ttc", "--data", "a.txt"] + shape, in: dir.url).status == 0)
        let fresh = try dir.read("m.ttc")

        expectUserError(try CLIRunner.run(["train", "m.ttc", "--steps", "1"], in: dir.url),
                        subject: "--data", containing: "required: m.ttc was trained on a.txt")
        expectUserError(try CLIRunner.run(["train", "m.ttc", "--steps", "1", "--data", "unknown.txt"], in: dir.url),
                        subject: "unknown.txt", containing: #"4 symbols not in the checkpoint's vocabulary: "x", "y", "z", "\u{7}""#)
        expectUserError(try CLIRunner.run(["train", "m.ttc", "--steps", "1", "--data", "tiny.txt"], in: dir.url),
                        subject: "tiny.txt", containing: "training needs at least 2")
        expectUserError(try CLIRunner.run(["train", "m.ttc", "--steps", "1", "--data", "b.txt"], in: dir.url),
                        subject: "b.txt", containing: "is not the data m.ttc was trained on (recorded: a.txt, 13 bytes")
        #expect(try dir.read("m.ttc") == fresh)

        #expect(try CLIRunner.run(["train", "m.ttc", "--steps", "2", "--data", "a.txt", "--quiet"], in: dir.url).status == 0)
        let trained = try dir.read("m.ttc")
        expectUserError(try CLIRunner.run(["resume", "m.ttc", "--steps", "1", "--data", "b.txt"], in: dir.url),
                        subject: "b.txt", containing: "is not the data m.ttc was trained on")
        expectUserError(try CLIRunner.run(["resume", "m.ttc", "--steps", "1"], in: dir.url), subject: "--data")
        #expect(try dir.read("m.ttc") == trained)

        // Fine-tuning on other data is train's job, with --new-data; the new identity is recorded.
        let tuned = try CLIRunner.run(["train", "m.ttc", "--steps", "1", "--data", "b.txt", "--new-data", "--quiet"], in: dir.url)
        #expect(tuned.status == 0, "\(tuned.stderr)")
        let state = try CheckpointReader(path: dir.path("m.ttc")).readCheckpoint().training
        #expect(state.data?.name == "b.txt")
        #expect(state.data?.sha256 == SHA256.hexDigest(Array("abcabcabc abd".utf8)))
    }

    @Test func samplePromptMustBeInTheVocabulary() throws {
        let dir = try TemporaryDirectory("prompt-err")
        #expect(try CLIRunner.run(["init", "m.ttc"], in: dir.url).status == 0)
        expectUserError(try CLIRunner.run(["sample", "m.ttc", "--prompt", "I love\ttransformers"], in: dir.url),
                        subject: "--prompt", containing: #"1 symbol not in the checkpoint's vocabulary: "love""#)
        expectUserError(try CLIRunner.run(["sample", "m.ttc", "--prompt", "  "], in: dir.url),
                        subject: "--prompt", containing: "has no tokens")
    }
}
