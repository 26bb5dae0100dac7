import TTCore

/// The bounds every command applies to a checkpoint before it inflates any tensor, so a
/// small file of well-compressed zeros (the reader accepts up to 1032 raw bytes per stored
/// byte) cannot make `train`, `sample`, `plot` or `export` allocate gigabytes: the same
/// bounds for every command that reads one (spec/TRAINING.md, "Bounds").
///
/// - The model: at most `maxParameters` parameters, init's own limit, so every model
///   `init` makes passes. The parameter and AdamW tensors have the layout's shapes
///   (the reader checks), so each is at most that size too.
/// - Tensors of role `other` (carried through by `train`, skipped by the rest): at most
///   `maxOtherBytes` raw bytes in all.
public enum CheckpointBounds {
    /// Parameters of the largest model a command loads (init's limit): 2^27.
    public static let maxParameters = 1 << 27
    /// Raw bytes of all `other` tensors together: 1 GiB.
    public static let maxOtherBytes = 1 << 30

    /// - Throws: `InputError(path, ...)` naming the bound exceeded.
    public static func check(config: ModelConfig, entries: [TensorEntry], path: String) throws {
        let parameters = ParameterLayout.parameterCount(config)
        guard parameters <= maxParameters else {
            throw InputError(path, "\(parameters) parameters is more than the limit \(maxParameters)")
        }
        var otherBytes: UInt64 = 0
        for e in entries where e.role == .other {
            // Each raw length is below 2^62 (the reader's cap), and there are at most 2^20
            // entries, but add with a check anyway.
            let (sum, overflow) = otherBytes.addingReportingOverflow(e.rawLength)
            otherBytes = overflow ? .max : sum
        }
        guard otherBytes <= UInt64(maxOtherBytes) else {
            throw InputError(path, "its tensors of role other hold \(otherBytes) bytes, more than the limit \(maxOtherBytes)")
        }
    }

    /// `check(config:entries:path:)` on a reader's header.
    public static func check(_ reader: CheckpointReader) throws {
        try check(config: reader.config, entries: reader.entries, path: reader.path)
    }
}
