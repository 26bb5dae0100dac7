import Foundation
import TTCore
import TTFormat
import TTInterop

/// A file read as named tensors, whatever its format: a `.ttc` checkpoint or trace (with
/// roles) or a safetensors file (without). Detected by content, not by extension.
public final class NamedTensorFile {
    public struct Item: Equatable, Sendable {
        public var name: String
        /// nil for a format without roles (safetensors).
        public var role: TensorRole?
        public var shape: [Int]
    }

    public let path: String
    /// In file order.
    public let items: [Item]
    /// The trace's own record, for a `.ttc` trace.
    public let trace: TraceInfo?
    /// The model config, for a `.ttc` file.
    public let config: ModelConfig?
    private let loader: (String) throws -> [Float]

    private init(path: String, items: [Item], trace: TraceInfo?, config: ModelConfig?, loader: @escaping (String) throws -> [Float]) {
        self.path = path
        self.items = items
        self.trace = trace
        self.config = config
        self.loader = loader
    }

    /// Opens `path`: a `.ttc` file (by its magic bytes) with `CheckpointReader`, anything else
    /// with `SafetensorsFile`. Throws their `FormatError`s.
    public static func open(_ path: String) throws -> NamedTensorFile {
        if try startsWithTTCMagic(path) {
            let reader = try CheckpointReader(path: path)
            let items = reader.entries.map { Item(name: $0.name, role: $0.role, shape: $0.shape) }
            return NamedTensorFile(path: path, items: items, trace: reader.trace, config: reader.config) { name in
                try reader.loadTensor(reader.entry(named: name)!)
            }
        }
        let file = try SafetensorsFile(path: path)
        let items = file.tensors.map { Item(name: $0.name, role: nil, shape: $0.shape) }
        return NamedTensorFile(path: path, items: items, trace: nil, config: nil) { name in
            let info = file.tensor(named: name)!
            guard info.dtype.isConvertibleToFloat else {
                throw FormatError(path: path, message: "tensor \(TerminalText.quoted(name)): dtype \(info.dtype.rawValue) cannot be compared as floats")
            }
            return try file.loadFloats(info)
        }
    }

    /// True when `path` is a `.ttc` trace (read from its header only).
    public static func isTrace(_ path: String) -> Bool {
        guard (try? startsWithTTCMagic(path)) == true, let reader = try? CheckpointReader(path: path) else { return false }
        return reader.trace != nil
    }

    public func item(named name: String) -> Item? { items.first { $0.name == name } }

    /// The values of tensor `name` as Float32, row-major.
    public func load(_ name: String) throws -> [Float] { try loader(name) }

    private static func startsWithTTCMagic(_ path: String) throws -> Bool {
        let file = try ReadableFile(path: path)
        guard file.size >= TTCFormat.magic.count else { return false }
        return try file.read(at: 0, count: TTCFormat.magic.count) == TTCFormat.magic
    }
}

/// A learner's tensors (A) compared with a trace (B) by name, in the trace's walk order
/// (forward, then backward, then updates; spec/TRACE.md), so the first wrong stage is the
/// first different row. Roles are ignored on the side that has none; shapes that differ
/// only by dimensions of size 1 (a learner's (S, D) against the trace's (1, S, D)) compare.
/// Each different tensor is checked for the usual mistakes (`TraceHints`).
public struct TraceDiff: Sendable {
    public enum Status: String, Sendable {
        case equal, different
        case shapeMismatch = "shape_mismatch"
        /// In A, not in the trace.
        case notInTrace = "not_in_trace"
    }

    public struct Row: Sendable {
        public var name: String
        public var role: TensorRole?
        public var status: Status
        public var shapeA: [Int]
        public var shapeB: [Int]?
        public var comparison: TensorComparison?
        /// ‖a − b‖ / ‖b‖ (inf when ‖b‖ = 0 < ‖a − b‖).
        public var relativeDifference: Double
        /// One line naming the recognised mistake, if any.
        public var hint: String?
    }

