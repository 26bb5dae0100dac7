import Foundation
@testable import TTAnalysis
@testable import TTCore
@testable import TTFormat

/// Checkpoints built directly from a `ParameterLayout` (no engine): parameters drawn from
/// a seeded CPython generator, moments from other draws, so every tensor differs.
enum AnalysisFixtures {
    static func checkpoint(config: ModelConfig = .tutorial, vocabulary: Vocabulary = .tutorial,
                           seed: UInt64 = 1, step: Int = 3) -> Checkpoint {
        var rng = PythonRandom(seed: seed)
        let layout = ParameterLayout(config: config)
        var tensors: [NamedTensor] = []
        for role in [TensorRole.parameter, .adamM, .adamV] {
            for slot in layout.slots {
                var values = (0..<slot.count).map { _ in Float(rng.gauss(mu: 0, sigma: 0.1)) }
                if role == .adamV { values = values.map { $0 * $0 } }
                tensors.append(NamedTensor(name: role.namePrefix + slot.name, role: role, shape: slot.shape, values: values))
            }
        }
        var training = TrainingState(rng: PythonRandom(seed: seed).state)
        training.step = step
        training.tokensSeen = step * 4
        training.seed = seed
        training.lossHistory = (0..<step).map { 1.8 - 0.1 * Float($0) }
        training.sessionStarts = [0]
        training.windowsDrawn = UInt64(step)
        training.data = DataIdentity(name: "builtin:tutorial", byteCount: 0, tokenCount: 6,
                                     sha256: String(repeating: "ab", count: 32))
        return Checkpoint(config: config, vocabulary: vocabulary, training: training, tensors: tensors)
    }

    /// A unique empty directory for one test.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("tt-ckpt-analysis-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// An in-memory `CheckpointSource` that records the order tensors are loaded in, and can
/// be told to fail on one tensor.
final class MemorySource: CheckpointSource {
    let path: String
    let formatVersion: (major: UInt16, minor: UInt16)
    let toolVersion: String
    let config: ModelConfig
    let vocabulary: Vocabulary
    let training: TrainingState
    let entries: [TensorEntry]
    private let values: [String: [Float]]
    var failOn: String?
    /// Shared log of loads: "path:name".
    let log: LoadLog

    final class LoadLog { var loads: [String] = [] }

    init(_ c: Checkpoint, path: String, toolVersion: String = TTCkptVersion.string,
         formatVersion: (UInt16, UInt16) = (1, 0), log: LoadLog = LoadLog()) {
        self.path = path
        self.formatVersion = formatVersion
        self.toolVersion = toolVersion
        config = c.config
        vocabulary = c.vocabulary
        training = c.training
        entries = c.tensors.map {
            TensorEntry(name: $0.name, role: $0.role, dtype: .f32, shape: $0.shape, compression: .zlib, filter: .none,
                        offset: 0, storedLength: 0, rawLength: UInt64($0.values.count * 4), rawCRC32: 0, storedCRC32: 0)
        }
        var values: [String: [Float]] = [:]
        for t in c.tensors { values[t.name] = t.values }
        self.values = values
        self.log = log
    }

    func loadTensor(_ entry: TensorEntry) throws -> [Float] {
        log.loads.append("\(path):\(entry.name)")
        if entry.name == failOn { throw FormatError(path: path, message: "tensor \(entry.name): stored CRC mismatch") }
        return values[entry.name]!
    }
}
