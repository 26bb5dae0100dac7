import TTCore
import TTInterop

/// Summary statistics of one tensor, as `inspect --stats` prints them.
///
/// Guarantees:
/// - Deterministic: values are taken in fixed blocks of `StatsAccumulator.blockSize`
///   elements counted from the tensor's first element, and blocks (then chunks of
///   `StatsAccumulator.chunkSize`) are merged in element order; so the result depends only
///   on the values, never on the thread count, the file format or how reads are split.
/// - NaN and ±Inf elements are counted but left out of the moments: `min`, `max`, `mean`,
///   `std`, `rms` and `l2Norm` are over the finite elements only. Those that have no
///   finite element to summarize are nil.
/// - Sums are in Double. `std` is the population standard deviation (divides by the finite
///   count, like numpy's default `ddof=0`): each block's squared deviations are taken
///   around the block's own mean (two passes over the block), and blocks are combined with
///   Chan et al.'s pairwise update, which avoids the cancellation of Σx² − n·mean².
/// - `fractionZero` is zeros (+0 and −0) over all elements, NaN and Inf included.
public struct TensorStats: Equatable, Sendable {
    /// All elements.
    public var count: Int
    public var nanCount: Int
    public var positiveInfCount: Int
    public var negativeInfCount: Int
    /// Elements equal to zero (+0 or −0).
    public var zeroCount: Int
    /// Exact (a Float, or a Double value of a Double-decoded type).
    public var min: Double?
    public var max: Double?
    public var mean: Double?
    public var std: Double?
    /// √(Σx²/n) over the finite elements.
    public var rms: Double?
    /// √(Σx²) over the finite elements (0 when there are none).
    public var l2Norm: Double
    /// The values were Float32 (every .ttc tensor, and foreign types of ≤ 32-bit floats or
    /// ≤ 16-bit integers): `min` and `max` print as Float, the shortest decimal that reads
    /// back as the same Float.
    public var valuesAreFloat: Bool

    public var infCount: Int { positiveInfCount + negativeInfCount }
    public var finiteCount: Int { count - nanCount - infCount }
    /// `zeroCount / count`, 0 for an empty tensor.
    public var fractionZero: Double { count == 0 ? 0 : Double(zeroCount) / Double(count) }

    public init(_ values: UnsafeBufferPointer<Float>) {
        var acc = StatsAccumulator()
        acc.addChunked(values)
        self = acc.finish()
    }

    public init(_ values: [Float]) {
        self = values.withUnsafeBufferPointer { TensorStats($0) }
    }

    init(count: Int, nanCount: Int, positiveInfCount: Int, negativeInfCount: Int, zeroCount: Int, min: Double?, max: Double?,
         mean: Double?, std: Double?, rms: Double?, l2Norm: Double, valuesAreFloat: Bool) {
        self.count = count
        self.nanCount = nanCount
        self.positiveInfCount = positiveInfCount
        self.negativeInfCount = negativeInfCount
        self.zeroCount = zeroCount
        self.min = min
        self.max = max
        self.mean = mean
        self.std = std
        self.rms = rms
        self.l2Norm = l2Norm
        self.valuesAreFloat = valuesAreFloat
    }

    /// `min`/`max` as JSON: a Float for Float values, else a Double.
    func extreme(_ v: Double?) -> JSONValue {
        guard let v else { return .null }
        return valuesAreFloat ? .float(Float(v)) : .double(v)
    }

    /// The stats as a JSON object (keys: count, min, max, mean, std, rms, l2_norm,
    /// fraction_zero, zero_count, nan_count, inf_count, pos_inf_count, neg_inf_count;
    /// nil statistics print as null).
    public var json: JSONValue {
        .object([
            ("count", .int(count)),
            ("min", extreme(min)),
            ("max", extreme(max)),
            ("mean", mean.map { .double($0) } ?? .null),
            ("std", std.map { .double($0) } ?? .null),
            ("rms", rms.map { .double($0) } ?? .null),
            ("l2_norm", .double(l2Norm)),
            ("fraction_zero", .double(fractionZero)),
            ("zero_count", .int(zeroCount)),
            ("nan_count", .int(nanCount)),
            ("inf_count", .int(infCount)),
            ("pos_inf_count", .int(positiveInfCount)),
            ("neg_inf_count", .int(negativeInfCount)),
        ])
    }
}

