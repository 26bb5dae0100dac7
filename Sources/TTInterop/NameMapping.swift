/// The one table between tt-ckpt's canonical gpt2 tensor names and the names Hugging Face
/// transformers and nanoGPT use (spec/FORMAT.md §5 and README, "The gpt2 architecture").
/// `import --from hf|nanogpt`, `export --to hf` and `diff --map` all go through it.
///
/// | canonical | shape | foreign name (`transformer.` + ...) | transformers | nanoGPT |
/// |---|---|---|---|---|
/// | tok_emb | (V, D) | wte.weight | as is | as is |
/// | pos_emb | (T, D) | wpe.weight | as is | as is |
/// | layers.i.ln1.gamma / .beta | (D) | h.i.ln_1.weight / .bias | as is | as is |
/// | layers.i.attn.wqkv | (3D, D) | h.i.attn.c_attn.weight | (D, 3D): transposed | as is |
/// | layers.i.attn.bqkv | (3D) | h.i.attn.c_attn.bias | as is | as is |
/// | layers.i.attn.wo | (D, D) | h.i.attn.c_proj.weight | transposed | as is |
/// | layers.i.attn.bo | (D) | h.i.attn.c_proj.bias | as is | as is |
/// | layers.i.ln2.gamma / .beta | (D) | h.i.ln_2.weight / .bias | as is | as is |
/// | layers.i.ffn.w1 | (F, D) | h.i.mlp.c_fc.weight | (D, F): transposed | as is |
/// | layers.i.ffn.b1 | (F) | h.i.mlp.c_fc.bias | as is | as is |
/// | layers.i.ffn.w2 | (D, F) | h.i.mlp.c_proj.weight | (F, D): transposed | as is |
/// | layers.i.ffn.b2 | (D) | h.i.mlp.c_proj.bias | as is | as is |
/// | ln_f.gamma / .beta | (D) | ln_f.weight / .bias | as is | as is |
///
/// transformers' Conv1D stores a weight as (in, out), so its four matrices are the transposes
/// of the canonical (out, in) ones; nanoGPT's nn.Linear stores (out, in), as the canonical
/// names do. `GPT2LMHeadModel` files prefix every name with `transformer.`; `GPT2Model` files
/// (e.g. the `gpt2` hub repository) do not: both are read, `transformer.` is written.
/// The LM head is tied to `tok_emb`: transformers does not store `lm_head.weight`, nanoGPT
/// stores it with the same values as `transformer.wte.weight`.
public enum GPT2Naming: String, CaseIterable, Sendable {
    /// Hugging Face transformers (`GPT2LMHeadModel` / `GPT2Model`).
    case hf
    /// nanoGPT's `GPT` state dict.
    case nanoGPT = "nanogpt"

    /// One canonical tensor and its foreign counterpart.
    public struct Mapping: Equatable, Hashable, Sendable {
        public var canonical: String
        /// With the `transformer.` prefix.
        public var foreign: String
        /// The foreign tensor is the transpose of the canonical one (a 2-D weight of a
        /// transformers Conv1D).
        public var transposed: Bool

        public init(canonical: String, foreign: String, transposed: Bool) {
            self.canonical = canonical
            self.foreign = foreign
            self.transposed = transposed
        }
    }

    /// A foreign tensor that is not a parameter of its own.
    public enum Auxiliary: Equatable, Sendable {
        /// `lm_head.weight`: the LM head, tied to (and holding the values of) `tok_emb`.
        case tiedHead(canonical: String)
        /// `h.i.attn.bias` / `h.i.attn.masked_bias`: attention-mask buffers older
        /// transformers versions and nanoGPT (without flash attention) store.
        case buffer
    }

    /// The prefix `GPT2LMHeadModel` and nanoGPT give every name but the LM head.
    public static let foreignPrefix = "transformer."

    // (canonical suffix, foreign suffix, transposed in transformers) per block; then the
    // tensors outside the blocks.
    private static let blockRows: [(String, String, Bool)] = [
        ("ln1.gamma", "ln_1.weight", false), ("ln1.beta", "ln_1.bias", false),
        ("attn.wqkv", "attn.c_attn.weight", true), ("attn.bqkv", "attn.c_attn.bias", false),
        ("attn.wo", "attn.c_proj.weight", true), ("attn.bo", "attn.c_proj.bias", false),
        ("ln2.gamma", "ln_2.weight", false), ("ln2.beta", "ln_2.bias", false),
        ("ffn.w1", "mlp.c_fc.weight", true), ("ffn.b1", "mlp.c_fc.bias", false),
        ("ffn.w2", "mlp.c_proj.weight", true), ("ffn.b2", "mlp.c_proj.bias", false),
    ]
    private static let headRows: [(String, String)] = [("tok_emb", "wte.weight"), ("pos_emb", "wpe.weight")]
    private static let tailRows: [(String, String)] = [("ln_f.gamma", "ln_f.weight"), ("ln_f.beta", "ln_f.bias")]

    /// Every parameter of an L-layer gpt2 in canonical order (the table's order, layers in
    /// order), with this convention's names.
    public func table(layers: Int) -> [Mapping] {
        var out = Self.headRows.map { Mapping(canonical: $0.0, foreign: Self.foreignPrefix + $0.1, transposed: false) }
        for i in 0..<max(0, layers) {
            for (c, f, t) in Self.blockRows {
                out.append(Mapping(canonical: "layers.\(i).\(c)", foreign: Self.foreignPrefix + "h.\(i).\(f)",
                                   transposed: self == .hf && t))
            }
        }
        out += Self.tailRows.map { Mapping(canonical: $0.0, foreign: Self.foreignPrefix + $0.1, transposed: false) }
        return out
    }

