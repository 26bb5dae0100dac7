import Foundation
import Testing
@testable import TTCore
@testable import TTFormat

/// Issue 11 #15, #16: what spec/ says is what the code does, checked against the spec text
/// itself.
@Suite struct SpecConsistencyTests {
    static let format = (try? String(contentsOfFile: TestPaths.path("spec/FORMAT.md"), encoding: .utf8)) ?? ""

    static var python3: String? {
        ["/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The reader's kind for a blob, through the same mapping `CheckpointReader` uses.
    static func swiftKind(_ blob: [UInt8], rawLength: Int) -> String {
        do {
            _ = try blob.withUnsafeBytes { try zlibInflateExact($0, rawLength: rawLength) }
            return "ok"
        } catch let e as InflateFailure {
            switch e {
            case .corrupt, .trailingBytes: return "corruptStream"
            case .tooLong: return "inflateTooLong"
            case .tooShort: return "inflateTooShort"
            case .outOfMemory: return "io"
            }
        } catch {
            return "\(error)"
        }
    }

    /// §6's Python equivalent, taken from the spec text and run with the system's python3
    /// on blobs with every kind of stream defect: it must give the reader's kind each time.
    @Test(.enabled(if: python3 != nil, "python3 is not installed"))
    func pythonInflateInTheSpecAgreesWithTheReader() throws {
        let start = try #require(Self.format.range(of: "```python\ndef inflate_exact"))
        let body = Self.format[start.upperBound...]
        let end = try #require(body.range(of: "```"))
        let code = "def inflate_exact" + body[..<end.lowerBound]

        var raw = [UInt8]()
        for i in 0..<3000 { raw.append(UInt8(truncatingIfNeeded: (i * 37) ^ (i >> 3))) }
        let good = zlibCompress(raw, level: 6)
        let longer = zlibCompress(raw + [7], level: 6)
        var badAdler = good
        badAdler[badAdler.count - 1] ^= 1
        var longerBadAdler = longer
        longerBadAdler[longerBadAdler.count - 1] ^= 1
        var badHeader = good
        badHeader[0] = 0x79
        let blobs: [(String, [UInt8])] = [
            ("good", good), ("cut in the deflate data", Array(good.prefix(good.count / 2))),
            ("Adler-32 missing", Array(good.dropLast(4))), ("cut in the Adler-32", Array(good.dropLast(3))),
            ("a byte after the end", good + [0]), ("Adler-32 wrong", badAdler), ("raw + 1 bytes", longer),
            ("raw + 1 bytes, Adler-32 wrong", longerBadAdler), ("raw − 4 bytes", zlibCompress(Array(raw.dropLast(4)), level: 6)),
            ("bad header", badHeader), ("empty", []),
        ]
        let dir = try TemporaryDirectory("spec-python")
        var driver = "import json, sys, zlib\nclass FormatError(Exception):\n    def __init__(self, kind, message):\n        self.kind = kind\n"
        driver += code + "\nout = []\nfor name in sys.argv[1:]:\n    blob = open(name, 'rb').read()\n"
        driver += "    try:\n        inflate_exact(blob, \(raw.count)); out.append('ok')\n"
        driver += "    except FormatError as e:\n        out.append(e.kind)\nprint(json.dumps(out))\n"
        try dir.write("driver.py", driver)
        var paths: [String] = []
        for (i, (_, blob)) in blobs.enumerated() {
            try dir.write("b\(i)", Data(blob))
            paths.append(dir.path("b\(i)"))
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.python3!)
        p.arguments = [dir.path("driver.py")] + paths
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let kinds = try #require(try JSONSerialization.jsonObject(with: output) as? [String])
        #expect(kinds.count == blobs.count)
        for ((name, blob), python) in zip(blobs, kinds) {
            #expect(python == Self.swiftKind(blob, rawLength: raw.count), "\(name): python \(python)")
        }
        // The cases the spec singles out.
        #expect(kinds[0] == "ok" && kinds[2] == "inflateTooShort" && kinds[6] == "inflateTooLong" && kinds[7] == "corruptStream")
        // With 2 bytes too many, output space runs out before the trailer: too long.
        let twoMore = zlibCompress(raw + [7, 8], level: 6)
        var twoMoreBadAdler = twoMore
        twoMoreBadAdler[twoMoreBadAdler.count - 1] ^= 1
        #expect(Self.swiftKind(twoMoreBadAdler, rawLength: raw.count) == "inflateTooLong")
    }

    /// §9's escapes are the binary's (one escaper, lowercase hex).
    @Test func escapesInTheSpecAreTheEscapersOutput() {
        #expect(TerminalText.escaped("\u{1b}") == "\\u{1b}" && Self.format.contains("ESC is `\\u{1b}`"))
        #expect(TerminalText.escaped("\u{202E}") == "\\u{202e}" && Self.format.contains("`\\u{202e}`"))
    }

    /// A blob without its Adler-32 trailer says so, instead of "inflates to 384 bytes, less
    /// than the raw length 384".
    @Test func missingTrailerMessage() throws {
        let c = FormatFixtures.checkpoint()
        var f = CraftedFile(c)
        let raw = littleEndianBytes(c.tensors[1].values)
        f.blobs[1] = Array(zlibCompress(raw, level: 1).dropLast(4))
        f.entries[1].filter = .none
        f.entries[1].storedLength = UInt64(f.blobs[1].count)
        f.entries[1].storedCRC32 = crc32Of(f.blobs[1])
        let e = FormatFixtures.readError(f.bytes(), name: "a.ttc")
        #expect(e?.kind == .inflateTooShort)
        #expect(e?.description == "a.ttc: tensor 'pos_emb': the zlib stream ends before its end (all \(raw.count) raw bytes inflated, no final block or Adler-32 trailer; truncated stream)")
        let flat = Self.format.split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ")
        #expect(flat.contains("no final block or Adler-32 trailer; truncated stream"))
    }

    /// Issue 11 #18: §8 says what byte-identical output depends on: which encodings write
    /// every bit with tt-ckpt's own code and which call the zlib linked (every encoding the
    /// writer has is in one group or the other), that another zlib such as zlib-ng gives
    /// other bytes, and that the content (raw CRCs, digests, model digest) does not change.
    @Test func section8SaysWhatByteIdenticalDependsOn() throws {
        let start = try #require(Self.format.range(of: "\n## 8. Writer rules\n"))
        let end = try #require(Self.format.range(of: "\n## 9. ", range: start.upperBound..<Self.format.endIndex))
        let section = Self.format[start.upperBound..<end.lowerBound]
        let head = try #require(section.range(of: "- **What \"byte-identical\" depends on**: "))
        let rest = section[head.upperBound...]
        let item = rest[..<(rest.range(of: "\n- ")?.lowerBound ?? rest.endIndex)]
        let text = item.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        let ownCode: Set<BlobEncoding> = [.fast, .none], callsZlib: Set<BlobEncoding> = [.small, .zlib]
        #expect(ownCode.union(callsZlib) == Set(BlobEncoding.allCases), "an encoding §8 does not place")
        #expect(text.hasPrefix("`fast` and `none` write every bit with tt-ckpt's own code, so their files are the same on any machine and with any zlib."), "\(text)")
        #expect(text.contains("`small` and `zlib` call the zlib library the writer is linked with"), "\(text)")
        #expect(text.contains("zlib-ng"))
        #expect(text.contains("other, equally valid streams for the same content"))
        #expect(text.contains("every reader, the raw CRCs, the `hash` digests and the model digest are the same"))
    }

    /// TRAINING.md names both parameter limits the binary applies (the format's 2^31, first,
    /// and init's 2^27), with the binary's own words.
    @Test func parameterLimitsInTrainingMDAreTheBinarys() throws {
        let training = try String(contentsOfFile: TestPaths.path("spec/TRAINING.md"), encoding: .utf8)
        let dir = try TemporaryDirectory("limits")
        // 4096² × 4 × 64 layers: above 2^31. D 2048, 8 layers: about 2^28.
        for (args, limit) in [(["--d-model", "4096", "--layers", "64"], "is more than the limit 2147483648"),
                              (["--d-model", "2048", "--layers", "8"], "is more than init's limit of 134217728")] {
            let r = try CLIRunner.run(["init", dir.path("x.ttc")] + args)
            #expect(r.status == 2 && r.stderr.contains(limit), "\(r.stderr)")
            #expect(training.contains("parameters " + limit), "TRAINING.md lacks '\(limit)'")
        }
    }
}