    /// The tolerance when none is given: a learner's float64 numbers against the engine's
    /// Float32 ones. Measured on the tutorial step (python/examples/backprop_tutorial.py): a
    /// correct float64 submission passes with atol 1e-7 and rtol 7.1e-7, 14× inside this
    /// rtol; the series' GELU′ at step 0, where |z| ≈ 0.1 and the two derivatives agree to
    /// first order, needs rtol 4.7e-5 (dz differs by up to 9.2e-7), 4.7× outside it. Larger
    /// models accumulate more Float32 rounding: loosen --rtol there.
    public static let defaultTolerance = Tolerance(absolute: 1e-7, relative: 1e-5)

    public var tolerance: Tolerance
    public var trace: TraceInfo
    /// The rows for A's tensors: the trace's order, then names the trace lacks.
    public var rows: [Row]
    /// Trace tensors A does not have (not counted as differences: a learner saves what they
    /// computed).
    public var notInA: Int
    public var traceCount: Int

    public var compared: Int { rows.filter { $0.status == .equal || $0.status == .different }.count }
    public var isEqual: Bool { compared > 0 && rows.allSatisfy { $0.status == .equal } }
    public var firstDifference: Row? { rows.first { $0.status != .equal } }

    /// Compares A with the trace B.
    /// - Precondition: `b.trace != nil`.
    public static func compare(_ a: NamedTensorFile, trace b: NamedTensorFile, tolerance: Tolerance) throws -> TraceDiff {
        precondition(b.trace != nil, "B must be a trace")
        let info = b.trace!
        var rows: [Row] = []
        var inB = Set<String>()
        var notInA = 0
        let hints = TraceHints(trace: b, targetCount: info.targetCount)
        var context = TraceHints.Context()
        for eb in b.items {
            inB.insert(eb.name)
            guard let ea = a.item(named: eb.name) else { notInA += 1; continue }
            var row = Row(name: eb.name, role: eb.role, status: .equal, shapeA: ea.shape, shapeB: eb.shape,
                          comparison: nil, relativeDifference: 0, hint: nil)
            let va = try a.load(ea.name)
            let vb = try b.load(eb.name)
            if squeezed(ea.shape) != squeezed(eb.shape) {
                row.status = .shapeMismatch
                row.hint = hints.shapeHint(a: va, shapeA: ea.shape, b: vb, shapeB: eb.shape, tolerance: tolerance)
            } else {
                let c = TensorComparison(va, vb, tolerance: tolerance)
                row.comparison = c
                row.relativeDifference = relative(va, vb)
                if !c.isClose {
                    row.status = .different
                    row.hint = try hints.hint(name: eb.name, a: va, b: vb, shape: eb.shape, tolerance: tolerance, context: &context)
                }
            }
            rows.append(row)
        }
        for ea in a.items where !inB.contains(ea.name) {
            rows.append(Row(name: ea.name, role: ea.role, status: .notInTrace, shapeA: ea.shape, shapeB: nil,
                            comparison: nil, relativeDifference: 0, hint: nil))
        }
        return TraceDiff(tolerance: tolerance, trace: info, rows: rows, notInA: notInA, traceCount: b.items.count)
    }

    /// The shape without its dimensions of size 1.
    static func squeezed(_ shape: [Int]) -> [Int] { shape.filter { $0 != 1 } }

    /// ‖a − b‖ / ‖b‖ in Double over finite pairs.
    static func relative(_ a: [Float], _ b: [Float]) -> Double {
        var d = 0.0, n = 0.0
        for i in 0..<a.count where a[i].isFinite && b[i].isFinite {
            let x = Double(a[i]) - Double(b[i])
            d += x * x
            n += Double(b[i]) * Double(b[i])
        }
        if d == 0 { return 0 }
        return n == 0 ? .infinity : (d / n).squareRoot()
    }
}

/// Recognises the usual backprop mistakes in a tensor that differs from the trace:
/// - a constant factor: A = c·B (the summed loss P − onehot instead of the mean gives c = N);
/// - a transpose: A equals B with its last two axes swapped;
/// - the GELU′ of the series' notebook, which pairs the tanh-form CDF 0.5·(1 + tanh u)
///   with the erf-form Gaussian PDF x·φ(x): A equals what that derivative gives at the
///   GELU′ stage (`grad.layers.N.ffn.pre`, and `layers.N.ffn.b1`, `layers.N.ffn.w1` computed
///   from it), and the tensors after it differ because of it.
/// A hint needs the mistake to explain A far better than the reference does:
/// ‖A − mistake(B)‖ ≤ `explainRatio`·‖A − B‖ (5× closer) and ≤ `explainRelative`·‖A‖.
public struct TraceHints {
    public static let explainRatio = 0.2
    public static let explainRelative = 1e-3

