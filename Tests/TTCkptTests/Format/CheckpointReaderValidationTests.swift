import Foundation
import Testing
@testable import TTCore
@testable import TTFormat

/// One handcrafted file per reader rule; each must fail with its own error kind and a
/// one-line message naming the file and the field or tensor.
@Suite struct CheckpointReaderValidationTests {
    static let base = FormatFixtures.checkpoint()

    /// Patches byte `field` (0 role, 1 dtype, 2 compression, 3 filter, 4 rank) of the
    /// first directory entry ("tok_emb", 7-byte name).
    static func patchedFirstEntry(_ field: Int, _ value: UInt8) -> [UInt8] {
        var f = CraftedFile(base)
        var dir = encodeDirectory(f.placedEntries())
        dir[8 + 4 + 7 + field] = value
        f.dirBytes = dir
        return f.bytes()
    }

    static func preamble(headerLength: UInt64, headerCRC: UInt32 = 0) -> [UInt8] {
        var w = ByteWriter()
        w.append(TTCFormat.magic)
        w.u16(1); w.u16(0); w.u32(0)
        w.u64(headerLength)
        w.u32(headerCRC)
        w.u32(crc32Of(w.bytes))
        return w.bytes
    }

    /// (expected kind, what the message must mention, file bytes)
    static func cases() -> [(FormatError.Kind, String, [UInt8])] {
        let good = CraftedFile(base).bytes()
        var c: [(FormatError.Kind, String, [UInt8])] = []
        func add(_ k: FormatError.Kind, _ mention: String, _ b: [UInt8]) { c.append((k, mention, b)) }
        func crafted(_ change: (inout CraftedFile) -> Void) -> [UInt8] {
            var f = CraftedFile(base)
            change(&f)
            return f.bytes()
        }

        add(.truncated, "preamble", Array(good[0..<20]))
        add(.notTTC, "magic", Array("just some text, not a checkpoint at all".utf8))
        add(.unsupportedVersion, "version 2", crafted { $0.major = 2 })
        add(.preambleCRC, "preamble CRC", { var b = good; b[29] ^= 1; return b }())
        add(.reservedField, "reserved", crafted { $0.reserved = 1 })
        add(.headerTooLarge, "header length", preamble(headerLength: 1 << 40) + [UInt8](repeating: 0, count: 64))
        add(.headerOutOfFile, "header length", preamble(headerLength: UInt64(good.count)) + Array(good[32...]))
        add(.headerCRC, "header CRC", { var b = good; b[40] ^= 0x10; return b }())
        add(.malformedSection, "section", {
            // A section header claiming more bytes than the header holds.
            var f = CraftedFile(base)
            f.extraSections = [(0x5441_5858, [1, 2, 3])]
            var h = f.header()
            let at = h.count - 3 - 8
            h.replaceSubrange(at..<(at + 8), with: [0xff, 0, 0, 0, 0, 0, 0, 0])
            return preamble(headerLength: UInt64(h.count), headerCRC: crc32Of(h)) + h
        }())
        add(.unknownCriticalSection, "section 'XXAT' is critical", crafted { $0.extraSections = [(0x5441_5858, [1, 2, 3])] })
        add(.missingSection, "TDIR", crafted { $0.sectionOrder = [TTCFormat.metadataTag] })
        add(.duplicateSection, "META", crafted { $0.sectionOrder = [TTCFormat.metadataTag, TTCFormat.directoryTag, TTCFormat.metadataTag] })
        add(.malformedMetadata, "data.name", crafted { f in f.meta.swapAt(1, 2) })
        add(.missingKey, "optim.beta2", crafted { $0.setMeta(MetaKey.beta2, nil) })
        add(.wrongType, "model.d_model", crafted { $0.setMeta(MetaKey.dModel, .string("16")) })
        add(.invalidValue, "model.n_heads", crafted { $0.setMeta(MetaKey.nHeads, .u64(3)) })
        add(.malformedDirectory, "tensor directory", crafted { f in
            // One unused byte at the end of TDIR (offsets shifted so placement still holds).
            var placed = f.placedEntries()
            for i in placed.indices { placed[i].offset += 1 }
            f.dirBytes = encodeDirectory(placed) + [0]
        })
        add(.tooManyTensors, "cap", crafted { f in
            var d = encodeDirectory(f.placedEntries())
            d.replaceSubrange(0..<8, with: [0, 0, 0x20, 0, 0, 0, 0, 0])  // 2^21
            f.dirBytes = d
        })
        add(.badName, "tensor #0", crafted { $0.entries[0].name = "" })
        add(.duplicateName, "tensor 'pos_emb'", crafted { $0.entries[2].name = "pos_emb" })
        add(.badRole, "tensor 'tok_emb'", patchedFirstEntry(0, 9))
        // An unknown dtype, compression or filter code fails the loading of that tensor only
        // (FormatEvolutionTests checks the three codes and what still works).
        add(.unsupportedEncoding, "tensor 'tok_emb': dtype 7 is not known", patchedFirstEntry(1, 7))
        add(.badRank, "tensor 'tok_emb'", patchedFirstEntry(4, 9))
        add(.badDimension, "tensor 'tok_emb'", crafted { $0.entries[0].shape = [6, 0] })
        add(.sizeOverflow, "tensor 'tok_emb'", crafted { $0.entries[0].shape = [1 << 40, 1 << 40] })
        add(.rawLengthMismatch, "tensor 'tok_emb'", crafted { $0.entries[0].rawLength += 4 })
        add(.expansionRatio, "tensor 'tok_emb'", crafted { f in
            f.entries[0].shape = [1 << 28]
            f.entries[0].rawLength = 1 << 30
        })
        add(.blobOutOfFile, "tensor 'adam_v.lm_head'", crafted { f in f.entries[f.entries.count - 1].storedLength += 100 })
        add(.blobPlacement, "tensor 'pos_emb'", crafted { f in
            let placed = f.placedEntries()
            f.fixOffsets = false
            f.entries = placed
            f.entries[1].offset -= 1
        })
        add(.trailingBytes, "after the last blob", crafted { $0.trailing = [0] })
        add(.storedCRC, "tensor 'tok_emb'", { var b = good; b[b.count - 1 - CraftedFile(base).blobs.dropFirst().reduce(0) { $0 + $1.count }] ^= 1; return b }())
        add(.rawCRC, "tensor 'pos_emb'", crafted { $0.entries[1].rawCRC32 ^= 1 })
        add(.rawDigest, "tensor 'pos_emb': SHA-256 mismatch", crafted { $0.digests![1][0] ^= 1 })
        add(.corruptStream, "tensor 'tok_emb'", crafted { f in
            f.blobs[0] = [UInt8](repeating: 0xAB, count: 40)
            f.entries[0].storedLength = 40
            f.entries[0].storedCRC32 = crc32Of(f.blobs[0])
        })
        let tokRaw = littleEndianBytes(base.tensors[0].values)
        add(.inflateTooLong, "more than the raw length", crafted { $0.restream(0, tokRaw + [1, 2, 3, 4], level: 6) })
        add(.inflateTooShort, "less than the raw length", crafted { $0.restream(0, Array(tokRaw.dropLast(4)), level: 6) })
        add(.missingTensor, "adam_v.lm_head", crafted { f in
            f.entries.removeLast()
            f.blobs.removeLast()
            f.digests!.removeLast()
        })
        add(.unexpectedTensor, "tensor 'adam_m.extra'", crafted { f in
            f.entries.append(f.entries[0])
            f.entries[f.entries.count - 1].name = "adam_m.extra"
            f.entries[f.entries.count - 1].role = .adamM
            f.blobs.append(f.blobs[0])
            f.digests!.append(f.digests![0])
        })
        add(.tensorShape, "tensor 'tok_emb'", crafted { $0.entries[0].shape = [16, 6] })
        return c
    }

