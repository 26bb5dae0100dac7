import Foundation
import TTCore
import TTFormat
import TTInterop

/// The passes over tensor values that `inspect --stats`, `inspect --verify` and `diff` make,
/// on several threads, with results that do not depend on the thread count.
///
/// Work is split by tensor and, for the raw formats (safetensors, GGUF), by chunk of
/// `StatsAccumulator.chunkSize` elements: each work item reads only its range (mapped and
/// unmapped again, so memory stays bounded by what the threads hold at once, not by the
/// file) and produces a partial result; partials are merged per tensor in chunk order.
/// A .ttc tensor is one zlib stream, so it is one work item (memory: the tensor, or the
/// pair for a diff) cut into the same chunks after inflating. Items are handed out largest
/// first. When several items fail, the error of the first in tensor order (then chunk
/// order) is the one reported.
public enum TensorScan {
    /// One tensor of a diff: A's tensor, B's, and whether B is stored transposed relative
    /// to A (a 2-D (rows, columns) in A is (columns, rows) in B).
    public struct Pair: Equatable, Sendable {
        public var a: String
        public var b: String
        public var transposed: Bool
        public init(a: String, b: String, transposed: Bool = false) {
            self.a = a
            self.b = b
            self.transposed = transposed
        }
    }

    /// The number of threads "all cores" means here.
    public static var defaultThreads: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// Statistics of each named tensor of `file` (which must be decodable), in order: the
    /// stats, or the error reading it (a damaged .ttc blob, an I/O error).
    /// `chunkSize` (a multiple of `StatsAccumulator.blockSize`) is the unit of work and of
    /// merging; results depend on it (not on `threads`), so keep the default but in tests.
    public static func stats(_ file: ModelFile, tensors names: [String], threads: Int = defaultThreads,
                             chunkSize: Int = StatsAccumulator.chunkSize) -> [Result<TensorStats, Error>] {
        let entries = names.map { name in file.tensor(named: name) }
        let counts = entries.map { Int($0?.elementCount ?? 0) }
        let whole = file.format == .ttc
        let partials = run(counts: counts, chunkSize: chunkSize, whole: { _ in whole }, threads: threads) { j, chunks, out in
            let reader = try file.reader(for: names[j])
            for k in chunks {
                let (start, n) = range(k, of: counts[j], chunkSize: chunkSize)
                var acc = StatsAccumulator()
                try reader.read(start: start, count: n) { acc.add($0) }
                out(k, acc)
            }
        }
        return partials.map { r in
            r.map { chunks in
                var acc = StatsAccumulator()
                for c in chunks { acc.merge(c) }
                return acc.finish()
            }
        }
    }

    /// Compares each pair (A's tensor against B's, same element count; with `transposed`,
    /// both 2-D and B's shape A's reversed), in order.
    public static func compare(_ a: ModelFile, _ b: ModelFile, pairs: [Pair], tolerance: Tolerance,
                               threads: Int = defaultThreads, chunkSize: Int = StatsAccumulator.chunkSize) -> [Result<TensorComparison, Error>] {
        let counts = pairs.map { Int(a.tensor(named: $0.a)?.elementCount ?? 0) }
        let whole: (Int) -> Bool = { j in a.format == .ttc || b.format == .ttc || pairs[j].transposed }
        let partials = run(counts: counts, chunkSize: chunkSize, whole: whole, threads: threads) { j, chunks, out in
            let p = pairs[j]
            let ra = try a.reader(for: p.a)
            if p.transposed {
                // B is (columns, rows) of A's (rows, columns): read it whole and transpose.
                guard let shape = a.tensor(named: p.a)?.shape, shape.count == 2 else {
                    preconditionFailure("a transposed pair must be 2-D")
                }
                let bt = try transposedValues(b, p.b, rows: shape[1], columns: shape[0])
                for k in chunks {
                    let (start, n) = range(k, of: counts[j], chunkSize: chunkSize)
                    var acc = ComparisonAccumulator(tolerance: tolerance, start: start)
                    try ra.read(start: start, count: n) { ca in
                        bt.withChunk(start, n) { cb in acc.add(ca, cb) }
                    }
                    out(k, acc)
                }
                return
            }
            let rb = try b.reader(for: p.b)
            for k in chunks {
                let (start, n) = range(k, of: counts[j], chunkSize: chunkSize)
                var acc = ComparisonAccumulator(tolerance: tolerance, start: start)
                try ra.read(start: start, count: n) { ca in
                    try rb.read(start: start, count: n) { cb in acc.add(ca, cb) }
                }
                out(k, acc)
            }
        }
        return partials.map { r in
            r.map { chunks in
                var acc = ComparisonAccumulator(tolerance: tolerance)
                for c in chunks { acc.merge(c) }
                return acc.finish()
            }
        }
    }

