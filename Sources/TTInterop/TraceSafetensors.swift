import TTCore

extension SafetensorsCheckpoint {
    /// A trace (`Checkpoint.trace` set) as safetensors, for numpy users: every tensor under
    /// its trace name (spec/TRACE.md), F32; `__metadata__` holds what
    /// `export` writes (config, vocabulary, step, ...) plus `trace.step`, `trace.batch_size`,
    /// `trace.seq_len`, `trace.target_count`, `trace.loss`, `trace.grad_norm`,
    /// `trace.learning_rate` (decimal strings) and `trace.roles`, a JSON object mapping each
    /// tensor name to its role label (safetensors has no roles of its own).
    /// - Precondition: `trace.trace != nil`.
    public static func traceContents(_ trace: Checkpoint) -> (tensors: [SafetensorsTensor], metadata: [String: String]) {
        let info = trace.trace!
        var metadata = exportContents(trace, includeOptimizer: false).metadata
        metadata["trace.step"] = String(info.step)
        metadata["trace.batch_size"] = String(info.batchSize)
        metadata["trace.seq_len"] = String(info.seqLen)
        metadata["trace.target_count"] = String(info.targetCount)
        metadata["trace.loss"] = String(info.loss)
        metadata["trace.grad_norm"] = String(info.gradNorm)
        metadata["trace.learning_rate"] = String(info.learningRate)
        metadata["trace.roles"] = JSONValue.object(trace.tensors.map { ($0.name, .string($0.role.label)) })
            .serialized(pretty: false, escaping: .minimal)
        let tensors = trace.tensors.map { SafetensorsTensor(name: $0.name, shape: $0.shape, values: $0.values) }
        return (tensors, metadata)
    }
}