    let trace: NamedTensorFile
    let targetCount: Int

    /// What earlier rows found, for the rows after them.
    public struct Context: Sendable {
        /// The GELU′ row, once one was recognised.
        var geluStage: String?
        public init() {}
    }

    init(trace: NamedTensorFile, targetCount: Int) {
        self.trace = trace
        self.targetCount = targetCount
    }

    /// The hint for a same-shape tensor that differs, or nil.
    func hint(name: String, a: [Float], b: [Float], shape: [Int], tolerance: Tolerance, context: inout Context) throws -> String? {
        if let g = try geluHint(name: name, a: a, b: b) {
            if context.geluStage == nil { context.geluStage = name }
            return g
        }
        if let s = scaleHint(a: a, b: b) { return s }
        if shape.count >= 2, shape[shape.count - 1] == shape[shape.count - 2],
           explains(a, transposed(b, shape: shape), b) {
            return "transposed: equals the reference with its last two axes swapped"
        }
        if let stage = context.geluStage {
            return "follows from the GELU′ difference at \(stage)"
        }
        return nil
    }

    /// The hint for a tensor whose shape is the reference's with the last two axes swapped.
    func shapeHint(a: [Float], shapeA: [Int], b: [Float], shapeB: [Int], tolerance: Tolerance) -> String? {
        let sa = TraceDiff.squeezed(shapeA), sb = TraceDiff.squeezed(shapeB)
        guard sb.count >= 2, sa.count == sb.count else { return nil }
        var swapped = sb
        swapped.swapAt(sb.count - 1, sb.count - 2)
        guard sa == swapped else { return nil }
        let bt = transposed(b, shape: sb)
        guard distance(a, bt) <= TraceHints.explainRelative * norm(a) else { return nil }
        return "transposed: equals the reference \(DisplayText.shape(sb)) with its last two axes swapped (\(DisplayText.shape(sa)))"
    }

    /// A = c·B for a constant c ≠ 1.
    func scaleHint(a: [Float], b: [Float]) -> String? {
        var ab = 0.0, bb = 0.0
        for i in 0..<a.count where a[i].isFinite && b[i].isFinite {
            ab += Double(a[i]) * Double(b[i])
            bb += Double(b[i]) * Double(b[i])
        }
        guard bb > 0 else { return nil }
        let c = ab / bb
        guard abs(c - 1) > 1e-3, c != 0 else { return nil }
        let scaled = b.map { Float(Double($0) * c) }
        guard explains(a, scaled, b) else { return nil }
        let factor = String(format: "%.3f×", c)
        let n = Double(targetCount)
        if targetCount > 1, abs(c - n) <= 1e-3 * n {
            return "\(factor): the summed loss instead of the mean (dlogits = P − onehot without the /N, N = \(targetCount) targets)"
        }
        if targetCount > 1, abs(c * n - 1) <= 1e-3 {
            return "\(factor): divided by N = \(targetCount) once too often"
        }
        if abs(c + 1) <= 1e-3 { return "\(factor): the sign is flipped" }
        return "\(factor) the reference"
    }

    /// The series' GELU′ at the GELU′ stage of layer N: dz = da·(0.5·(1 + tanh u) + z·φ(z)).
    func geluHint(name: String, a: [Float], b: [Float]) throws -> String? {
        guard let (layer, part) = Self.ffnPart(name) else { return nil }
        let p = "layers.\(layer)."
        guard let da = try load("grad." + p + "ffn.gelu"), let z = try load("act." + p + "ffn.pre") else { return nil }
        var dz = [Double](repeating: 0, count: z.count)
        for i in 0..<z.count { dz[i] = Double(da[i]) * Self.seriesGELUPrime(Double(z[i])) }
        let counterfactual: [Float]
        switch part {
        case "pre":
            counterfactual = dz.map { Float($0) }
        case "b1":
            let F = a.count
            guard F > 0, dz.count % F == 0 else { return nil }
            var s = [Double](repeating: 0, count: F)
            for r in 0..<(dz.count / F) { for f in 0..<F { s[f] += dz[r * F + f] } }
            counterfactual = s.map { Float($0) }
        default:  // w1 (F, D) = dzᵀ·input
            guard let input = try load("act." + p + "ln2.out") ?? load("act." + p + "attn.out") else { return nil }
            return w1Hint(a: a, b: b, dz: dz, input: input)
        }
        guard explains(a, counterfactual, b) else { return nil }
        return Self.geluText
    }