    @Test func eachRuleHasItsOwnErrorKind() {
        let cases = Self.cases()
        for (kind, mention, bytes) in cases {
            let e = FormatFixtures.readError(bytes, name: "bad.ttc")
            #expect(e?.kind == kind, "case \(kind): got \(String(describing: e))")
            if let e {
                #expect(e.description.hasPrefix("bad.ttc: "))
                #expect(e.description.contains(mention), "case \(kind): '\(e.description)' should mention '\(mention)'")
                #expect(!e.description.contains("\n"))
            }
        }
        // Every reader-side kind is produced by some handcrafted file (io, unknownEntry and
        // the writer's kinds are covered by their own tests below).
        let covered = Set(cases.map(\.0))
        let untested = Set(FormatError.Kind.allCases).subtracting(covered)
        #expect(untested == [.io, .unknownEntry, .invalidCheckpoint, .writeFailed, .other])
        #expect(cases.count == covered.count)  // no kind is counted twice
    }

    @Test func moreStreamDefectsAreCaught() {
        // Each of these is a different way to break the zlib stream with the CRCs fixed up.
        let tokRaw = littleEndianBytes(Self.base.tensors[0].values)
        let stream = zlibCompress(tokRaw, level: 6)
        let variants: [(FormatError.Kind, [UInt8])] = [
            (.inflateTooShort, Array(stream.dropLast(3))),            // cut inside the Adler-32
            (.inflateTooShort, Array(stream.prefix(stream.count / 2))), // cut inside the deflate data
            (.corruptStream, stream + [0]),                           // a byte after the stream's end
            (.corruptStream, { var s = stream; s[s.count - 1] ^= 1; return s }()),  // Adler-32 wrong
            (.corruptStream, { var s = stream; s[0] = 0x79; return s }()),          // bad CMF/FLG check
        ]
        for (kind, blob) in variants {
            var f = CraftedFile(Self.base)
            f.blobs[0] = blob
            f.entries[0].filter = .none
            f.entries[0].storedLength = UInt64(blob.count)
            f.entries[0].storedCRC32 = crc32Of(blob)
            let e = FormatFixtures.readError(f.bytes())
            #expect(e?.kind == kind, "\(String(describing: e))")
        }
    }

