import TTCore
import TTInterop

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
    public func isClose(_ a: Float, _ b: Float) -> Bool { isClose(doubles: Double(a), Double(b)) }

    /// The rule for values of any type, widened to Double.
    @inline(__always)
    public func isClose(doubles a: Double, _ b: Double) -> Bool {
        if a.isFinite && b.isFinite { return abs(a - b) <= absolute + relative * abs(b) }
        return a == b
    }
}

/// Element-wise comparison of two tensors of the same element count, A against reference B.
///
/// Guarantees: positions are taken in blocks of `StatsAccumulator.blockSize` from the first
/// element, block sums are added in element order and chunks (`StatsAccumulator.chunkSize`)
/// merged in order, all in Double, so results depend only on the values (not on the thread
/// count or the formats' read sizes). Positions where a or b is NaN or ±Inf are counted in
/// `nonFiniteCount` and judged by the `Tolerance` rule, but left out of the difference
/// magnitudes (`maxAbsDifference`, `rmsDifference`, the norms), which are over the
/// remaining "finite pairs". Values of different types are compared as Doubles (both
/// widenings are exact).
public struct TensorComparison: Equatable, Sendable {
    /// All elements.
    public var count: Int
    /// Elements that fail the tolerance rule (numpy.isclose false).
    public var outsideTolerance: Int
    /// Elements whose bit patterns differ (so +0 vs −0 counts here but not above); for two
    /// Float tensors the Float bits, else the bits of the values widened to Double.
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
    /// Σ|a−b|/n over the finite pairs; 0 when n = 0.
    public var meanAbsDifference: Double
    /// ‖a − b‖₂ over finite pairs.
    public var differenceNorm: Double
    /// ‖a‖₂ over the same finite pairs.
    public var referenceNorm: Double
    /// a·b / (‖a‖‖b‖) over the finite pairs; nil when either norm is 0.
    public var cosineSimilarity: Double?

    /// ‖a − b‖ / ‖a‖ (A is the baseline the change is relative to). Defined as 0 when
    /// ‖a − b‖ = 0 (even if ‖a‖ = 0), and +Inf when ‖a‖ = 0 < ‖a − b‖.
    public var relativeChange: Double {
        if differenceNorm == 0 { return 0 }
        if referenceNorm == 0 { return .infinity }
        return differenceNorm / referenceNorm
    }

    /// True when every element passes the tolerance rule.
    public var isClose: Bool { outsideTolerance == 0 }

    /// Compares `a` with reference `b` (chunked as the parallel scan does).
    /// - Precondition: `a.count == b.count`.
    public init(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>, tolerance: Tolerance) {
        precondition(a.count == b.count, "compared tensors differ in size")
        var acc = ComparisonAccumulator(tolerance: tolerance)
        var start = 0
        while start < a.count {
            let n = min(StatsAccumulator.chunkSize, a.count - start)
            var chunk = ComparisonAccumulator(tolerance: tolerance, start: start)
            chunk.add(.float(UnsafeBufferPointer(rebasing: a[start..<(start + n)])), .float(UnsafeBufferPointer(rebasing: b[start..<(start + n)])))
            acc.merge(chunk)
            start += n
        }
        self = acc.finish()
    }

    public init(_ a: [Float], _ b: [Float], tolerance: Tolerance) {
        self = a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in TensorComparison(pa, pb, tolerance: tolerance) }
        }
    }

    init(count: Int) {
        self.count = count
        outsideTolerance = 0
        bitDifferences = 0
        nonFiniteCount = 0
        maxAbsDifference = 0
        maxAbsDifferenceIndex = nil
        firstOutsideIndex = nil
        rmsDifference = 0
        meanAbsDifference = 0
        differenceNorm = 0
        referenceNorm = 0
        cosineSimilarity = nil
    }
}

