import TTCore
import TTEngine
/// Cuts training batches out of a token stream.
///
/// - A stream of n ≥ T+1 tokens: each of the B sequences is a window of T+1 tokens at an
///   offset drawn with `rng.randbelow(n − T)` (CPython's `random.randrange(n − T)`), so any
///   offset 0...n−T−1 is possible; the inputs are the window's first T tokens and the
///   targets its last T. Windows are drawn in sequence order, one draw each.
/// - A stream shorter than T+1 (the tutorial: 5 tokens, T = 5): every sequence is the whole
///   stream, padded with `<PAD>` to length T when the vocabulary has `<PAD>` (otherwise left
///   at length n); the targets are the stream shifted by one and `Batch.ignore` after the
///   last real token. Nothing is drawn from the generator. (With causal attention the padded
///   positions cannot change the loss or the gradient of the real ones.)
/// - In both cases a target equal to `<PAD>` is `Batch.ignore`, so PAD targets never count.
/// - `windowsDrawn` grows by B per batch in both cases: it is the data cursor a checkpoint
///   records.
public struct BatchSampler: Sendable {
    public let tokens: [Int32]
    public let context: Int
    public let batchSize: Int
    public let padID: Int32?

    /// - Precondition: tokens.count ≥ 2, context ≥ 1, batchSize ≥ 1.
    public init(tokens: [Int32], context: Int, batchSize: Int, padID: Int32?) {
        precondition(tokens.count >= 2 && context >= 1 && batchSize >= 1)
        self.tokens = tokens
        self.context = context
        self.batchSize = batchSize
        self.padID = padID
    }

    /// True when the stream is too short for random windows and every sequence is the
    /// whole (padded) stream.
    public var usesWholeStream: Bool { tokens.count < context + 1 }

    /// Length of every sequence in a batch.
    public var sequenceLength: Int {
        usesWholeStream ? (padID == nil ? tokens.count : context) : context
    }

    /// The next batch; advances `rng` (B draws, or none for a short stream) and adds B to
    /// `windowsDrawn`.
    public func nextBatch(rng: inout PythonRandom, windowsDrawn: inout UInt64) -> Batch {
        var batch = Batch(tokens: [], targets: [], batchSize: 0, seqLen: 0)
        fill(&batch, rng: &rng, windowsDrawn: &windowsDrawn)
        return batch
    }

    /// `nextBatch`, reusing `batch`'s storage (no allocation once it has the right size).
    public func fill(_ batch: inout Batch, rng: inout PythonRandom, windowsDrawn: inout UInt64) {
        let S = sequenceLength
        let count = batchSize * S
        if batch.tokens.count != count {
            batch.tokens = [Int32](repeating: 0, count: count)
            batch.targets = [Int32](repeating: 0, count: count)
        }
        batch.batchSize = batchSize
        batch.seqLen = S
        let n = tokens.count
        let pad = padID ?? 0
        for b in 0..<batchSize {
            let row = b * S
            if usesWholeStream {
                for i in 0..<S {
                    batch.tokens[row + i] = i < n ? tokens[i] : pad
                    batch.targets[row + i] = i + 1 < n ? tokens[i + 1] : Batch.ignore
                }
            } else {
                let offset = Int(rng.randbelow(UInt64(n - context)))
                for i in 0..<context {
                    batch.tokens[row + i] = tokens[offset + i]
                    batch.targets[row + i] = tokens[offset + i + 1]
                }
            }
        }
        if let pad = padID {
            for i in 0..<count where batch.targets[i] == pad { batch.targets[i] = Batch.ignore }
        }
        windowsDrawn &+= UInt64(batchSize)
    }
}
