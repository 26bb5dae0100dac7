import CKernels

/// The greedy head: the argmax of a decode step's logits without the full head product.
///
/// A greedy step needs only the id of the largest logit, and the head is the largest
/// matrix a decode step reads (GPT-2 124M: 154 MB of 497). The screen reads a
/// half-precision copy of it instead (`ck_screen_product`, half the bytes) and bounds, per
/// row j, how far that screened value s_j can be from the logit L_j the full product
/// computes: |L_j − s_j| ≤ b_j = `ck_screen_bound`(‖x‖₂, radius_j, s_j) (`ck_screen_pack`
/// derives the radius). With ℓ = max_j (s_j − b_j), a row with s_j + b_j < ℓ has
/// L_j < ℓ ≤ L_i for the row i that gives ℓ, so it can be neither the largest logit nor
/// tie with it. The other rows (the candidates, a handful) are computed exactly with the
/// decode product on their panels, so their logits are the full product's bits, and the
/// answer is the lowest-id largest of them: `Model.argmax` of the full logits.
///
/// When anything is not finite (a weight, the input, a screened or exact value) the
/// screen answers nil and the caller takes the full product.
final class HeadScreen {
    let V: Int, C: Int
    private let panels: Int
    private let half: UnsafeMutablePointer<UInt16>
    private let radius: UnsafeMutablePointer<Double>
    private let scores: UnsafeMutablePointer<Float>
    private let ids: UnsafeMutablePointer<Int>
    private let halfBytes: Int
    /// The screen was built from the head's current weights.
    var current = false
    /// Every row's radius is finite (the last build found every weight in binary16's range).
    private var usable = false
    /// Rows computed exactly by the last `argmax` that decided; `Model` sets it to 0
    /// before each decode step, so 0 means the step's head was not screened.
    var lastCandidates = 0

    /// nil when the CPU lacks F16C or the memory is not there.
    init?(V: Int, C: Int) {
        guard ck_screen_available() != 0 else { return nil }
        let W = Int(CK_DECODE_PANEL)
        self.V = V
        self.C = C
        panels = Kernels.decodePanels(V)
        halfBytes = panels * W * C * MemoryLayout<UInt16>.stride
        let radiusBytes = V * MemoryLayout<Double>.stride, scoreBytes = panels * W * MemoryLayout<Float>.stride
        guard let h = ck_zeroed_alloc(halfBytes) else { return nil }
        guard let r = ck_zeroed_alloc(radiusBytes) else { ck_zeroed_free(h, halfBytes); return nil }
        guard let s = ck_zeroed_alloc(scoreBytes) else {
            ck_zeroed_free(h, halfBytes); ck_zeroed_free(r, radiusBytes); return nil
        }
        ids = .allocate(capacity: V)
        half = h.bindMemory(to: UInt16.self, capacity: panels * W * C)
        radius = r.bindMemory(to: Double.self, capacity: V)
        scores = s.bindMemory(to: Float.self, capacity: panels * W)
    }

    deinit {
        let W = Int(CK_DECODE_PANEL)
        ck_zeroed_free(half, halfBytes)
        ck_zeroed_free(radius, V * MemoryLayout<Double>.stride)
        ck_zeroed_free(scores, panels * W * MemoryLayout<Float>.stride)
        ids.deallocate()
    }

    /// Builds the screen from the head's decode layout `packed` (V, C).
    func build(from packed: UnsafePointer<Float>, kernels: Kernels) {
        kernels.forEach(panels, work: V &* C) { q in
            ck_screen_pack(half, radius, packed, C, V, q.lowerBound, q.upperBound)
        }
        usable = (0..<V).allSatisfy { radius[$0].isFinite }
        current = true
    }

    /// The lowest id of the largest logit of x · headᵀ, computing exactly (into `logits`,
    /// from the decode layout `packed`) only the candidates' panels; nil when the screen
    /// cannot decide (see the type's comment). The other entries of `logits` are left as
    /// they were.
    func argmax(_ x: UnsafePointer<Float>, packed: UnsafePointer<Float>, logits: UnsafeMutablePointer<Float>,
                kernels: Kernels) -> Int? {
        guard usable else { return nil }
        var sum = 0.0
        for i in 0..<C { sum += Double(x[i]) * Double(x[i]) }
        let norm = sum.squareRoot()
        guard norm.isFinite else { return nil }
        kernels.forEach(panels, work: V &* C) { q in
            ck_screen_product(scores, x, half, C, V, q.lowerBound, q.upperBound)
        }
        let candidates = ck_screen_candidates(ids, scores, radius, norm, V)
        guard candidates >= 0 else { return nil }
        let W = Int(CK_DECODE_PANEL)
        var best: Int? = nil
        var computedPanel = -1
        for i in 0..<candidates {
            let j = ids[i]
            if j / W != computedPanel {
                computedPanel = j / W
                _ = ck_matvec_decode(kernels.implementation.code, logits, x, packed, nil, C, V, computedPanel, computedPanel + 1)
            }
            guard logits[j].isFinite else { return nil }
            if best.map({ logits[j] > logits[$0] }) ?? true { best = j }
        }
        lastCandidates = candidates
        return best
    }
}
