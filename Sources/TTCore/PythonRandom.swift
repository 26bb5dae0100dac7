import Foundation

/// CPython's `random.Random`: MT19937 seeded by `init_by_array`, `random()` with 53-bit
/// resolution, `gauss` by Box–Muller with a cached second value, and `getrandbits` /
/// `randbelow` as `random.randrange` uses them.
///
/// Guarantees: for the same seed, the same sequence as CPython's `random.seed(seed)`
/// (the tutorial series draws its initial weights this way), and a state that can be
/// saved and restored exactly (`State`).
public struct PythonRandom: Sendable, Equatable {
    static let n = 624
    static let m = 397

    /// The generator's full state: 624 words, the position in them, and the cached
    /// second Gaussian. Restoring it continues the sequence exactly.
    public struct State: Equatable, Sendable {
        public var words: [UInt32]
        public var index: Int
        public var gaussNext: Double?
        public init(words: [UInt32], index: Int, gaussNext: Double?) {
            self.words = words
            self.index = index
            self.gaussNext = gaussNext
        }

        /// True when the state is one MT19937 can continue from: 624 words, an index in
        /// 0...624, and not all words zero.
        public var isValid: Bool {
            words.count == PythonRandom.n && (0...PythonRandom.n).contains(index) && words.contains { $0 != 0 }
                && (gaussNext.map { $0.isFinite } ?? true)
        }
    }

    private var mt: [UInt32]
    private var mti: Int
    private var gaussNext: Double?

    // Undo (`mark()` / `rollBack()`): the position and cached Gaussian at the mark, and the
    // words, copied only when a twist is about to replace them (once per 624 words drawn),
    // into storage allocated by the first mark. Not part of the generator's state.
    private var markedIndex = -1
    private var markedGaussNext: Double? = nil
    private var wordsAtMark: [UInt32] = []
    private var wordsSaved = false

    /// Generators are equal when they will produce the same sequence (an undo mark is not
    /// part of that).
    public static func == (a: PythonRandom, b: PythonRandom) -> Bool {
        a.mt == b.mt && a.mti == b.mti && a.gaussNext == b.gaussNext
    }

    /// Seeds like CPython's `random.seed(seed)` for an int: the key is |seed| split into
    /// 32-bit words, least significant first (`[0]` for zero).
    public init(seed: UInt64) {
        var key: [UInt32] = []
        var s = seed
        repeat {
            key.append(UInt32(truncatingIfNeeded: s))
            s >>= 32
        } while s != 0
        mt = [UInt32](repeating: 0, count: Self.n)
        mti = Self.n
        gaussNext = nil
        initByArray(key)
    }

    /// Restores a saved state.
    /// - Precondition: `state.isValid`.
    public init(state: State) {
        precondition(state.isValid, "invalid MT19937 state")
        mt = state.words
        mti = state.index
        gaussNext = state.gaussNext
    }

    public var state: State { State(words: mt, index: mti, gaussNext: gaussNext) }

    /// Remembers the current state, so `rollBack()` can return to it. Costs three stores
    /// (and, at the first mark only, the allocation of a 2.5 KB buffer): the words are
    /// copied only if a twist is about to replace them, which happens once every 624 draws.
    /// The training loop marks before every step's draws and rolls back a step it does not
    /// apply; nothing is allocated per step.
    public mutating func mark() {
        if wordsAtMark.count != Self.n { wordsAtMark = [UInt32](repeating: 0, count: Self.n) }
        markedIndex = mti
        markedGaussNext = gaussNext
        wordsSaved = false
    }

    /// Returns to the state at the last `mark()`, exactly: the draws since continue as if
    /// they had not been made.
    /// - Precondition: `mark()` was called.
    public mutating func rollBack() {
        precondition(markedIndex >= 0, "PythonRandom.rollBack without mark")
        if wordsSaved {
            mt.withUnsafeMutableBufferPointer { target in
                wordsAtMark.withUnsafeBufferPointer { source in _ = target.update(fromContentsOf: source) }
            }
            wordsSaved = false
        }
        mti = markedIndex
        gaussNext = markedGaussNext
    }

