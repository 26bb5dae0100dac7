import TTCore
/// The closeness rule of `numpy.allclose(a, b, rtol, atol, equal_nan=False)`, evaluated in
/// Double: finite a and b are close when |a − b| ≤ atol + rtol·|b| (b is the reference,
/// so the rule is not symmetric); otherwise they are close only when a == b (the same
/// infinity). NaN is never close to anything, itself included.
public struct Tolerance: Equatable, Sendable {
    /// atol, ≥ 0.
    public var absolute: Double
    /// rtol, ≥ 0.
    public var relative: Double

    public init(absolute: Double, relative: Double) {
        self.absolute = absolute
        self.relative = relative
    }

    /// atol = rtol = 0: values must be numerically equal (+0 equals −0).
    public static let exact = Tolerance(absolute: 0, relative: 0)

    @inline(__always)
    public func isClose(_ a: Float, _ b: Float) -> Bool {
        if a.isFinite && b.isFinite {
            let da = Double(a), db = Double(b)
            return abs(da - db) <= absolute + relative * abs(db)
        }
        return a == b
    }
}

/// Element-wise comparison of two tensors of the same shape, A against reference B.
///
/// Guarantees: one pass in element order with Double accumulators, so results depend only
/// on the values. Positions where a or b is NaN or ±Inf are counted in `nonFiniteCount`
/// and judged by the `Tolerance` rule, but left out of the difference magnitudes
/// (`maxAbsDifference`, `rmsDifference`, the norms), which are over the remaining
/// "finite pairs".
public struct TensorComparison: Equatable, Sendable {
    /// All elements.
    public var count: Int
    /// Elements that fail the tolerance rule (numpy.isclose false).
    public var outsideTolerance: Int
    /// Elements whose bit patterns differ (so +0 vs −0 counts here but not above).
    public var bitDifferences: Int
    /// Positions where a or b is NaN or ±Inf.
    public var nonFiniteCount: Int
    /// max |a − b| over finite pairs; 0 when there are none.
    public var maxAbsDifference: Double
    /// Flat row-major index of the first finite pair reaching `maxAbsDifference`, or nil
    /// when no finite pair differs.
    public var maxAbsDifferenceIndex: Int?
    /// Flat index of the first element outside tolerance, or nil.
    public var firstOutsideIndex: Int?
    /// √(Σ(a−b)²/n) over the n finite pairs; 0 when n = 0.
    public var rmsDifference: Double
    /// ‖a − b‖₂ over finite pairs.
    public var differenceNorm: Double
    /// ‖a‖₂ over the same finite pairs.
    public var referenceNorm: Double

    /// ‖a − b‖ / ‖a‖ (A is the baseline the change is relative to). Defined as 0 when
    /// ‖a − b‖ = 0 (even if ‖a‖ = 0), and +Inf when ‖a‖ = 0 < ‖a − b‖.
    public var relativeChange: Double {
        if differenceNorm == 0 { return 0 }
        if referenceNorm == 0 { return .infinity }
        return differenceNorm / referenceNorm
    }

    /// True when every element passes the tolerance rule.
    public var isClose: Bool { outsideTolerance == 0 }

    /// Compares `a` with reference `b`.
    /// - Precondition: `a.count == b.count`.
    public init(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>, tolerance: Tolerance) {
        precondition(a.count == b.count, "compared tensors differ in size")
        count = a.count
        var outside = 0, bits = 0, nonFinite = 0, finitePairs = 0
        var maxDiff = 0.0
        var maxIndex: Int? = nil
        var firstOutside: Int? = nil
        var sumSquaredDiff = 0.0, sumSquaredA = 0.0
        for i in 0..<a.count {
            let x = a[i], y = b[i]
            if x.bitPattern != y.bitPattern { bits += 1 }
            if !tolerance.isClose(x, y) {
                outside += 1
                if firstOutside == nil { firstOutside = i }
            }
            guard x.isFinite && y.isFinite else {
                nonFinite += 1
                continue
            }
            finitePairs += 1
            let dx = Double(x)
            let d = dx - Double(y)
            let ad = abs(d)
            if ad > maxDiff {
                maxDiff = ad
                maxIndex = i
            }
            sumSquaredDiff += d * d
            sumSquaredA += dx * dx
        }
        outsideTolerance = outside
        bitDifferences = bits
        nonFiniteCount = nonFinite
        maxAbsDifference = maxDiff
        maxAbsDifferenceIndex = maxIndex
        firstOutsideIndex = firstOutside
        rmsDifference = finitePairs == 0 ? 0 : (sumSquaredDiff / Double(finitePairs)).squareRoot()
        differenceNorm = sumSquaredDiff.squareRoot()
        referenceNorm = sumSquaredA.squareRoot()
    }

    public init(_ a: [Float], _ b: [Float], tolerance: Tolerance) {
        self = a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in TensorComparison(pa, pb, tolerance: tolerance) }
        }
    }
}

/// Row-major multi-index of flat index `flat` in `shape`.
/// - Precondition: `0 <= flat < shape.reduce(1, *)`.
public func multiIndex(_ flat: Int, shape: [Int]) -> [Int] {
    var rest = flat
    var index = [Int](repeating: 0, count: shape.count)
    for d in stride(from: shape.count - 1, through: 0, by: -1) {
        index[d] = rest % shape[d]
        rest /= shape[d]
    }
    return index
}

/// True for tensors whose rows are indexed by token id: `tok_emb`, `lm_head` and their
/// AdamW moments (`adam_m.tok_emb`, ...). Their rows get vocabulary labels.
public func hasVocabularyRows(_ tensorName: String) -> Bool {
    var base = Substring(tensorName)
    if let prefix = [TensorRole.adamM.namePrefix, TensorRole.adamV.namePrefix].first(where: { base.hasPrefix($0) }) {
        base = base.dropFirst(prefix.count)
    }
    return base == "tok_emb" || base == "lm_head"
}