/// Streaming, mergeable statistics (see `TensorStats` for what is computed and why it is
/// deterministic). `add` takes a run that starts at a block boundary of the tensor (a
/// multiple of `blockSize` elements from its start) and cuts it into blocks; `merge`
/// appends the statistics of the run that follows. Callers split tensors into chunks of
/// `chunkSize` elements, accumulate each chunk on its own (on any thread), and merge the
/// chunks in order.
public struct StatsAccumulator: Sendable {
    /// Elements per block: one two-pass mean and squared-deviation sum, small enough to
    /// stay in L1 between the passes.
    public static let blockSize = 1024
    /// Elements per chunk, the unit of parallel work: 2^20 (4 MB of Float32), a multiple of
    /// `blockSize` and of every quantized block size (32, 256).
    public static let chunkSize = 1 << 20

    var count = 0, nan = 0, posInf = 0, negInf = 0, zero = 0
    /// Finite elements, their mean and Σ(x − mean)² (Chan's (n, mean, M2)), and Σx².
    var n = 0.0, mean = 0.0, m2 = 0.0, sumSquares = 0.0
    var lo = Double.infinity, hi = -Double.infinity
    var sawDouble = false

    public init() {}

    /// One block's figures.
    struct Block {
        var count = 0, nan = 0, posInf = 0, negInf = 0, zero = 0
        var n = 0, mean = 0.0, m2 = 0.0, sumSquares = 0.0
        var lo = Double.infinity, hi = -Double.infinity
    }

    /// Appends `values`, which start at a block boundary, block by block.
    public mutating func add(_ values: UnsafeBufferPointer<Float>) {
        guard let base = values.baseAddress else { return }
        var start = 0
        while start < values.count {
            let n = Swift.min(Self.blockSize, values.count - start)
            append(Self.floatBlock(base + start, n))
            start += n
        }
    }

    public mutating func add(_ values: UnsafeBufferPointer<Double>) {
        guard let base = values.baseAddress else { return }
        sawDouble = true
        var start = 0
        while start < values.count {
            let n = Swift.min(Self.blockSize, values.count - start)
            append(Self.doubleBlock(base + start, n))
            start += n
        }
    }

    public mutating func add(_ chunk: ValueChunk) {
        switch chunk {
        case let .float(b): add(b)
        case let .double(b): add(b)
        }
    }

    /// `values` (a whole tensor, or a run starting at a chunk boundary) chunk by chunk,
    /// merged in order: the same result as the parallel scan gives.
    public mutating func addChunked(_ values: UnsafeBufferPointer<Float>, chunkSize: Int = chunkSize) {
        var start = 0
        while start < values.count {
            let n = Swift.min(chunkSize, values.count - start)
            var chunk = StatsAccumulator()
            chunk.add(UnsafeBufferPointer(rebasing: values[start..<(start + n)]))
            merge(chunk)
            start += n
        }
    }

    private mutating func append(_ b: Block) {
        count += b.count
        nan += b.nan
        posInf += b.posInf
        negInf += b.negInf
        zero += b.zero
        sumSquares += b.sumSquares
        combine(n: Double(b.n), mean: b.mean, m2: b.m2)
        if b.n > 0 {
            lo = Swift.min(lo, b.lo)
            hi = Swift.max(hi, b.hi)
        }
    }

    /// Chan et al.'s update of (n, mean, M2) with another run's.
    private mutating func combine(n bn: Double, mean bmean: Double, m2 bm2: Double) {
        guard bn > 0 else { return }
        if n == 0 {
            n = bn; mean = bmean; m2 = bm2
            return
        }
        let total = n + bn
        let delta = bmean - mean
        mean += delta * (bn / total)
        m2 += bm2 + delta * delta * (n * bn / total)
        n = total
    }

    /// Appends the statistics of the run that follows this one.
    public mutating func merge(_ o: StatsAccumulator) {
        count += o.count
        nan += o.nan
        posInf += o.posInf
        negInf += o.negInf
        zero += o.zero
        sumSquares += o.sumSquares
        combine(n: o.n, mean: o.mean, m2: o.m2)
        lo = Swift.min(lo, o.lo)
        hi = Swift.max(hi, o.hi)
        sawDouble = sawDouble || o.sawDouble
    }

