/// The check every command that uses a model's values makes first (`train`, `resume`,
/// `sample`, `export`, `eval`): a parameter that is NaN or infinite means training diverged,
/// and nothing computed from it is meaningful, so the model is refused with one line naming
/// the tensor instead of printing `<PAD> <PAD> …` or writing NaN on.
public enum FiniteValues {
    /// Index of the first value that is NaN or ±∞, if any.
    public static func firstNonFinite(_ values: UnsafeBufferPointer<Float>) -> Int? {
        // Bit test of the exponent (all ones for NaN and ±∞): a branch-free loop the
        // compiler vectorizes, then the exact index only when one is found.
        var any: UInt32 = 0
        for v in values { any |= (v.bitPattern & 0x7F80_0000) == 0x7F80_0000 ? 1 : 0 }
        guard any != 0 else { return nil }
        return values.firstIndex { !$0.isFinite }
    }

    /// Throws when `values` holds a value that is not finite.
    /// - Throws: `InputError(source, "tensor 'NAME' holds K non-finite values (first: nan at
    ///   index I); …")`.
    public static func require(_ values: UnsafeBufferPointer<Float>, tensor name: String, source: String) throws {
        guard let first = firstNonFinite(values) else { return }
        let count = values.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
        throw InputError(source, "tensor \(TerminalText.quoted(name, quote: "'")) holds \(count) non-finite value\(count == 1 ? "" : "s") "
                         + "(first: \(values[first]) at index \(first)); the model diverged and cannot be used: "
                         + "go back to an earlier checkpoint")
    }

    /// `require` on every parameter tensor of `tensors` (role `parameter`), in order.
    public static func requireFiniteParameters(_ tensors: [NamedTensor], source: String) throws {
        for t in tensors where t.role == .parameter {
            try t.values.withUnsafeBufferPointer { try require($0, tensor: t.name, source: source) }
        }
    }
}
