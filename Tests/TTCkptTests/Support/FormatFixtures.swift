import Foundation
import Testing
@testable import TTCore
@testable import TTFormat
@testable import TTTokenizer

/// Shared fixtures for the format tests: deterministic checkpoints, temp directories and a
/// builder for handcrafted (often invalid) files.
enum FormatFixtures {
    /// A checkpoint for `config` whose every field differs from its default, with
    /// deterministic pseudo-random tensors (the engine is not needed).
    static func checkpoint(config: ModelConfig = .tutorial, vocabulary: Vocabulary = .tutorial, seed: UInt64 = 42,
                           steps: Int = 3, gaussCached: Bool = true, withData: Bool = true) -> Checkpoint {
        var rng = PythonRandom(seed: seed)
        let layout = ParameterLayout(config: config)
        var tensors: [NamedTensor] = []
        for role in [TensorRole.parameter, .adamM, .adamV] {
            for slot in layout.slots {
                let values: [Float] = (0..<slot.count).map { _ in
                    let g = Float(rng.gauss(mu: 0, sigma: 0.02))
                    switch role {
                    case .parameter: return g
                    case .adamM: return 0.1 * g
                    default: return 0.001 * g * g
                    }
                }
                tensors.append(NamedTensor(name: role.namePrefix + slot.name, role: role, shape: slot.shape, values: values))
            }
        }
        var t = TrainingState(rng: PythonRandom(seed: seed &+ 1).state)
        var r2 = PythonRandom(seed: seed &+ 1)
        if gaussCached { _ = r2.gauss() }
        _ = r2.random()
        t.rng = r2.state
        t.step = steps
        t.tokensSeen = 1234 * steps
        t.seed = seed
        t.batchSize = 3
        t.optimizer.learningRate = 3e-4
        t.optimizer.beta1 = 0.85
        t.optimizer.beta2 = 0.995
        t.optimizer.epsilon = 1.5e-8
        t.optimizer.weightDecay = 0.1
        t.optimizer.exemptNormAndBias = true
        t.optimizer.gradClip = 1.0
        t.optimizer.schedule = .cosine
        t.optimizer.warmupSteps = 2
        t.optimizer.decaySteps = 100
        t.optimizer.minLRRatio = 0.05
        t.windowsDrawn = UInt64(3 * steps) + 7
        t.lossHistory = (0..<steps).map { Float(2.5) / Float($0 + 1) + 1e-7 }
        t.sessionStarts = steps > 1 ? [0, 1] : [0]
        if withData {
            t.data = DataIdentity(name: "builtin:tutorial", byteCount: 31, tokenCount: 9,
                                  sha256: String(repeating: "0123456789abcdef", count: 4))
        }
        return Checkpoint(config: config, vocabulary: vocabulary, training: t, tensors: tensors)
    }