    private mutating func initGenrand(_ s: UInt32) {
        mt[0] = s
        for i in 1..<Self.n {
            mt[i] = 1_812_433_253 &* (mt[i - 1] ^ (mt[i - 1] >> 30)) &+ UInt32(i)
        }
        mti = Self.n
    }

    private mutating func initByArray(_ key: [UInt32]) {
        initGenrand(19_650_218)
        var i = 1, j = 0
        for _ in 0..<max(Self.n, key.count) {
            mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) &* 1_664_525)) &+ key[j] &+ UInt32(j)
            i += 1; j += 1
            if i >= Self.n { mt[0] = mt[Self.n - 1]; i = 1 }
            if j >= key.count { j = 0 }
        }
        for _ in 0..<(Self.n - 1) {
            mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) &* 1_566_083_941)) &- UInt32(i)
            i += 1
            if i >= Self.n { mt[0] = mt[Self.n - 1]; i = 1 }
        }
        mt[0] = 0x8000_0000
    }

    private mutating func twist() {
        if markedIndex >= 0 && !wordsSaved {
            wordsAtMark.withUnsafeMutableBufferPointer { target in
                mt.withUnsafeBufferPointer { source in _ = target.update(fromContentsOf: source) }
            }
            wordsSaved = true
        }
        let upper: UInt32 = 0x8000_0000, lower: UInt32 = 0x7fff_ffff, matrixA: UInt32 = 0x9908_b0df
        for k in 0..<Self.n {
            let y = (mt[k] & upper) | (mt[(k + 1) % Self.n] & lower)
            mt[k] = mt[(k + Self.m) % Self.n] ^ (y >> 1) ^ ((y & 1) != 0 ? matrixA : 0)
        }
        mti = 0
    }

    /// The next 32-bit output (`genrand_uint32`).
    public mutating func nextUInt32() -> UInt32 {
        if mti >= Self.n { twist() }
        var y = mt[mti]
        mti += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9d2c_5680
        y ^= (y << 15) & 0xefc6_0000
        y ^= y >> 18
        return y
    }

    /// `random.random()`: a Double in [0, 1) with 53 random bits.
    public mutating func random() -> Double {
        let a = Double(nextUInt32() >> 5), b = Double(nextUInt32() >> 6)
        return (a * 67_108_864.0 + b) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// `random.gauss(mu, sigma)`, computed in Double exactly as CPython does.
    public mutating func gauss(mu: Double = 0, sigma: Double = 1) -> Double {
        var z = gaussNext
        gaussNext = nil
        if z == nil {
            let x2pi = random() * 2 * Double.pi
            let g2rad = (-2.0 * Foundation.log(1.0 - random())).squareRoot()
            z = Foundation.cos(x2pi) * g2rad
            gaussNext = Foundation.sin(x2pi) * g2rad
        }
        return mu + z! * sigma
    }

    /// `random.getrandbits(k)` for 0 ≤ k ≤ 64: words are filled least significant first,
    /// the last one shifted down to its remaining bits.
    public mutating func getrandbits(_ k: Int) -> UInt64 {
        precondition((0...64).contains(k))
        if k == 0 { return 0 }
        if k <= 32 { return UInt64(nextUInt32() >> (32 - k)) }
        let low = UInt64(nextUInt32())
        let high = UInt64(nextUInt32() >> (64 - k))
        return low | (high << 32)
    }

    /// `random.randrange(n)` for n ≥ 1: rejection sampling on `getrandbits(n.bit_length())`,
    /// so the sequence matches CPython's.
    public mutating func randbelow(_ n: UInt64) -> UInt64 {
        precondition(n >= 1)
        let k = 64 - n.leadingZeroBitCount
        var r = getrandbits(k)
        while r >= n { r = getrandbits(k) }
        return r
    }
}
