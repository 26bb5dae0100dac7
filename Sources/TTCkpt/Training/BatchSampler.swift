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
        let S = sequenceLength
        var inputs = [Int32](repeating: padID ?? 0, count: batchSize * S)
        var targets = [Int32](repeating: Batch.ignore, count: batchSize * S)
        let n = tokens.count
        for b in 0..<batchSize {
            let row = b * S
            if usesWholeStream {
                for i in 0..<n { inputs[row + i] = tokens[i] }
                for i in 0..<(n - 1) { targets[row + i] = tokens[i + 1] }
            } else {
                let offset = Int(rng.randbelow(UInt64(n - context)))
                for i in 0..<context {
                    inputs[row + i] = tokens[offset + i]
                    targets[row + i] = tokens[offset + i + 1]
                }
            }
        }
        if let pad = padID {
            for i in targets.indices where targets[i] == pad { targets[i] = Batch.ignore }
        }
        windowsDrawn &+= UInt64(batchSize)
        return Batch(tokens: inputs, targets: targets, batchSize: batchSize, seqLen: S)
    }
}
