import TTCore
import TTEngine
import TTFormat
import TTTokenizer

/// One training step, traced: every tensor of `TraceCatalog` for the batch the run would
/// draw next, as a trace file's contents (spec/TRACE.md).
public enum StepTracer {
    /// The default cap on a trace's raw size (the Float32 bytes of all its tensors): 256 MiB.
    public static let defaultMaxBytes = 256 << 20

    /// The batch the run of `checkpoint` would draw next from `data`, and the step that
    /// would train on it (t = step + 1). The checkpoint's generator and cursor are copied,
    /// not advanced.
    public static func nextBatch(session: TrainingSession, data: TrainingData) -> Batch {
        var rng = session.rng
        var windows = session.state.windowsDrawn
        return session.sampler(for: data).nextBatch(rng: &rng, windowsDrawn: &windows)
    }

    /// The sequence length and raw byte size (4 × elements, saturating) of the trace of
    /// `checkpoint`'s next batch, without running anything.
    public static func plannedSize(config: ModelConfig, batchSize: Int, seqLen: Int) -> Int {
        let n = TraceCatalog.elementCount(config: config, batchSize: batchSize, seqLen: seqLen)
        return n > Int.max / 4 ? Int.max : 4 * n
    }

    /// Runs the step on a model loaded from `session` (which is left as it was apart from its
    /// model's buffers: call it on a session made for this purpose) and returns the trace:
    /// the checkpoint's metadata with `TraceInfo`, then the tensors in walk order and the
    /// batch's `batch.tokens` and `batch.targets` (role other, ids as Float32).
    public static func trace(session: TrainingSession, batch: Batch) -> Checkpoint {
        let model = session.model
        let config = model.config
        let t = session.state.step + 1
        let (loss, traced) = model.traceForwardBackward(batch)
        // The update: a copy of parameters and moments, one AdamW step, the difference.
        let before = Array(model.parameters)
        let m = Array(model.adamM), v = Array(model.adamV)
        let (lr, norm) = model.applyAdamW(session.state.optimizer, step: t)
        var update = [Float](repeating: 0, count: before.count)
        for i in 0..<before.count { update[i] = model.parameters[i] - before[i] }
        _ = model.parameters.update(from: before)
        _ = model.adamM.update(from: m)
        _ = model.adamV.update(from: v)

        var tensors: [NamedTensor] = []
        var slots: [String: TensorSlot] = [:]
        for s in model.layout.slots { slots[s.name] = s }
        for e in TraceCatalog.entries(config: config, batchSize: batch.batchSize, seqLen: batch.seqLen) {
            let values: [Float]
            switch e.role {
            case .gradient:
                values = Array(model.view(model.gradients, slots[e.name]!))
            case .update:
                let s = slots[String(e.name.dropFirst(TensorRole.update.namePrefix.count))]!
                values = Array(update[s.offset..<(s.offset + s.count)])
            default:
                guard let v = traced[e.name] else { preconditionFailure("trace has no \(e.name)") }
                values = v
            }
            precondition(values.count == e.elementCount, "\(e.name): \(values.count) values for \(e.shape)")
            tensors.append(NamedTensor(name: e.name, role: e.role, shape: e.shape, values: values))
        }
        let bs = [batch.batchSize, batch.seqLen]
        tensors.append(NamedTensor(name: TraceInfo.tokensName, role: .other, shape: bs, values: batch.tokens.map(Float.init)))
        tensors.append(NamedTensor(name: TraceInfo.targetsName, role: .other, shape: bs, values: batch.targets.map(Float.init)))
        var trace = TraceInfo(step: t, batchSize: batch.batchSize, seqLen: batch.seqLen)
        trace.targetCount = batch.targetCount
        trace.loss = Double(loss)
        trace.gradNorm = Double(norm)
        trace.learningRate = lr
        var checkpoint = session.snapshot()
        checkpoint.tensors = tensors
        checkpoint.trace = trace
        return checkpoint
    }
}