/// Streaming, mergeable `TensorComparison` (see there for the guarantees): `add` takes runs
/// of both tensors that start at a block boundary; `merge` appends the run that follows.
public struct ComparisonAccumulator: Sendable {
    let tolerance: Tolerance
    /// Flat index of the next element.
    var position: Int
    var count = 0, outside = 0, bits = 0, nonFinite = 0, finitePairs = 0
    var maxDiff = 0.0
    var maxIndex: Int? = nil
    var firstOutside: Int? = nil
    var sumAbs = 0.0, sumSquaredDiff = 0.0, sumSquaredA = 0.0, sumSquaredB = 0.0, sumProduct = 0.0

    /// An accumulator for the run starting at flat index `start`.
    public init(tolerance: Tolerance, start: Int = 0) {
        self.tolerance = tolerance
        self.position = start
    }

    public mutating func add(_ a: ValueChunk, _ b: ValueChunk) {
        precondition(a.count == b.count, "chunks of different lengths")
        let total = a.count
        var start = 0
        while start < total {
            let n = Swift.min(StatsAccumulator.blockSize, total - start)
            switch (a, b) {
            case let (.float(x), .float(y)): floatBlock(x.baseAddress! + start, y.baseAddress! + start, n)
            case let (.double(x), .double(y)): block(n, { x[start + $0] }, { y[start + $0] })
            case let (.float(x), .double(y)): block(n, { Double(x[start + $0]) }, { y[start + $0] })
            case let (.double(x), .float(y)): block(n, { x[start + $0] }, { Double(y[start + $0]) })
            }
            start += n
        }
    }

    /// Appends the run that follows (accumulated on its own, from its start index).
    public mutating func merge(_ o: ComparisonAccumulator) {
        count += o.count
        outside += o.outside
        bits += o.bits
        nonFinite += o.nonFinite
        finitePairs += o.finitePairs
        if o.maxDiff > maxDiff { maxDiff = o.maxDiff; maxIndex = o.maxIndex }
        if firstOutside == nil { firstOutside = o.firstOutside }
        sumAbs += o.sumAbs
        sumSquaredDiff += o.sumSquaredDiff
        sumSquaredA += o.sumSquaredA
        sumSquaredB += o.sumSquaredB
        sumProduct += o.sumProduct
        position = o.position
    }

    public func finish() -> TensorComparison {
        var c = TensorComparison(count: count)
        c.outsideTolerance = outside
        c.bitDifferences = bits
        c.nonFiniteCount = nonFinite
        c.maxAbsDifference = maxDiff
        c.maxAbsDifferenceIndex = maxIndex
        c.firstOutsideIndex = firstOutside
        let n = Double(finitePairs)
        c.rmsDifference = finitePairs == 0 ? 0 : (sumSquaredDiff / n).squareRoot()
        c.meanAbsDifference = finitePairs == 0 ? 0 : sumAbs / n
        c.differenceNorm = sumSquaredDiff.squareRoot()
        c.referenceNorm = sumSquaredA.squareRoot()
        let normB = sumSquaredB.squareRoot()
        c.cosineSimilarity = c.referenceNorm > 0 && normB > 0 ? sumProduct / (c.referenceNorm * normB) : nil
        return c
    }

    // MARK: blocks

