import Foundation
import Testing
@testable import TTCore
@testable import TTFormat
@testable import TTInterop

/// Issue 11 #21: the deterministic counterpart of the safetensors fuzz target, in every
/// `swift test` run: mutations of the committed seeds (Tests/Fuzz/safetensors-corpus) — byte
/// flips, edits of the header-length field, JSON text edits at the places that hold numbers,
/// truncations and extensions — each read, every tensor loaded, and imported. Each case
/// must end in an error whose description is one line naming the file, or in a file whose
/// tensors load with the sizes their headers give and whose import the .ttc writer accepts
/// (the importer applies the reader's content rules). A trap ends the test process.
@Suite struct SafetensorsMutationTests {
    static func seeds() throws -> [(String, [UInt8])] {
        let dir = TestPaths.path("Tests/Fuzz/safetensors-corpus")
        return try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".safetensors") }.sorted()
            .map { ($0, FormatFixtures.readBytes(dir + "/" + $0)) }
    }

    enum Outcome { case rejected, read, imported }

    static func check(_ bytes: [UInt8], path: String, _ label: String) -> Outcome {
        FormatFixtures.writeBytes(bytes, to: path)
        func oneLine(_ e: Error) {
            let text = "\(e)"
            #expect(!text.contains("\n") && text.hasPrefix(path + ": "), "\(label): \(text)")
        }
        let file: SafetensorsFile
        do { file = try SafetensorsFile(path: path) } catch { oneLine(error); return .rejected }
        for t in file.tensors {
            do {
                let raw = try file.loadBytes(t)
                #expect(raw.count == t.byteCount, "\(label): \(t.name)")
                if t.dtype.isConvertibleToFloat { #expect(try file.loadFloats(t).count == t.elementCount, "\(label): \(t.name)") }
            } catch {
                oneLine(error)
            }
        }
        do {
            let checkpoint = try SafetensorsCheckpoint.importCheckpoint(file)
            do { _ = try CheckpointWriter.encodedBytes(checkpoint) } catch {
                Issue.record("\(label): import gave a checkpoint the writer refuses: \(error)")
            }
            return .imported
        } catch {
            oneLine(error)
            return .read
        }
    }

    @Test func mutationsOfTheSeeds() throws {
        let seeds = try Self.seeds()
        #expect(seeds.count >= 8)
        let dir = try TemporaryDirectory("st-mutations")
        let path = dir.path("m.safetensors")
        var rng = HostileMutationTests.SplitMix(state: 0x7361_6665_7465_6E73)  // "safetens"
        func pick(_ n: Int) -> Int { Int(rng.next() % UInt64(max(n, 1))) }
        var outcomes: [String: Int] = [:]
        func record(_ o: Outcome) { outcomes["\(o)", default: 0] += 1 }
        for (name, seed) in seeds {
            let n = seed.count
            let headerEnd = 8 + Int(min(HostileMutationTests.le(seed, 0, 8), UInt64(n - 8)))
            // Offsets of the ASCII digits in the header: shapes, offsets and metadata numbers.
            let digits = (8..<headerEnd).filter { (0x30...0x39).contains(seed[$0]) }
            for i in 0..<40 {
                var b = seed
                switch i % 5 {
                case 0:  // a flipped byte in the header
                    b[8 + pick(headerEnd - 8)] ^= UInt8(1 + pick(255))
                case 1:  // a digit changed, or a number made long
                    guard let at = digits.isEmpty ? nil : digits[pick(digits.count)] else { continue }
                    if pick(2) == 0 { b[at] = UInt8(0x30 + pick(10)) } else { b.insert(contentsOf: Array("99999999999".utf8), at: at) }
                    HostileMutationTests.store(&b, 0, 8, UInt64(headerEnd - 8 + (b.count - n)))
                case 2:  // the header length set to an edge value
                    let values: [UInt64] = [0, 1, 2, UInt64(n), UInt64(n - 8), UInt64(n - 7), UInt64(headerEnd - 9), 1 << 40, .max]
                    HostileMutationTests.store(&b, 0, 8, values[pick(values.count)])
                case 3:  // truncated
                    b = Array(b[0..<pick(n)])
                default:  // extended
                    b += (0..<(1 + pick(64))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                }
                record(Self.check(b, path: path, "\(name) case \(i)"))
            }
        }
        print("SafetensorsMutationTests: \(outcomes)")
        #expect((outcomes["rejected"] ?? 0) > 0 && (outcomes["imported"] ?? 0) + (outcomes["read"] ?? 0) > 0)
    }
}

/// The committed fuzz corpora replay through the fuzz targets' replay tools (the same
/// check as under libFuzzer, in the debug build with every Swift check on), so an input that
/// once found a bug, or reached new code, keeps being run in CI.
@Suite struct FuzzCorpusReplayTests {
    static func tool(_ name: String) -> String {
        URL(fileURLWithPath: CLIRunner.binaryPath).deletingLastPathComponent().appendingPathComponent(name).path
    }

    /// Each committed fuzz corpus through its target's replay mode (`interop-fuzz` takes the
    /// format as its first argument): every input is handled without a finding.
    @Test(arguments: [("ttc-fuzz", "Tests/Fuzz/corpus"), ("safetensors-fuzz", "Tests/Fuzz/safetensors-corpus"),
                      ("interop-fuzz safetensors", "Tests/Fuzz/corpus-safetensors"), ("interop-fuzz gguf", "Tests/Fuzz/corpus-gguf")])
    func corpusReplays(_ command: String, _ corpus: String) throws {
        let words = command.split(separator: " ").map(String.init)
        let target = words[0]
        let binary = Self.tool(target)
        try #require(FileManager.default.isExecutableFile(atPath: binary), "\(binary) not built (swift build builds it)")
        let root = TestPaths.path(corpus)
        var files: [String] = []
        let walk = FileManager.default.enumerator(atPath: root)
        while let name = walk?.nextObject() as? String {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + name, isDirectory: &isDir), !isDir.boolValue, !name.hasSuffix(".md") {
                files.append(root + "/" + name)
            }
        }
        #expect(files.count >= 10)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = Array(words.dropFirst()) + files.sorted()
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(target) stopped: \(text.split(separator: "\n").last ?? "")")
        #expect(text.split(separator: "\n").filter { $0.hasSuffix("bytes)") && $0.contains(": ok (") }.count == files.count)
    }
}