    @Test func semanticChecksNameTheField() {
        let cases: [(String, MetaValue?, String)] = [
            (MetaKey.vocabTokens, .stringArray(["a", "b"]), "vocab.tokens"),
            (MetaKey.rngWords, .u32Array([UInt32](repeating: 0, count: 624)), "rng.words"),
            (MetaKey.rngWords, .u32Array([1, 2, 3]), "rng.words"),
            (MetaKey.rngIndex, .u64(625), "rng.index"),
            (MetaKey.rngGaussNext, .f64(.nan), "rng.gauss_next"),
            (MetaKey.beta1, .f64(1.0), "optim.beta1"),
            (MetaKey.learningRate, .f64(-1), "optim.lr"),
            (MetaKey.schedule, .string("linear"), "optim.schedule"),
            (MetaKey.arch, .string("rnn"), "model.arch"),
            (MetaKey.vocabKind, .string("sentencepiece"), "vocab.kind"),
            (MetaKey.lossHistory, .f32Array([1]), "train.loss_history"),
            (MetaKey.sessionStarts, .u64Array([2, 1]), "train.session_starts"),
            (MetaKey.batchSize, .u64(0), "train.batch_size"),
            (MetaKey.step, .u64(UInt64.max), "train.step"),
            (MetaKey.dataSHA256, .string("XYZ"), "data.sha256"),
            (MetaKey.dataName, nil, "data.name"),
            (MetaKey.toolVersion, nil, "format.tool_version"),
        ]
        for (key, value, mention) in cases {
            var f = CraftedFile(Self.base)
            f.setMeta(key, value)
            let e = FormatFixtures.readError(f.bytes())
            #expect(e != nil && e!.description.contains(mention), "\(key): \(String(describing: e))")
            #expect([FormatError.Kind.invalidValue, .missingKey].contains(e?.kind))
        }
    }

    // MARK: Issue 11 #17: the spec's answers to its silent or ambiguous spots

    /// Byte offset of entry `i` in an encoded TDIR payload (spec §4: 41 + name + 8 × rank bytes each).
    static func entryOffset(_ entries: [TensorEntry], _ i: Int) -> Int {
        8 + entries[..<i].reduce(0) { $0 + 41 + $1.name.utf8.count + 8 * $1.shape.count }
    }

