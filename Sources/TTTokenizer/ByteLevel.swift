import TTCore
// GPT-2's byte-to-unicode table (`bytes_to_unicode` in openai/gpt-2 `encoder.py`, the
// `ByteLevel` alphabet in Hugging Face tokenizers).
//
// Every byte gets one printable character so that a vocabulary of byte strings can be
// written as text (vocab.json, merges.txt, tokenizer.json):
// - the 188 bytes 0x21...0x7E, 0xA1...0xAC and 0xAE...0xFF stand for themselves
//   (`!`...`~`, `¡`...`¬`, `®`...`ÿ`);
// - the other 68 bytes (0x00...0x20, 0x7F...0xA0, 0xAD), in increasing order, get
//   U+0100, U+0101, ... U+0143. So the space 0x20 is `Ġ` (U+0120) and "\n" is `Ċ` (U+010A).
//
// The alphabet order (`alphabet`) is the order of the table's characters by code point:
// first the 188 self-standing bytes, then the 68 others. It is the id order of the 256
// byte tokens in GPT-2's vocabulary and in a tokenizers-trained ByteLevel BPE.

public enum ByteLevel {
    /// The character standing for byte `b` (index = byte value).
    public static let scalarForByte: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\0", count: 256)
        var next: UInt32 = 0x100
        for b in 0..<256 {
            if standsForItself(UInt8(b)) {
                table[b] = Unicode.Scalar(UInt8(b))
            } else {
                table[b] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The 256 bytes in alphabet order (the order of their characters' code points).
    public static let alphabet: [UInt8] = (0..<256).map { UInt8($0) }.sorted {
        scalarForByte[Int($0)].value < scalarForByte[Int($1)].value
    }

    /// Byte for each code point below 0x144 that is in the table, -1 elsewhere.
    private static let byteForScalarValue: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for b in 0..<256 { table[Int(scalarForByte[b].value)] = Int16(b) }
        return table
    }()

    /// Whether byte `b` is printed as itself.
    static func standsForItself(_ b: UInt8) -> Bool {
        (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
    }

    /// The byte that `scalar` stands for, or nil if it is not one of the 256 characters.
    public static func byte(for scalar: Unicode.Scalar) -> UInt8? {
        let v = Int(scalar.value)
        guard v < byteForScalarValue.count, byteForScalarValue[v] >= 0 else { return nil }
        return UInt8(byteForScalarValue[v])
    }

    /// `bytes` spelled in the byte-level alphabet (always valid Unicode, one character per byte).
    public static func spelling<S: Sequence>(of bytes: S) -> String where S.Element == UInt8 {
        var out = String.UnicodeScalarView()
        for b in bytes { out.append(scalarForByte[Int(b)]) }
        return String(out)
    }

    /// The bytes a byte-level spelling stands for, or nil if `text` has a character outside
    /// the 256 (for example a literal space, or any CJK character).
    public static func bytes(ofSpelling text: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.unicodeScalars.count)
        for s in text.unicodeScalars {
            guard let b = byte(for: s) else { return nil }
            out.append(b)
        }
        return out
    }

    /// The first character of `text` outside the byte-level alphabet, if any (for messages).
    static func firstForeignScalar(in text: String) -> Unicode.Scalar? {
        text.unicodeScalars.first { byte(for: $0) == nil }
    }
}
