/// What a tensor in a checkpoint holds. Raw values are the format's `role` byte.
public enum TensorRole: UInt8, CaseIterable, Sendable {
    case parameter = 0
    case adamM = 1
    case adamV = 2
    case other = 3
    /// Trace files (spec/TRACE.md): a forward value of the traced step, `act.<stage>`.
    case activation = 4
    /// d(mean loss)/d(activation), `grad.<stage>`.
    case activationGrad = 5
    /// d(mean loss)/dθ before clipping, named exactly after its parameter.
    case gradient = 6
    /// The change the traced AdamW step applies to a parameter, `update.<name>`.
    case update = 7

    /// The name used in the spec, inspect and JSON: parameter, adam_m, adam_v, other,
    /// activation, activation_grad, gradient, update.
    public var label: String {
        switch self {
        case .parameter: return "parameter"
        case .adamM: return "adam_m"
        case .adamV: return "adam_v"
        case .other: return "other"
        case .activation: return "activation"
        case .activationGrad: return "activation_grad"
        case .gradient: return "gradient"
        case .update: return "update"
        }
    }

    /// The prefix of a tensor name in this role: "" for parameters and their gradients,
    /// "adam_m." and "adam_v." for the moments, "act." and "grad." for a trace's
    /// activations and their gradients, "update." for its updates, so names are unique
    /// across a file.
    public var namePrefix: String {
        switch self {
        case .parameter, .other, .gradient: return ""
        case .adamM: return "adam_m."
        case .adamV: return "adam_v."
        case .activation: return "act."
        case .activationGrad: return "grad."
        case .update: return "update."
        }
    }

    /// The roles of a trace file's tensors (4...7).
    public var isTraceRole: Bool { rawValue >= 4 }
}

/// What a trace file records about the step it traced (META keys `trace.*`,
/// spec/TRACE.md). The file's other metadata is the checkpoint's, unchanged: the state
/// before the step.
public struct TraceInfo: Equatable, Sendable {
    /// The batch's token ids and targets (−1 = ignored), (B, S), role other, as Float32.
    public static let tokensName = "batch.tokens"
    public static let targetsName = "batch.targets"

    /// t, the AdamW step traced: the checkpoint's step + 1.
    public var step: Int
    /// B and S of the traced batch.
    public var batchSize: Int
    public var seqLen: Int
    /// N, the targets the mean loss is over.
    public var targetCount: Int = 0
    /// The mean loss (Float32, widened).
    public var loss: Double = 0
    /// ‖g‖₂ before clipping.
    public var gradNorm: Double = 0
    /// The learning rate step t uses.
    public var learningRate: Double = 0

    public init(step: Int, batchSize: Int, seqLen: Int) {
        self.step = step
        self.batchSize = batchSize
        self.seqLen = seqLen
    }
}

/// How text becomes token ids.
public enum TokenizerKind: String, CaseIterable, Sendable {
    /// Whitespace-separated words; `<PAD>`, `<BOS>`, `<EOS>` are ordinary tokens in the list.
    case word
    /// One token per Unicode scalar.
    case char
    /// One token per byte; the token list holds 256 printable labels.
    case byte
    /// GPT-2's byte-level BPE: tokens are byte strings (spelled as in vocab.json, `Ġthe`),
    /// merged by rank; `Vocabulary.bpe` holds the merges and added tokens.
    case bpe
}

/// What a byte-level BPE vocabulary holds besides its token strings: the metadata keys
/// `vocab.merges` and `vocab.bpe.*` of spec/FORMAT.md. TTTokenizer's `BPETokenizer` validates
/// and uses it.
public struct BPEData: Equatable, Sendable {
    /// The merges in rank order, two token ids each: merge r joins `merges[2r]` and `merges[2r+1]`.
    public var merges: [UInt32]
    /// Ids of the added tokens (matched whole before pre-tokenization, `<|endoftext|>`),
    /// strictly increasing.
    public var addedIDs: [UInt32]
    /// Per added id: bit 0 special, bit 1 normalized.
    public var addedFlags: [UInt32]
    /// The pre-tokenizer: "gpt2" (GPT-2's pattern), the only one.
    public var preTokenizer: String
    /// Hugging Face tokenizers' ByteLevel `add_prefix_space` (false for GPT-2).
    public var addPrefixSpace: Bool
    /// Hugging Face tokenizers' BPE `ignore_merges` (false for GPT-2).
    public var ignoreMerges: Bool