    /// The foreign name (with `transformer.`) of a canonical gpt2 parameter, or nil when
    /// `canonical` is not one (e.g. `adam_m.tok_emb`, or a tutorial/gpt arch name).
    public func foreignName(for canonical: String) -> Mapping? {
        for (c, f) in Self.headRows + Self.tailRows where c == canonical {
            return Mapping(canonical: c, foreign: Self.foreignPrefix + f, transposed: false)
        }
        guard let (layer, rest) = Self.split(canonical, prefix: "layers.") else { return nil }
        for (c, f, t) in Self.blockRows where c == rest {
            return Mapping(canonical: canonical, foreign: Self.foreignPrefix + "h.\(layer).\(f)", transposed: self == .hf && t)
        }
        return nil
    }

    /// The canonical name of a foreign parameter name, with or without `transformer.`;
    /// nil when the name is not a gpt2 parameter (see `auxiliary` for the head and buffers).
    public func canonicalName(for foreign: String) -> Mapping? {
        let bare = foreign.hasPrefix(Self.foreignPrefix) ? String(foreign.dropFirst(Self.foreignPrefix.count)) : foreign
        for (c, f) in Self.headRows + Self.tailRows where f == bare {
            return Mapping(canonical: c, foreign: foreign, transposed: false)
        }
        guard let (layer, rest) = Self.split(bare, prefix: "h.") else { return nil }
        for (c, f, t) in Self.blockRows where f == rest {
            return Mapping(canonical: "layers.\(layer).\(c)", foreign: foreign, transposed: self == .hf && t)
        }
        return nil
    }

    /// What a foreign tensor that is not a parameter is: the tied LM head or a mask buffer;
    /// nil for anything else.
    public func auxiliary(_ foreign: String) -> Auxiliary? {
        if foreign == "lm_head.weight" { return .tiedHead(canonical: "tok_emb") }
        let bare = foreign.hasPrefix(Self.foreignPrefix) ? String(foreign.dropFirst(Self.foreignPrefix.count)) : foreign
        if let (_, rest) = Self.split(bare, prefix: "h."), rest == "attn.bias" || rest == "attn.masked_bias" {
            return .buffer
        }
        return nil
    }

    /// `prefix` + a decimal layer index without leading zeros + `.` + rest.
    private static func split(_ name: String, prefix: String) -> (Int, String)? {
        guard name.hasPrefix(prefix) else { return nil }
        let tail = name.dropFirst(prefix.count)
        guard let dot = tail.firstIndex(of: "."), dot > tail.startIndex else { return nil }
        let digits = tail[..<dot]
        guard digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), digits.count <= 9,
              digits == "0" || digits.first != "0", let layer = Int(digits) else { return nil }
        return (layer, String(tail[tail.index(after: dot)...]))
    }

    /// Which naming a set of tensors uses, judged by names and shapes.
    public enum Detected: Equatable, Sendable {
        /// tt-ckpt's canonical names (`tok_emb`, `layers.0.attn.wqkv`, ...).
        case canonical
        case foreign(GPT2Naming)
        /// gpt2 names whose layout cannot be told (no 2-D `c_attn.weight` with D ≠ 3D).
        case ambiguous
        /// Neither: the names are compared as they are.
        case other
    }

    /// The naming of `tensors`: canonical when `tok_emb` or a `layers.N.` name is present;
    /// else transformers or nanoGPT by the shape of the first `h.N.attn.c_attn.weight`
    /// ((D, 3D) is transformers' Conv1D, (3D, D) nanoGPT's Linear); `ambiguous` when gpt2
    /// names are there without that tensor; `other` otherwise.
    public static func detect(_ tensors: [(name: String, shape: [Int])]) -> Detected {
        var sawForeign = false
        for t in tensors {
            if t.name == "tok_emb" || t.name.hasPrefix("layers.") { return .canonical }
        }
        for t in tensors {
            guard let m = GPT2Naming.nanoGPT.canonicalName(for: t.name) else { continue }
            sawForeign = true
            guard m.canonical.hasSuffix(".attn.wqkv"), t.shape.count == 2 else { continue }
            if t.shape[1] == 3 * t.shape[0], t.shape[0] > 0 { return .foreign(.hf) }
            if t.shape[0] == 3 * t.shape[1], t.shape[1] > 0 { return .foreign(.nanoGPT) }
        }
        return sawForeign ? .ambiguous : .other
    }

    /// The transpose of a row-major (rows, columns) matrix: (columns, rows).
    /// - Precondition: `values.count == rows * columns`.
    public static func transpose<T>(_ values: [T], rows: Int, columns: Int) -> [T] {
        precondition(values.count == rows * columns, "values do not match (rows, columns)")
        guard let first = values.first else { return [] }
        var out = [T](repeating: first, count: values.count)
        values.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for r in 0..<rows {
                    for c in 0..<columns { dst[c &* rows &+ r] = src[r &* columns &+ c] }
                }
            }
        }
        return out
    }
}
