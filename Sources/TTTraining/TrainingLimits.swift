import TTCore
import TTEngine
// Bounds on training options that size allocations (batch size, steps, activation memory).

/// Bounds on training options that size allocations.
public enum TrainingLimits {
    public static let maxBatchSize = 512
    /// Tokens per step, B·T: activations are allocated for this many positions.
    public static let maxBatchTokens = 1 << 14
    public static let maxSteps = 100_000_000

    /// Floats of activations a training model may allocate (`Model.activationCount`): 4 GiB,
    /// enough for GPT-2 124M at T 1024 with B = 1 (about 1.8 GiB).
    public static let maxActivationFloats = 1 << 30

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
