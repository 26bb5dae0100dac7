import TTCore
import TTFormat

/// A ggml tensor type: its number in GGUF tensor infos, name, block size (elements) and
/// type size (bytes per block). The table is gguf-py 0.19.0's `GGMLQuantizationType` and
/// `GGML_QUANT_SIZES` (gguf/constants.py), which mirror ggml.h / ggml.c `type_traits`.
public struct GGMLType: Equatable, Hashable, Sendable {
    public let raw: UInt32
    public let name: String
    public let blockSize: Int
    public let typeSize: Int

    /// How values are decoded, or nil for types whose values this module lists but does
    /// not decode (K-quants, IQ types, Q4_1, Q5_x, Q8_1, TQ, MXFP4, NVFP4, Q1_0).
    public var encoding: ElementEncoding? {
        switch name {
        case "F32": return .f32
        case "F16": return .f16
        case "BF16": return .bf16
        case "F64": return .f64
        case "I8": return .i8
        case "I16": return .i16
        case "I32": return .i32
        case "I64": return .i64
        case "Q8_0": return .q8_0
        case "Q4_0": return .q4_0
        default: return nil
        }
    }

    static let qkK = 256

    /// Every type ggml defines today, by number.
    public static let all: [GGMLType] = [
        GGMLType(raw: 0, name: "F32", blockSize: 1, typeSize: 4),
        GGMLType(raw: 1, name: "F16", blockSize: 1, typeSize: 2),
        GGMLType(raw: 2, name: "Q4_0", blockSize: 32, typeSize: 2 + 16),
        GGMLType(raw: 3, name: "Q4_1", blockSize: 32, typeSize: 2 + 2 + 16),
        GGMLType(raw: 6, name: "Q5_0", blockSize: 32, typeSize: 2 + 4 + 16),
        GGMLType(raw: 7, name: "Q5_1", blockSize: 32, typeSize: 2 + 2 + 4 + 16),
        GGMLType(raw: 8, name: "Q8_0", blockSize: 32, typeSize: 2 + 32),
        GGMLType(raw: 9, name: "Q8_1", blockSize: 32, typeSize: 4 + 4 + 32),
        GGMLType(raw: 10, name: "Q2_K", blockSize: 256, typeSize: 2 + 2 + qkK / 16 + qkK / 4),
        GGMLType(raw: 11, name: "Q3_K", blockSize: 256, typeSize: 2 + qkK / 4 + qkK / 8 + 12),
        GGMLType(raw: 12, name: "Q4_K", blockSize: 256, typeSize: 2 + 2 + qkK / 2 + 12),
        GGMLType(raw: 13, name: "Q5_K", blockSize: 256, typeSize: 2 + 2 + qkK / 2 + qkK / 8 + 12),
        GGMLType(raw: 14, name: "Q6_K", blockSize: 256, typeSize: 2 + qkK / 2 + qkK / 4 + qkK / 16),
        GGMLType(raw: 15, name: "Q8_K", blockSize: 256, typeSize: 4 + qkK + qkK / 8),
        GGMLType(raw: 16, name: "IQ2_XXS", blockSize: 256, typeSize: 2 + qkK / 4),
        GGMLType(raw: 17, name: "IQ2_XS", blockSize: 256, typeSize: 2 + qkK / 4 + qkK / 32),
        GGMLType(raw: 18, name: "IQ3_XXS", blockSize: 256, typeSize: 2 + qkK / 4 + qkK / 8),
        GGMLType(raw: 19, name: "IQ1_S", blockSize: 256, typeSize: 2 + qkK / 8 + qkK / 16),
        GGMLType(raw: 20, name: "IQ4_NL", blockSize: 32, typeSize: 2 + 16),
        GGMLType(raw: 21, name: "IQ3_S", blockSize: 256, typeSize: 2 + qkK / 4 + qkK / 8 + qkK / 32 + 4),
        GGMLType(raw: 22, name: "IQ2_S", blockSize: 256, typeSize: 2 + qkK / 4 + qkK / 16),
        GGMLType(raw: 23, name: "IQ4_XS", blockSize: 256, typeSize: 2 + 2 + qkK / 2 + qkK / 64),
        GGMLType(raw: 24, name: "I8", blockSize: 1, typeSize: 1),
        GGMLType(raw: 25, name: "I16", blockSize: 1, typeSize: 2),
        GGMLType(raw: 26, name: "I32", blockSize: 1, typeSize: 4),
        GGMLType(raw: 27, name: "I64", blockSize: 1, typeSize: 8),
        GGMLType(raw: 28, name: "F64", blockSize: 1, typeSize: 8),
        GGMLType(raw: 29, name: "IQ1_M", blockSize: 256, typeSize: qkK / 8 + qkK / 16 + qkK / 32),
        GGMLType(raw: 30, name: "BF16", blockSize: 1, typeSize: 2),
        GGMLType(raw: 34, name: "TQ1_0", blockSize: 256, typeSize: 2 + 4 * 13),
        GGMLType(raw: 35, name: "TQ2_0", blockSize: 256, typeSize: 2 + 64),
        GGMLType(raw: 39, name: "MXFP4", blockSize: 32, typeSize: 1 + 16),
        GGMLType(raw: 40, name: "NVFP4", blockSize: 64, typeSize: 4 + 32),
        GGMLType(raw: 41, name: "Q1_0", blockSize: 128, typeSize: 2 + 16),
    ]

    /// Numbers ggml once used and removed (their block size is now 0: no layout).
    public static let removed: [UInt32: String] = [
        4: "Q4_2", 5: "Q4_3", 31: "Q4_0_4_4", 32: "Q4_0_4_8", 33: "Q4_0_8_8",
        36: "IQ4_NL_4_4", 37: "IQ4_NL_4_8", 38: "IQ4_NL_8_8",
    ]

    static let byRaw: [UInt32: GGMLType] = Dictionary(uniqueKeysWithValues: all.map { ($0.raw, $0) })

    public static func named(_ name: String) -> GGMLType? { all.first { $0.name == name } }
}
