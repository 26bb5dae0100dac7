// Fixed constants of format version 1 and the reader's caps. spec/FORMAT.md lists each.

/// Framing constants of the .ttc format.
public enum TTCFormat {
    /// 0x89 'T' 'T' 'C' '\r' '\n' 0x1A '\n' (PNG-style: high bit, CR-LF, ^Z, LF catch
    /// 7-bit and newline-translating transfers).
    public static let magic: [UInt8] = [0x89, 0x54, 0x54, 0x43, 0x0D, 0x0A, 0x1A, 0x0A]
    /// The major version this code reads and writes; any other major is rejected.
    public static let major: UInt16 = 1
    /// The minor version this code writes (1.1: the `hash` section, critical sections,
    /// unknown tensor codes, the content rules); any minor of major 1 is read.
    public static let minor: UInt16 = 1
    /// Bytes before the header: magic, major, minor, reserved, header length, two CRCs.
    public static let preambleSize = 32
    /// Section tags: the ASCII bytes "META" and "TDIR" read as a little-endian u32.
    public static let metadataTag: UInt32 = 0x4154_454D
    public static let directoryTag: UInt32 = 0x5249_4454
    /// "hash": the per-tensor SHA-256 digests (format 1.1). Ancillary: first letter lowercase.
    public static let digestTag: UInt32 = 0x6873_6168

    /// Whether a section with this tag is critical: bit 5 (0x20) of its first byte (in file
    /// order) is clear, as in an uppercase ASCII letter. A reader must reject a file with a
    /// critical section it does not know, and skips unknown ancillary ones (spec §2).
    public static func isCritical(_ tag: UInt32) -> Bool { tag & 0x20 == 0 }
}

/// Caps the reader enforces before trusting any size (and the writer before writing).
public enum FormatLimits {
    /// Header bytes (all sections). A header must also fit inside the file.
    public static let maxHeaderLength = 256 << 20
    public static let maxTensorCount = 1 << 20
    /// Tensor name, UTF-8 bytes.
    public static let maxNameLength = 1024
    public static let maxRank = 8
    public static let maxMetadataKeys = 1 << 16
    /// Metadata key, UTF-8 bytes.
    public static let maxKeyLength = 256
    /// Any metadata string value (a vocabulary token, the tool version, ...), UTF-8 bytes.
    public static let maxStringLength = 1 << 20
    /// raw length ≤ 1032 × stored length: deflate cannot do better (a 258-byte match
    /// costs at least 2 bits), so a larger claim is a lie.
    public static let maxExpansionRatio: UInt64 = 1032
    /// Largest raw length (and product(shape) × element size) a directory entry may
    /// claim: 2^62 − 1 bytes. Larger claims are rejected as `sizeOverflow`.
    public static let maxRawLength: UInt64 = (1 << 62) - 1
}
