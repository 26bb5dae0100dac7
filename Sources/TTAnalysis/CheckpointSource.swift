import TTCore
import TTFormat
/// What inspect and diff need from a checkpoint: the header fields, the tensor directory,
/// and loading one tensor at a time. `CheckpointReader` is the real one; tests may use an
/// in-memory source.
public protocol CheckpointSource: AnyObject {
    var path: String { get }
    var formatVersion: (major: UInt16, minor: UInt16) { get }
    var toolVersion: String { get }
    var config: ModelConfig { get }
    var vocabulary: Vocabulary { get }
    var training: TrainingState { get }
    var entries: [TensorEntry] { get }
    /// The values of one tensor (row-major, `entry.elementCount` of them), with every
    /// integrity check the source can make.
    func loadTensor(_ entry: TensorEntry) throws -> [Float]
}

extension CheckpointReader: CheckpointSource {}

/// Which tensors a command looks at, by role.
public enum RoleFilter: String, CaseIterable, Sendable {
    /// Model parameters only.
    case params
    /// The AdamW moments (adam_m, adam_v) only.
    case adam
    /// Every tensor, `other` role included.
    case all

    public func includes(_ role: TensorRole) -> Bool {
        switch self {
        case .params: return role == .parameter
        case .adam: return role == .adamM || role == .adamV
        case .all: return true
        }
    }
}