    public func finish() -> TensorStats {
        let finite = n > 0
        return TensorStats(count: count, nanCount: nan, positiveInfCount: posInf, negativeInfCount: negInf, zeroCount: zero,
                           min: finite ? lo : nil, max: finite ? hi : nil, mean: finite ? mean : nil,
                           std: finite ? (Swift.max(m2, 0) / n).squareRoot() : nil,
                           rms: finite ? (sumSquares / n).squareRoot() : nil,
                           l2Norm: sumSquares.squareRoot(), valuesAreFloat: !sawDouble)
    }

    // MARK: blocks

    /// A block of Float32 values, vectorized: eight Double lanes for Σx and Σx², added
    /// lane-wise and then in a fixed order (so the result is the same on every run). A NaN
    /// or ±Inf makes Σx or Σx² non-finite; such a block goes again through `slowBlock`,
    /// value by value.
    static func floatBlock(_ p: UnsafePointer<Float>, _ count: Int) -> Block {
        var b = Block()
        b.count = count
        b.n = count
        var sum = SIMD8<Double>(), squares = SIMD8<Double>()
        var lo = SIMD8<Float>(repeating: .infinity), hi = SIMD8<Float>(repeating: -.infinity)
        var zeros = SIMD8<Int32>()
        let raw = UnsafeRawPointer(p)
        var i = 0
        while i + 8 <= count {
            let v = raw.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
            let d = SIMD8<Double>(v)
            sum += d
            squares += d * d
            lo.replace(with: v, where: v .< lo)  // (pointwiseMin's generic call is slower)
            hi.replace(with: v, where: v .> hi)
            zeros.replace(with: zeros &+ 1, where: v .== 0)
            i += 8
        }
        var s = lanes(sum), q = lanes(squares)
        var l = Double(lanes(lo, Swift.min)), h = Double(lanes(hi, Swift.max))
        var z = Int(lanes(zeros, &+))
        while i < count {
            let x = Double(p[i])
            s += x
            q += x * x
            l = Swift.min(l, x)
            h = Swift.max(h, x)
            if x == 0 { z += 1 }
            i += 1
        }
        // Σx, Σx², min and max are all finite exactly when no value is NaN or ±Inf (a sum of
        // finite Float values widened to Double cannot overflow: |x| < 2^128, 1024 of them).
        if !s.isFinite || !q.isFinite {
            return slowBlock(count) { Double(p[$0]) }
        }
        b.sumSquares = q
        b.lo = l
        b.hi = h
        b.zero = z
        guard count > 0 else { return b }
        let m = s / Double(count)
        var dev = SIMD8<Double>()
        let mv = SIMD8<Double>(repeating: m)
        i = 0
        while i + 8 <= count {
            let d = SIMD8<Double>(raw.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)) - mv
            dev += d * d
            i += 8
        }
        var m2 = lanes(dev)
        while i < count {
            let d = Double(p[i]) - m
            m2 += d * d
            i += 1
        }
        b.mean = m
        b.m2 = m2
        return b
    }

    static func doubleBlock(_ p: UnsafePointer<Double>, _ count: Int) -> Block {
        slowBlock(count) { p[$0] }
    }

    /// Any block, one value at a time: NaN and ±Inf counted apart, the finite values summed
    /// in element order.
    static func slowBlock(_ count: Int, _ value: (Int) -> Double) -> Block {
        var b = Block()
        b.count = count
        var s = 0.0
        for i in 0..<count {
            let x = value(i)
            if x.isNaN { b.nan += 1; continue }
            if x == .infinity { b.posInf += 1; continue }
            if x == -.infinity { b.negInf += 1; continue }
            if x == 0 { b.zero += 1 }
            b.n += 1
            s += x
            b.sumSquares += x * x
            b.lo = Swift.min(b.lo, x)
            b.hi = Swift.max(b.hi, x)
        }
        guard b.n > 0 else { return b }
        b.mean = s / Double(b.n)
        for i in 0..<count {
            let x = value(i)
            if x.isFinite {
                let d = x - b.mean
                b.m2 += d * d
            }
        }
        return b
    }
}

/// The lanes of `v` added in a fixed order (pairwise, lane 0 first).
@inline(__always)
func lanes(_ v: SIMD8<Double>) -> Double {
    ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]))
}

@inline(__always)
func lanes<T: SIMDScalar>(_ v: SIMD8<T>, _ f: (T, T) -> T) -> T {
    f(f(f(v[0], v[1]), f(v[2], v[3])), f(f(v[4], v[5]), f(v[6], v[7])))
}