    /// A fresh directory under the system temp dir, unique per call.
    static func tempDirectory() -> String {
        var template = Array((NSTemporaryDirectory() + "/ttc-format-XXXXXX").utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(p != nil)
        return String(cString: p!)
    }

    static func readBytes(_ path: String) -> [UInt8] {
        [UInt8](FileManager.default.contents(atPath: path) ?? Data())
    }

    static func writeBytes(_ bytes: [UInt8], to path: String) {
        precondition(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
    }

    /// Bit-exact comparison of two checkpoints (Floats and Doubles by bit pattern).
    static func bitExactlyEqual(_ a: Checkpoint, _ b: Checkpoint) -> Bool {
        guard a.config == b.config, a.vocabulary == b.vocabulary, a.tensors.count == b.tensors.count else { return false }
        let s = a.training, t = b.training
        let o = s.optimizer, p = t.optimizer
        let doubles = [o.learningRate, o.beta1, o.beta2, o.epsilon, o.weightDecay, o.gradClip, o.minLRRatio].map(\.bitPattern)
        let doubles2 = [p.learningRate, p.beta1, p.beta2, p.epsilon, p.weightDecay, p.gradClip, p.minLRRatio].map(\.bitPattern)
        guard doubles == doubles2, o.exemptNormAndBias == p.exemptNormAndBias, o.schedule == p.schedule,
              o.warmupSteps == p.warmupSteps, o.decaySteps == p.decaySteps else { return false }
        guard s.step == t.step, s.tokensSeen == t.tokensSeen, s.seed == t.seed, s.batchSize == t.batchSize,
              s.rng.words == t.rng.words, s.rng.index == t.rng.index,
              s.rng.gaussNext?.bitPattern == t.rng.gaussNext?.bitPattern, s.data == t.data,
              s.windowsDrawn == t.windowsDrawn, s.lossHistory.map(\.bitPattern) == t.lossHistory.map(\.bitPattern),
              s.sessionStarts == t.sessionStarts else { return false }
        for (x, y) in zip(a.tensors, b.tensors) {
            guard x.name == y.name, x.role == y.role, x.shape == y.shape,
                  x.values.map(\.bitPattern) == y.values.map(\.bitPattern) else { return false }
        }
        return true
    }

    /// The error a read of `bytes` gives (header, directory and every tensor, with its
    /// SHA-256 as `inspect --verify` checks it), or nil.
    static func readError(_ bytes: [UInt8], name: String = "t.ttc") -> FormatError? {
        do {
            let reader = try CheckpointReader(bytes: bytes, name: name)
            _ = try reader.readCheckpoint()
            for entry in reader.entries { _ = try reader.loadTensor(entry, checkingDigest: true) }
            return nil
        } catch let e as FormatError {
            return e
        } catch {
            Issue.record("non-FormatError thrown: \(error)")
            return nil
        }
    }
}

/// A .ttc file assembled from parts, for handcrafted files. Offsets are recomputed from
/// the parts unless `fixOffsets` is false; CRCs are always correct unless overridden.
struct CraftedFile {
    var major: UInt16 = 1
    var minor: UInt16 = TTCFormat.minor
    var reserved: UInt32 = 0
    var meta: [MetaItem]
    var entries: [TensorEntry]
    var blobs: [[UInt8]]
    /// Raw payload overrides for the two known sections.
    var metaBytes: [UInt8]? = nil
    var dirBytes: [UInt8]? = nil
    /// The `hash` section's digests (the writer's by default), one per entry in entry order:
    /// a test that adds or removes entries adds or removes digests too. nil: no `hash` section.
    var digests: [[UInt8]]?
    /// Raw payload override for the `hash` section.
    var digestBytes: [UInt8]? = nil
    /// Sections in order; nil means META, TDIR, then `hash` when `digests` is set.
    var sectionOrder: [UInt32]? = nil
    var extraSections: [(UInt32, [UInt8])] = []
    var fixOffsets = true
    var trailing: [UInt8] = []

    init(_ checkpoint: Checkpoint) {
        let image = try! CheckpointWriter.encode(checkpoint, path: "x", options: WriteOptions())
        meta = metadataItems(config: checkpoint.config, vocabulary: checkpoint.vocabulary, training: checkpoint.training)
        entries = image.entries
        blobs = image.blobs
        digests = image.digests
    }

    /// Replaces tensor `i`'s stream with zlib's of `raw` at `level`, filter none, and fixes
    /// its stored length and stored CRC (not its raw CRC: tests choose that).
    mutating func restream(_ i: Int, _ raw: [UInt8], level: Int32) {
        blobs[i] = zlibCompress(raw, level: level)
        entries[i].filter = .none
        entries[i].storedLength = UInt64(blobs[i].count)
        entries[i].storedCRC32 = crc32Of(blobs[i])
    }

    /// Replaces (or removes, with nil) a metadata item, keeping key order.
    mutating func setMeta(_ key: String, _ value: MetaValue?) {
        meta.removeAll { $0.key == key }
        if let value { meta.append(MetaItem(key, value)) }
        meta.sort { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
    }

    /// The entries with the offsets `bytes()` gives them (when `fixOffsets`).
    func placedEntries() -> [TensorEntry] {
        var entries = self.entries
        if fixOffsets {
            let length = encodeHeader(sections: sections(dirBytes ?? encodeDirectory(entries))).count
            var offset = UInt64(32 + length)
            for i in entries.indices {
                entries[i].offset = offset
                offset += entries[i].storedLength
            }
        }
        return entries
    }

    private func sections(_ dir: [UInt8]) -> [(UInt32, [UInt8])] {
        let metaPayload = metaBytes ?? encodeMetadata(meta)
        var s: [(UInt32, [UInt8])] = []
        let defaultOrder = [TTCFormat.metadataTag, TTCFormat.directoryTag] + (digests == nil && digestBytes == nil ? [] : [TTCFormat.digestTag])
        for tag in sectionOrder ?? defaultOrder {
            switch tag {
            case TTCFormat.metadataTag: s.append((tag, metaPayload))
            case TTCFormat.digestTag: s.append((tag, digestBytes ?? encodeDigests(digests ?? [])))
            default: s.append((tag, dir))
            }
        }
        return s + extraSections
    }

    func header() -> [UInt8] {
        encodeHeader(sections: sections(dirBytes ?? encodeDirectory(placedEntries())))
    }

    func bytes() -> [UInt8] {
        let h = header()
        var out = encodePreamble(major: major, minor: minor, header: h, reserved: reserved)
        out += h
        for b in blobs { out += b }
        return out + trailing
    }
}

/// Bitwise CRC-32 (reflected polynomial 0xEDB88320), written from the definition so tests
/// check the file's CRCs independently of zlib.
func referenceCRC32<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}

/// Little-endian field reads for independent parsing in tests.
func le64(_ b: [UInt8], _ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(b[at + $1]) << (8 * $1) } }
func le32(_ b: [UInt8], _ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(b[at + $1]) << (8 * $1) } }
func le16(_ b: [UInt8], _ at: Int) -> UInt16 { UInt16(b[at]) | UInt16(b[at + 1]) << 8 }
