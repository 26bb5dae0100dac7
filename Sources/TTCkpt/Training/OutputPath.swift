#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks on a path a command is about to write, done before any work so a bad path costs
/// nothing and leaves nothing behind.
public enum OutputPath {
    /// - Parameter overwrite: whether an existing regular file may be replaced.
    /// - Throws: `InputError(path, ...)`: a directory, an existing file without `overwrite`,
    ///   a missing or non-directory parent, or a parent that is not writable.
    public static func check(_ path: String, overwrite: Bool, forceHint: String? = "--force") throws {
        guard !path.isEmpty else { throw InputError("output", "empty path") }
        var info = stat()
        if stat(path, &info) == 0 {
            if (info.st_mode & S_IFMT) == S_IFDIR { throw InputError(path, "is a directory, not a file") }
            guard (info.st_mode & S_IFMT) == S_IFREG else { throw InputError(path, "exists and is not a regular file") }
            if !overwrite {
                throw InputError(path, "already exists" + (forceHint.map { " (use \($0) to overwrite)" } ?? ""))
            }
        }
        let parent: String
        if let slash = path.lastIndex(of: "/") {
            parent = slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            parent = "."
        }
        var dirInfo = stat()
        guard stat(parent, &dirInfo) == 0 else { throw InputError(path, "cannot write here: \(parent): \(systemReason(errno))") }
        guard (dirInfo.st_mode & S_IFMT) == S_IFDIR else { throw InputError(path, "cannot write here: \(parent) is not a directory") }
        guard access(parent, W_OK) == 0 else { throw InputError(path, "cannot write here: \(parent): \(systemReason(errno))") }
    }
}

/// Bounds on training options that size allocations.
public enum TrainingLimits {
    public static let maxBatchSize = 512
    /// Tokens per step, B·T: activations are allocated for this many positions.
    public static let maxBatchTokens = 1 << 14
    public static let maxSteps = 100_000_000

    /// Floats of activations a training model may allocate (`Model.activationCount`): 1 GiB.
    public static let maxActivationFloats = 1 << 28

    /// Checks B alone (before a checkpoint is read).
    /// - Throws: `InputError(subject, ...)` when B is out of 1...maxBatchSize.
    public static func checkBatchSize(_ batchSize: Int, subject: String) throws {
        guard batchSize >= 1 else { throw InputError(subject, "must be at least 1, got \(batchSize)") }
        guard batchSize <= maxBatchSize else { throw InputError(subject, "must be at most \(maxBatchSize), got \(batchSize)") }
    }

    /// Checks B for a model: the range, B·T, and the activation memory it implies.
    /// - Throws: `InputError(subject, ...)` naming the bound exceeded.
    public static func checkBatchSize(_ batchSize: Int, config: ModelConfig, subject: String) throws {
        try checkBatchSize(batchSize, subject: subject)
        let context = config.context
        guard batchSize * context <= maxBatchTokens else {
            throw InputError(subject, "\(batchSize) sequences × context \(context) = \(batchSize * context) tokens per step is more than the limit \(maxBatchTokens)")
        }
        let floats = Model.activationCount(config: config, maxBatchSize: batchSize)
        guard floats <= maxActivationFloats else {
            throw InputError(subject, "\(batchSize) sequences of this model need \(floats / (1 << 18)) MiB of activations, more than the limit \(maxActivationFloats / (1 << 18)) MiB")
        }
    }
}