    /// One block of Float pairs, vectorized: eight Double lanes per sum, added lane-wise
    /// and then in a fixed order (the same result on every run). A NaN or ±Inf on either
    /// side makes a sum non-finite; such a block is done again value by value
    /// (`genericBlock`), which classifies the non-finite positions.
    private mutating func floatBlock(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) {
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        var sAbs = SIMD8<Double>(), sDiff = SIMD8<Double>(), sA = SIMD8<Double>(), sB = SIMD8<Double>(), sAB = SIMD8<Double>()
        var vmax = SIMD8<Double>()
        var out = SIMD8<Int64>(), differ = SIMD8<Int32>()
        let atol = SIMD8<Double>(repeating: tolerance.absolute), rtol = SIMD8<Double>(repeating: tolerance.relative)
        var i = 0
        while i + 8 <= n {
            let ua = ra.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<UInt32>.self)
            let ub = rb.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<UInt32>.self)
            differ.replace(with: differ &+ 1, where: ua .!= ub)
            let x = SIMD8<Double>(ra.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self))
            let y = SIMD8<Double>(rb.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self))
            let d = x - y
            let ad = d.replacing(with: -d, where: d .< 0)
            let ay = y.replacing(with: -y, where: y .< 0)
            sAbs += ad
            sDiff += d * d
            sA += x * x
            sB += y * y
            sAB += x * y
            vmax.replace(with: ad, where: ad .> vmax)
            out.replace(with: out &+ 1, where: ad .> atol + rtol * ay)
            i += 8
        }
        var tAbs = lanes(sAbs), tDiff = lanes(sDiff), tA = lanes(sA), tB = lanes(sB), tAB = lanes(sAB)
        var blockMax = lanes(vmax, Swift.max)
        var outside = Int(lanes(out, &+)), bitsDiffer = Int(lanes(differ, &+))
        while i < n {
            let x = Double(a[i]), y = Double(b[i])
            if a[i].bitPattern != b[i].bitPattern { bitsDiffer += 1 }
            let d = x - y, ad = abs(d)
            tAbs += ad
            tDiff += d * d
            tA += x * x
            tB += y * y
            tAB += x * y
            blockMax = Swift.max(blockMax, ad)
            if ad > tolerance.absolute + tolerance.relative * abs(y) { outside += 1 }
            i += 1
        }
        // Finite Floats widened to Double cannot overflow these sums (|x| < 2^128, at most
        // 1024 terms): a non-finite sum means a NaN or ±Inf somewhere in the block.
        guard tDiff.isFinite, tA.isFinite, tB.isFinite, tAB.isFinite else {
            genericBlock(n, { Double(a[$0]) }, { Double(b[$0]) }, countBits: true)
            return
        }
        let base = position
        let atolScalar = tolerance.absolute, rtolScalar = tolerance.relative
        if blockMax > maxDiff {
            maxDiff = blockMax
            maxIndex = base + (0..<n).first { abs(Double(a[$0]) - Double(b[$0])) == blockMax }!
        }
        if firstOutside == nil, outside > 0 {
            firstOutside = base + (0..<n).first {
                abs(Double(a[$0]) - Double(b[$0])) > atolScalar + rtolScalar * abs(Double(b[$0]))
            }!
        }
        count += n
        finitePairs += n
        self.outside += outside
        bits += bitsDiffer
        sumAbs += tAbs
        sumSquaredDiff += tDiff
        sumSquaredA += tA
        sumSquaredB += tB
        sumProduct += tAB
        position += n
    }

    private mutating func block(_ n: Int, _ a: (Int) -> Double, _ b: (Int) -> Double) {
        genericBlock(n, a, b, countBits: true)
    }

    private mutating func genericBlock(_ n: Int, _ a: (Int) -> Double, _ b: (Int) -> Double, countBits: Bool) {
        let base = position
        var sAbs = 0.0, sDiff = 0.0, sA = 0.0, sB = 0.0, sAB = 0.0
        for i in 0..<n {
            let x = a(i), y = b(i)
            if countBits && x.bitPattern != y.bitPattern { bits += 1 }
            if !tolerance.isClose(doubles: x, y) {
                outside += 1
                if firstOutside == nil { firstOutside = base + i }
            }
            guard x.isFinite && y.isFinite else {
                nonFinite += 1
                continue
            }
            finitePairs += 1
            let d = x - y
            let ad = abs(d)
            if ad > maxDiff { maxDiff = ad; maxIndex = base + i }
            sAbs += ad
            sDiff += d * d
            sA += x * x
            sB += y * y
            sAB += x * y
        }
        count += n
        sumAbs += sAbs
        sumSquaredDiff += sDiff
        sumSquaredA += sA
        sumSquaredB += sB
        sumProduct += sAB
        position += n
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