    public init(merges: [UInt32], addedIDs: [UInt32] = [], addedFlags: [UInt32] = [], preTokenizer: String = "gpt2",
                addPrefixSpace: Bool = false, ignoreMerges: Bool = false) {
        self.merges = merges
        self.addedIDs = addedIDs
        self.addedFlags = addedFlags
        self.preTokenizer = preTokenizer
        self.addPrefixSpace = addPrefixSpace
        self.ignoreMerges = ignoreMerges
    }
}

/// The tokenizer and its token strings, id = index.
public struct Vocabulary: Equatable, Sendable {
    public var kind: TokenizerKind
    public var tokens: [String]
    /// The merges and added tokens of a `bpe` vocabulary; nil for the other kinds.
    public var bpe: BPEData?

    public init(kind: TokenizerKind, tokens: [String], bpe: BPEData? = nil) {
        self.kind = kind
        self.tokens = tokens
        self.bpe = bpe
    }

    /// The series' vocabulary: `<PAD> <BOS> <EOS> I like transformers`.
    public static let tutorial = Vocabulary(kind: .word, tokens: ["<PAD>", "<BOS>", "<EOS>", "I", "like", "transformers"])

    /// Id of `<PAD>`, whose targets the loss ignores, if the vocabulary has one. Only word
    /// vocabularies have these specials (a BPE token may be spelled `<PAD>` and is text).
    public var padID: Int? { kind == .word ? tokens.firstIndex(of: "<PAD>") : nil }
    public var bosID: Int? { kind == .word ? tokens.firstIndex(of: "<BOS>") : nil }
    public var eosID: Int? { kind == .word ? tokens.firstIndex(of: "<EOS>") : nil }
}

/// Identity of the training data, so a resume on other data is caught.
public struct DataIdentity: Equatable, Sendable {
    /// File name the data came from (informational), or "builtin:tutorial".
    public var name: String
    /// Size of the corpus in bytes.
    public var byteCount: Int
    /// Length of the token stream.
    public var tokenCount: Int
    /// SHA-256 of the corpus bytes, lowercase hex (64 characters).
    public var sha256: String

    public init(name: String, byteCount: Int, tokenCount: Int, sha256: String) {
        self.name = name
        self.byteCount = byteCount
        self.tokenCount = tokenCount
        self.sha256 = sha256
    }
}

/// Everything besides the tensors that a resume needs to continue bit for bit.
public struct TrainingState: Equatable, Sendable {
    /// Optimizer steps taken so far (AdamW's t of the last step; 0 for a fresh model).
    public var step: Int = 0
    /// Target tokens the loss has been computed over, summed over steps.
    public var tokensSeen: Int = 0
    /// The seed the run was initialized with.
    public var seed: UInt64 = 42
    /// Sequences per step.
    public var batchSize: Int = 1
    public var optimizer = AdamWConfig()
    /// The generator that draws batch windows; initialized by the same seed as the weights
    /// and continued from where initialization left it.
    public var rng: PythonRandom.State
    /// The data trained on, or nil before any training.
    public var data: DataIdentity?
    /// The data cursor: batch windows drawn so far.
    public var windowsDrawn: UInt64 = 0
    /// Mean loss of every step, in order: `lossHistory[i]` is the loss of step i+1.
    public var lossHistory: [Float] = []
    /// The step count at the start of each `train` or `resume` session (for plots).
    public var sessionStarts: [Int] = []

    public init(rng: PythonRandom.State) {
        self.rng = rng
    }
}

/// One named tensor with its values, as stored in a checkpoint.
public struct NamedTensor: Equatable, Sendable {
    /// Canonical name, with the role's prefix (`adam_m.tok_emb`).
    public var name: String
    public var role: TensorRole
    public var shape: [Int]
    /// Row-major Float32 values; count = product(shape).
    public var values: [Float]

    public init(name: String, role: TensorRole, shape: [Int], values: [Float]) {
        self.name = name
        self.role = role
        self.shape = shape
        self.values = values
    }
}

/// A whole checkpoint in memory: what `.ttc` files hold.
public struct Checkpoint: Equatable, Sendable {
    public var config: ModelConfig
    public var vocabulary: Vocabulary
    public var training: TrainingState
    /// Parameters in canonical layout order, then `adam_m.*`, then `adam_v.*`; for a
    /// trace, the trace's tensors (spec/TRACE.md).
    public var tensors: [NamedTensor]
    /// Set for a trace file: the step it traced.
    public var trace: TraceInfo?

    public init(config: ModelConfig, vocabulary: Vocabulary, training: TrainingState, tensors: [NamedTensor],
                trace: TraceInfo? = nil) {
        self.config = config
        self.vocabulary = vocabulary
        self.training = training
        self.tensors = tensors
        self.trace = trace
    }
}

/// The tool's version, written into every checkpoint.
public enum TTCkptVersion {
    public static let string = "0.1.0"
}