    private func w1Hint(a: [Float], b: [Float], dz: [Double], input: [Float]) -> String? {
        // dz (R, F), input (R, D), dW1 (F, D); R·F = dz.count, R·D = input.count, F·D = a.count.
        let fd = Double(a.count), rf = Double(dz.count), rd = Double(input.count)
        let r = Int((rf * rd / fd).squareRoot().rounded())
        guard r > 0, dz.count % r == 0, input.count % r == 0 else { return nil }
        let F = dz.count / r, D = input.count / r
        guard F * D == a.count else { return nil }
        var w = [Double](repeating: 0, count: F * D)
        for row in 0..<r { for f in 0..<F {
            let g = dz[row * F + f]
            for d in 0..<D { w[f * D + d] += g * Double(input[row * D + d]) }
        } }
        guard explains(a, w.map { Float($0) }, b) else { return nil }
        return Self.geluText
    }

    static let geluText = "GELU′: equals da·(0.5·(1 + tanh u) + z·φ(z)), the series' gelu_derivative (tanh-form CDF with the erf-form PDF), not the derivative of the tanh GELU"

    /// (layer, "pre" | "b1" | "w1") for `grad.layers.N.ffn.pre`, `layers.N.ffn.b1`, `layers.N.ffn.w1`.
    static func ffnPart(_ name: String) -> (Int, String)? {
        var rest = Substring(name)
        let isGrad = rest.hasPrefix("grad.")
        if isGrad { rest = rest.dropFirst(5) }
        guard rest.hasPrefix("layers.") else { return nil }
        rest = rest.dropFirst(7)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]) else { return nil }
        let part = rest[rest.index(after: dot)...]
        if isGrad { return part == "ffn.pre" ? (layer, "pre") : nil }
        if part == "ffn.b1" { return (layer, "b1") }
        if part == "ffn.w1" { return (layer, "w1") }
        return nil
    }

    /// 0.5·(1 + tanh(√(2/π)·(x + 0.044715·x³))) + x·exp(−x²/2)/√(2π).
    public static func seriesGELUPrime(_ x: Double) -> Double {
        let u: Double = (2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)
        let cdf: Double = 0.5 * (1 + tanh(u))
        let pdf: Double = exp(-0.5 * x * x) / (2 * Double.pi).squareRoot()
        return cdf + x * pdf
    }

    private func load(_ name: String) throws -> [Float]? {
        guard trace.item(named: name) != nil else { return nil }
        return try trace.load(name)
    }

    /// True when `candidate` explains A far better than the reference B does.
    func explains(_ a: [Float], _ candidate: [Float], _ b: [Float]) -> Bool {
        guard a.count == candidate.count else { return false }
        let toCandidate = distance(a, candidate), toReference = distance(a, b)
        return toCandidate <= TraceHints.explainRatio * toReference && toCandidate <= TraceHints.explainRelative * norm(a)
    }

    func distance(_ a: [Float], _ b: [Float]) -> Double {
        var s = 0.0
        for i in 0..<min(a.count, b.count) where a[i].isFinite && b[i].isFinite {
            let d = Double(a[i]) - Double(b[i])
            s += d * d
        }
        return s.squareRoot()
    }

    func norm(_ a: [Float]) -> Double {
        var s = 0.0
        for x in a where x.isFinite { s += Double(x) * Double(x) }
        return s.squareRoot()
    }

    /// `x` with its last two axes swapped.
    func transposed(_ x: [Float], shape: [Int]) -> [Float] {
        let r = shape[shape.count - 2], c = shape[shape.count - 1]
        let batch = x.count / (r * c)
        var out = [Float](repeating: 0, count: x.count)
        for n in 0..<batch { for i in 0..<r { for j in 0..<c {
            out[n * r * c + j * r + i] = x[n * r * c + i * c + j]
        } } }
        return out
    }
}