    /// §4: an entry that runs past the end of the TDIR payload is `malformedDirectory`,
    /// named by its name once read, else as `tensor #i`; a name length within the 1024-byte
    /// cap that runs past the payload is such an entry, one above the cap is `badName`.
    @Test func directoryEntriesRunningPastThePayload() {
        // Cut in its fixed fields: the last entry loses its stored CRC-32 (offsets moved
        // back by the 4 bytes, so every earlier entry is placed right).
        var cut = CraftedFile(Self.base)
        var placed = cut.placedEntries()
        for i in placed.indices { placed[i].offset -= 4 }
        cut.dirBytes = Array(encodeDirectory(placed).dropLast(4))
        let e1 = FormatFixtures.readError(cut.bytes(), name: "bad.ttc")
        #expect(e1?.kind == .malformedDirectory)
        #expect(e1?.description == "bad.ttc: tensor 'adam_v.lm_head': entry runs past the end of the tensor directory",
                "\(String(describing: e1))")
        // The last entry's name length says 1024 (the cap) but fewer bytes are left.
        let last = Self.base.tensors.count - 1
        func withNameLength(_ n: UInt32) -> [UInt8] {
            var f = CraftedFile(Self.base)
            let entries = f.placedEntries()
            var dir = encodeDirectory(entries)
            let at = Self.entryOffset(entries, last)
            #expect(le32(dir, at) == UInt32("adam_v.lm_head".utf8.count))
            dir.replaceSubrange(at..<(at + 4), with: withUnsafeBytes(of: n.littleEndian, Array.init))
            f.dirBytes = dir
            return f.bytes()
        }
        let e2 = FormatFixtures.readError(withNameLength(1024), name: "bad.ttc")
        #expect(e2?.kind == .malformedDirectory)
        #expect(e2?.description == "bad.ttc: tensor #\(last): entry runs past the end of the tensor directory",
                "\(String(describing: e2))")
        let e3 = FormatFixtures.readError(withNameLength(1025), name: "bad.ttc")
        #expect(e3?.kind == .badName)
        #expect(e3?.description == "bad.ttc: tensor #\(last): name length 1025 exceeds the cap 1024", "\(String(describing: e3))")
    }

    /// §3.2: the u64 keys listed under "The 2^63 − 1 cap" are `invalidValue` at 2^63 with
    /// "value V is out of range" (an element of train.session_starts: "element I is out of
    /// range"); `train.seed` and `train.windows_drawn` take any u64.
    @Test func theCapOnU64KeysAndTheKeysWithout() throws {
        let above: UInt64 = 1 << 63
        for key in [MetaKey.dModel, MetaKey.context, MetaKey.warmupSteps, MetaKey.decaySteps, MetaKey.rngIndex,
                    MetaKey.step, MetaKey.tokensSeen, MetaKey.batchSize, MetaKey.dataByteCount, MetaKey.dataTokenCount] {
            var f = CraftedFile(Self.base)
            f.setMeta(key, .u64(above))
            let e = FormatFixtures.readError(f.bytes(), name: "bad.ttc")
            #expect(e?.kind == .invalidValue, "\(key)")
            #expect(e?.description == "bad.ttc: metadata key '\(key)': value 9223372036854775808 is out of range", "\(String(describing: e))")
        }
        var starts = CraftedFile(Self.base)
        starts.setMeta(MetaKey.sessionStarts, .u64Array([0, above]))
        let e = FormatFixtures.readError(starts.bytes(), name: "bad.ttc")
        #expect(e?.kind == .invalidValue)
        #expect(e?.description == "bad.ttc: metadata key 'train.session_starts': element 1 is out of range", "\(String(describing: e))")
        // 2^63 − 1 itself passes the cap (train.step then fails the loss-history rule of §3.3, a range).
        var top = CraftedFile(Self.base)
        top.setMeta(MetaKey.step, .u64(above - 1))
        #expect(FormatFixtures.readError(top.bytes(), name: "bad.ttc")?.description
                == "bad.ttc: metadata key 'train.loss_history': 3 losses for 9223372036854775807 steps; there is one loss per step")
        // No cap on these two: the largest u64 reads back as it is.
        var f = CraftedFile(Self.base)
        f.setMeta(MetaKey.seed, .u64(.max))
        f.setMeta(MetaKey.windowsDrawn, .u64(.max))
        let c = try CheckpointReader(bytes: f.bytes(), name: "ok.ttc").readCheckpoint()
        #expect(c.training.seed == .max)
        #expect(c.training.windowsDrawn == .max)
    }

    /// §1: two preamble faults in one file; the earlier step of §1's list is reported,
    /// for each pair of adjacent steps.
    @Test func twoPreambleFaultsGiveTheEarlierStepsError() {
        let good = CraftedFile(Self.base).bytes()
        /// A preamble with these fields, its CRC right unless `badCRC`, then `rest`.
        func file(major: UInt16 = 1, reserved: UInt32 = 0, headerLength: UInt64? = nil, headerCRC: UInt32? = nil,
                  badCRC: Bool = false, rest: [UInt8] = Array(good[32...])) -> [UInt8] {
            var w = ByteWriter()
            w.append(TTCFormat.magic)
            w.u16(major); w.u16(TTCFormat.minor); w.u32(reserved)
            w.u64(headerLength ?? le64(good, 16))
            w.u32(headerCRC ?? le32(good, 24))
            w.u32(crc32Of(w.bytes) ^ (badCRC ? 1 : 0))
            return w.bytes + rest
        }
        let header = Int(le64(good, 16))
        let cases: [(String, [UInt8], FormatError.Kind, String)] = [
            ("1 magic + 2 size", Array("PK\u{3}".utf8), .notTTC, "not a .ttc file (bad magic bytes)"),
            ("2 size + 3 major", Array(file(major: 2).prefix(20)), .truncated, "truncated: 20 bytes is shorter than the 32-byte preamble"),
            ("3 major + 4 preamble CRC", file(major: 2, badCRC: true), .unsupportedVersion,
             "format version 2.\(TTCFormat.minor) is not supported (this tt-ckpt reads major version 1 only)"),
            ("4 preamble CRC + 5 reserved", file(reserved: 1, badCRC: true), .preambleCRC, "preamble CRC-32 mismatch"),
            ("5 reserved + 6 header cap", file(reserved: 1, headerLength: 1 << 40), .reservedField, "preamble reserved field is 1, must be 0"),
            ("6 header cap + 7 header in file", file(headerLength: 1 << 40), .headerTooLarge, "header length 1099511627776 exceeds the cap 268435456"),
            ("7 header in file + 8 header CRC", file(headerLength: UInt64(good.count), headerCRC: 0), .headerOutOfFile,
             "header length \(good.count) runs past the end of the file (\(good.count) bytes)"),
            ("8 header CRC + later", file(headerCRC: 0, rest: Array(good[32...]) + [0]), .headerCRC, "header CRC-32 mismatch"),
        ]
        #expect(header < good.count)
        for (pair, bytes, kind, message) in cases {
            let e = FormatFixtures.readError(bytes, name: "bad.ttc")
            #expect(e?.kind == kind, "\(pair): \(String(describing: e))")
            #expect(e?.description.hasPrefix("bad.ttc: " + message) == true, "\(pair): \(String(describing: e))")
        }
    }

    /// §4.1: one tensor with both a wrong role and a wrong shape is `unexpectedTensor` (the
    /// role is checked first); a file with one tensor missing and another unexpected is
    /// `unexpectedTensor` (the missing ones are reported after the pass).
    @Test func tensorSetPrecedence() {
        var both = CraftedFile(Self.base)
        both.entries[0].role = .adamM
        both.entries[0].shape = [16, 6]  // tok_emb is (6, 16): the same raw length
        let e1 = FormatFixtures.readError(both.bytes(), name: "bad.ttc")
        #expect(e1?.kind == .unexpectedTensor)
        #expect(e1?.description == "bad.ttc: tensor 'tok_emb': role adam_m, expected parameter", "\(String(describing: e1))")
        // tok_emb (first in canonical order) missing; 'extra' (role parameter) last in the file.
        var swapped = CraftedFile(Self.base)
        var extra = swapped.entries.removeFirst()
        extra.name = "extra"
        swapped.entries.append(extra)
        swapped.blobs.append(swapped.blobs.removeFirst())
        swapped.digests!.append(swapped.digests!.removeFirst())
        let e2 = FormatFixtures.readError(swapped.bytes(), name: "bad.ttc")
        #expect(e2?.kind == .unexpectedTensor)
        #expect(e2?.description == "bad.ttc: tensor 'extra': role parameter but not a tensor of this config", "\(String(describing: e2))")
        // Without the unexpected one, the missing one is reported.
        swapped.entries.removeLast()
        swapped.blobs.removeLast()
        swapped.digests!.removeLast()
        let e3 = FormatFixtures.readError(swapped.bytes(), name: "bad.ttc")
        #expect(e3?.kind == .missingTensor)
        #expect(e3?.description == "bad.ttc: tensor 'tok_emb': missing (parameter of this config)", "\(String(describing: e3))")
    }

    @Test func metadataStructureRules() {
        // Raw META payloads: each breaks one structural rule.
        func meta(_ build: (inout ByteWriter) -> Void) -> [UInt8] {
            var w = ByteWriter()
            build(&w)
            return w.bytes
        }
        let payloads: [[UInt8]] = [
            meta { $0.u64(1); $0.string("a"); $0.u8(42); $0.u32(0) },                 // unknown type
            meta { $0.u64(1); $0.string("a"); $0.u8(5); $0.u8(2) },                   // bool byte 2
            meta { $0.u64(1); $0.string("a"); $0.u8(7); $0.u8(7); $0.u64(0) },        // nested array
            meta { $0.u64(1); $0.string("a"); $0.u8(7); $0.u8(2); $0.u64(1 << 60) },  // array count too big
            meta { $0.u64(1); $0.u32(2); $0.append([0xC3, 0x28]); $0.u8(0); $0.u32(0) },  // key not UTF-8
            meta { $0.u64(1); $0.string(""); $0.u8(0); $0.u32(0) },                   // empty key
            meta { $0.u64(1); $0.string(String(repeating: "k", count: 300)); $0.u8(0); $0.u32(0) },  // key too long
            meta { $0.u64(2); $0.string("a"); $0.u8(0); $0.u32(0); $0.string("a"); $0.u8(0); $0.u32(0) },  // duplicate
            meta { $0.u64(1); $0.string("a"); $0.u8(6); $0.u32(5); $0.append([0x61]) },  // string past end
            meta { $0.u64(1 << 40) },                                                  // key count
            meta { $0.u64(0); $0.u8(0) },                                              // unused byte
        ]
        for p in payloads {
            var f = CraftedFile(Self.base)
            f.metaBytes = p
            let e = FormatFixtures.readError(f.bytes())
            #expect(e?.kind == .malformedMetadata, "\(p.prefix(24)): \(String(describing: e))")
        }
    }

    @Test func namesFromTheFileAreEscapedInMessages() {
        var f = CraftedFile(Self.base)
        f.entries[0].name = "evil\nname\u{1b}[31m"
        let e = FormatFixtures.readError(f.bytes())
        #expect(e?.kind == .unexpectedTensor)
        #expect(e?.description.contains("'evil\\nname\\u{1b}[31m'") == true, "\(String(describing: e))")
    }

    @Test func fileSystemProblemsAreIOErrors() throws {
        let dir = FormatFixtures.tempDirectory()
        for path in [dir + "/missing.ttc", dir] {
            #expect { try CheckpointReader(path: path) } throws: { e in
                (e as? FormatError)?.kind == .io && (e as? FormatError)?.path == path
            }
        }
        FormatFixtures.writeBytes([], to: dir + "/empty.ttc")
        #expect { try CheckpointReader(path: dir + "/empty.ttc") } throws: { ($0 as? FormatError)?.kind == .truncated }
    }

    @Test func loadTensorRejectsForeignEntries() throws {
        let reader = try CheckpointReader(bytes: try CheckpointWriter.encodedBytes(Self.base), name: "x")
        var fake = reader.entries[0]
        fake.storedLength = 1 << 40
        #expect { try reader.loadTensor(fake) } throws: { ($0 as? FormatError)?.kind == .unknownEntry }
    }

    @Test func writerRefusesInvalidCheckpoints() {
        var c = Self.base
        c.tensors[0].values.removeLast()
        var bad = Self.base
        bad.training.rng.index = 700
        var missing = Self.base
        missing.tensors.removeLast()
        var level = WriteOptions()
        level.level = 10
        let dir = FormatFixtures.tempDirectory()
        for (checkpoint, options, mention) in [(c, WriteOptions(), "tok_emb"), (bad, WriteOptions(), "rng.index"),
                                               (missing, WriteOptions(), "adam_v.lm_head"), (Self.base, level, "level")] {
            #expect { try CheckpointWriter.write(checkpoint, to: dir + "/w.ttc", options: options) } throws: { e in
                let f = e as? FormatError
                return f?.kind == .invalidCheckpoint && f!.description.contains(mention)
            }
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/w.ttc"))
        #expect(AtomicWrite.temporaryFiles(for: dir + "/w.ttc").isEmpty)
    }
}
