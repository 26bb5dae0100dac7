import TTCore
/// Summary statistics of one tensor, as `inspect --stats` prints them.
///
/// Guarantees:
/// - Every sum is accumulated in Double in element order (one thread), so the result
///   depends only on the values, never on thread count or platform.
/// - NaN and ±Inf elements are counted but left out of the moments: `min`, `max`, `mean`,
///   `std`, `rms` and `l2Norm` are over the finite elements only. Those that have no
///   finite element to summarize are nil.
/// - `std` is the population standard deviation (divides by the finite count, like
///   numpy's default `ddof=0`), computed in two passes around the mean for accuracy.
/// - `fractionZero` is zeros (+0 and −0) over all elements, NaN and Inf included.
public struct TensorStats: Equatable, Sendable {
    /// All elements.
    public var count: Int
    public var nanCount: Int
    public var positiveInfCount: Int
    public var negativeInfCount: Int
    /// Elements equal to zero (+0 or −0).
    public var zeroCount: Int
    public var min: Float?
    public var max: Float?
    public var mean: Double?
    public var std: Double?
    /// √(Σx²/n) over the finite elements.
    public var rms: Double?
    /// √(Σx²) over the finite elements (0 when there are none).
    public var l2Norm: Double

    public var infCount: Int { positiveInfCount + negativeInfCount }
    public var finiteCount: Int { count - nanCount - infCount }
    /// `zeroCount / count`, 0 for an empty tensor.
    public var fractionZero: Double { count == 0 ? 0 : Double(zeroCount) / Double(count) }

    public init(_ values: UnsafeBufferPointer<Float>) {
        count = values.count
        var nan = 0, posInf = 0, negInf = 0, zero = 0
        var lo = Float.infinity, hi = -Float.infinity
        var sum = 0.0, sumSquares = 0.0
        for x in values {
            if x.isNaN { nan += 1; continue }
            if x.isInfinite {
                if x > 0 { posInf += 1 } else { negInf += 1 }
                continue
            }
            if x == 0 { zero += 1 }
            if x < lo { lo = x }
            if x > hi { hi = x }
            let d = Double(x)
            sum += d
            sumSquares += d * d
        }
        nanCount = nan
        positiveInfCount = posInf
        negativeInfCount = negInf
        zeroCount = zero
        l2Norm = sumSquares.squareRoot()
        let n = count - nan - posInf - negInf
        guard n > 0 else {
            min = nil; max = nil; mean = nil; std = nil; rms = nil
            return
        }
        min = lo
        max = hi
        let m = sum / Double(n)
        var squaredDeviations = 0.0
        for x in values where x.isFinite {
            let d = Double(x) - m
            squaredDeviations += d * d
        }
        mean = m
        std = (squaredDeviations / Double(n)).squareRoot()
        rms = (sumSquares / Double(n)).squareRoot()
    }

    public init(_ values: [Float]) {
        self = values.withUnsafeBufferPointer { TensorStats($0) }
    }

    /// The stats as a JSON object (keys: count, min, max, mean, std, rms, l2_norm,
    /// fraction_zero, zero_count, nan_count, inf_count, pos_inf_count, neg_inf_count;
    /// nil statistics print as null).
    public var json: JSONValue {
        .object([
            ("count", .int(count)),
            ("min", min.map { .float($0) } ?? .null),
            ("max", max.map { .float($0) } ?? .null),
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