    /// Chunk k of a tensor of `count` elements: (start, length).
    static func range(_ k: Int, of count: Int, chunkSize: Int) -> (Int, Int) {
        let start = k * chunkSize
        return (start, min(chunkSize, count - start))
    }

    /// Runs the work items of tensors with `counts` elements (one item per chunk, or per
    /// tensor where `whole(j)`), each calling `work(j, chunks, out)` that reports the partial
    /// of every chunk it covers through `out`; returns each tensor's partials in chunk order,
    /// or the first error of its items.
    static func run<P>(counts: [Int], chunkSize: Int, whole: (Int) -> Bool, threads: Int,
                       _ work: (Int, Range<Int>, (Int, P) -> Void) throws -> Void) -> [Result<[P], Error>] {
        precondition(chunkSize > 0 && chunkSize % StatsAccumulator.blockSize == 0, "chunks are whole blocks")
        var items: [(tensor: Int, chunks: Range<Int>)] = []
        var firstItem: [Int] = []
        for (j, n) in counts.enumerated() {
            firstItem.append(items.count)
            let chunks = (n + chunkSize - 1) / chunkSize
            if whole(j) || chunks <= 1 {
                items.append((j, 0..<chunks))
            } else {
                for k in 0..<chunks { items.append((j, k..<(k + 1))) }
            }
        }
        let offsets = counts.reduce(into: [0]) { $0.append($0.last! + ($1 + chunkSize - 1) / chunkSize) }
        let slots = UnsafeMutableBufferPointer<P?>.allocate(capacity: offsets.last!)
        slots.initialize(repeating: nil)
        let errors = UnsafeMutableBufferPointer<Error?>.allocate(capacity: items.count)
        errors.initialize(repeating: nil)
        defer {
            slots.deinitialize()
            slots.deallocate()
            errors.deinitialize()
            errors.deallocate()
        }
        nonisolated(unsafe) let slotsOut = slots, errorsOut = errors
        let sizes = items.map { min(counts[$0.tensor], $0.chunks.count * chunkSize) + 1 }
        forEachLargestFirst(sizes: sizes, threads: threads) { i in
            let item = items[i]
            do {
                try work(item.tensor, item.chunks) { k, partial in slotsOut[offsets[item.tensor] + k] = partial }
            } catch {
                errorsOut[i] = error
            }
        }
        var out: [Result<[P], Error>] = []
        for j in counts.indices {
            let end = j + 1 < counts.count ? firstItem[j + 1] : items.count
            if let error = (firstItem[j]..<end).lazy.compactMap({ errors[$0] }).first {
                out.append(.failure(error))
            } else {
                out.append(.success((offsets[j]..<offsets[j + 1]).map { slots[$0]! }))
            }
        }
        return out
    }

    /// One tensor's values transposed from (rows, columns) to (columns, rows).
    static func transposedValues(_ file: ModelFile, _ name: String, rows: Int, columns: Int) throws -> TensorValues {
        switch try file.values(of: name) {
        case let .float(v): return .float(GPT2Naming.transpose(v, rows: rows, columns: columns))
        case let .double(v): return .double(GPT2Naming.transpose(v, rows: rows, columns: columns))
        }
    }
}

extension TensorValues {
    /// Calls `body` with elements [start, start + count).
    func withChunk(_ start: Int, _ count: Int, _ body: (ValueChunk) throws -> Void) rethrows {
        switch self {
        case let .float(v): try v.withUnsafeBufferPointer { try body(.float(UnsafeBufferPointer(rebasing: $0[start..<(start + count)]))) }
        case let .double(v): try v.withUnsafeBufferPointer { try body(.double(UnsafeBufferPointer(rebasing: $0[start..<(start + count)]))) }
        }
    }
}
