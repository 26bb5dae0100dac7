import Testing
@testable import TTInterop

/// The gpt2 name table (DECISIONS: canonical names; transformers' Conv1D (in, out) weights
/// transposed, nanoGPT's Linear (out, in) as is).
@Suite struct NameMappingTests {
    /// The rows of the table, written out by hand from the decision, not from the code.
    static let layer1: [(canonical: String, foreign: String, hfTransposed: Bool)] = [
        ("layers.1.ln1.gamma", "transformer.h.1.ln_1.weight", false),
        ("layers.1.ln1.beta", "transformer.h.1.ln_1.bias", false),
        ("layers.1.attn.wqkv", "transformer.h.1.attn.c_attn.weight", true),
        ("layers.1.attn.bqkv", "transformer.h.1.attn.c_attn.bias", false),
        ("layers.1.attn.wo", "transformer.h.1.attn.c_proj.weight", true),
        ("layers.1.attn.bo", "transformer.h.1.attn.c_proj.bias", false),
        ("layers.1.ln2.gamma", "transformer.h.1.ln_2.weight", false),
        ("layers.1.ln2.beta", "transformer.h.1.ln_2.bias", false),
        ("layers.1.ffn.w1", "transformer.h.1.mlp.c_fc.weight", true),
        ("layers.1.ffn.b1", "transformer.h.1.mlp.c_fc.bias", false),
        ("layers.1.ffn.w2", "transformer.h.1.mlp.c_proj.weight", true),
        ("layers.1.ffn.b2", "transformer.h.1.mlp.c_proj.bias", false),
    ]

    @Test func tableHasTheDecidedOrderAndNames() {
        let hf = GPT2Naming.hf.table(layers: 2)
        #expect(hf.count == 2 + 12 * 2 + 2)
        #expect(hf.first == .init(canonical: "tok_emb", foreign: "transformer.wte.weight", transposed: false))
        #expect(hf[1] == .init(canonical: "pos_emb", foreign: "transformer.wpe.weight", transposed: false))
        #expect(hf[hf.count - 2] == .init(canonical: "ln_f.gamma", foreign: "transformer.ln_f.weight", transposed: false))
        #expect(hf.last == .init(canonical: "ln_f.beta", foreign: "transformer.ln_f.bias", transposed: false))
        for (i, row) in Self.layer1.enumerated() {
            #expect(hf[2 + 12 + i] == .init(canonical: row.canonical, foreign: row.foreign, transposed: row.hfTransposed))
            #expect(GPT2Naming.nanoGPT.table(layers: 2)[2 + 12 + i].transposed == false)
        }
    }

    @Test func namesMapBothWays() {
        for naming in GPT2Naming.allCases {
            for m in naming.table(layers: 12) {
                #expect(naming.foreignName(for: m.canonical) == m)
                #expect(naming.canonicalName(for: m.foreign) == m)
                // GPT2Model files have no `transformer.` prefix.
                let bare = String(m.foreign.dropFirst("transformer.".count))
                #expect(naming.canonicalName(for: bare)?.canonical == m.canonical)
                #expect(naming.canonicalName(for: bare)?.foreign == bare)
            }
        }
    }

    @Test func othersAreNotMapped() {
        for name in ["adam_m.tok_emb", "lm_head", "layers.0.attn.wq", "layers.01.ln1.gamma", "layers..ln1.gamma",
                     "layers.-1.ln1.gamma", "layers.x.ln1.gamma", "tok_emb.weight", ""] {
            #expect(GPT2Naming.hf.foreignName(for: name) == nil, "\(name)")
        }
        for name in ["lm_head.weight", "transformer.h.0.attn.bias", "transformer.h.00.ln_1.weight",
                     "transformer.h.0.ln_1", "h.1.mlp.c_fc", "wte", "transformer.wte.bias"] {
            #expect(GPT2Naming.hf.canonicalName(for: name) == nil, "\(name)")
        }
        #expect(GPT2Naming.nanoGPT.auxiliary("lm_head.weight") == .tiedHead(canonical: "tok_emb"))
        #expect(GPT2Naming.hf.auxiliary("transformer.h.3.attn.bias") == .buffer)
        #expect(GPT2Naming.hf.auxiliary("h.3.attn.masked_bias") == .buffer)
        #expect(GPT2Naming.hf.auxiliary("transformer.h.3.attn.c_attn.bias") == nil)
    }

    @Test func detectsTheLayoutFromCAttnShape() {
        // D = 16: transformers stores c_attn (D, 3D), nanoGPT (3D, D).
        let hf: [(name: String, shape: [Int])] = [("transformer.wte.weight", [97, 16]), ("transformer.h.0.attn.c_attn.weight", [16, 48])]
        let nano: [(name: String, shape: [Int])] = [("lm_head.weight", [97, 16]), ("transformer.h.0.attn.c_attn.weight", [48, 16])]
        #expect(GPT2Naming.detect(hf) == .foreign(.hf))
        #expect(GPT2Naming.detect(nano) == .foreign(.nanoGPT))
        #expect(GPT2Naming.detect([("h.0.attn.c_attn.weight", [16, 48])]) == .foreign(.hf))
        #expect(GPT2Naming.detect([("transformer.wte.weight", [97, 16])]) == .ambiguous)
        #expect(GPT2Naming.detect([("tok_emb", [97, 16]), ("transformer.wte.weight", [97, 16])]) == .canonical)
        #expect(GPT2Naming.detect([("model.embed_tokens.weight", [97, 16])]) == .other)
    }

    @Test func transposeOfAMatrix() {
        // (2, 3) row-major [[0 1 2] [3 4 5]] -> (3, 2) [[0 3] [1 4] [2 5]].
        #expect(GPT2Naming.transpose([0, 1, 2, 3, 4, 5] as [Float], rows: 2, columns: 3) == [0, 3, 1, 4, 2, 5])
        #expect(GPT2Naming.transpose([Float](), rows: 0, columns: 3) == [])
    }
}
