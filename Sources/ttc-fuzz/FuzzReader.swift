// libFuzzer target for the .ttc reader: preamble, header, metadata, directory, the `hash`
// section and every tensor (inflate, CRCs, SHA-256). Built with the fuzzer only by Tests/Fuzz/run.sh, which passes
// `-sanitize=fuzzer,address -D TTC_LIBFUZZER`; libFuzzer then supplies `main` and calls
// `LLVMFuzzerTestOneInput` for each input.
//
// In a normal `swift build` this is a plain executable, `ttc-fuzz FILE...`, that runs the
// same function once per file: handy to replay a crasher or a corpus without the fuzzer.
import TTFormat

#if canImport(Glibc)
import Glibc
#endif

/// Reads `bytes` as a .ttc image and loads every tensor. Returns 0 whether the file is
/// accepted or rejected; anything else (a trap, a non-FormatError error, a loaded tensor
/// whose value count disagrees with its shape) stops the process, which the fuzzer reports.
func fuzzOne(_ bytes: [UInt8]) -> Int32 {
    do {
        let reader = try CheckpointReader(bytes: bytes, name: "fuzz.ttc")
        _ = reader.storedModelDigest
        for entry in reader.entries {
            let values = try reader.loadTensor(entry, checkingDigest: true)
            if values.count != entry.elementCount { fatalError("tensor \(entry.name): \(values.count) values for shape \(entry.shape)") }
        }
    } catch is FormatError {
        return 0
    } catch {
        fatalError("non-FormatError thrown: \(error)")
    }
    return 0
}

/// Each input is tried as is and, when different, with its checksums made consistent
/// (`withFixedChecksums`): almost every mutation breaks a CRC, and without the second try
/// the fuzzer would rarely get past the preamble and header CRC checks.
func fuzzInput(_ bytes: [UInt8]) -> Int32 {
    _ = fuzzOne(bytes)
    let fixed = withFixedChecksums(bytes)
    if fixed != bytes { _ = fuzzOne(fixed) }
    return 0
}

/// CRC-32/ISO-HDLC (zlib's crc32), written out here so the harness checks the reader
/// against an independent implementation rather than its own.
let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
    var c = UInt32(n)
    for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    return c
}

func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
    return c ^ 0xFFFF_FFFF
}

func loadLE(_ b: [UInt8], _ at: Int, _ n: Int) -> UInt64 {
    var v: UInt64 = 0
    for i in 0..<n { v |= UInt64(b[at + i]) << (8 * UInt64(i)) }
    return v
}

func storeLE(_ b: inout [UInt8], _ at: Int, _ n: Int, _ v: UInt64) {
    for i in 0..<n { b[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
}

/// The input with every checksum recomputed where the structure can be followed: each
/// directory entry's stored CRC-32 (over the bytes it points at, if inside the input), then
/// the header CRC-32, then the preamble CRC-32 (spec/FORMAT.md §1, §4). Walks the structure
/// leniently and stops at the first thing that does not fit.
func withFixedChecksums(_ input: [UInt8]) -> [UInt8] {
    var b = input
    guard b.count >= 32 else { return b }
    let headerLength = loadLE(b, 16, 8)
    if headerLength <= UInt64(b.count - 32) {
        let hStart = 32, hEnd = 32 + Int(headerLength)
        var p = hStart
        while hEnd - p >= 12 {
            let tag = loadLE(b, p, 4), length = loadLE(b, p + 4, 8)
            p += 12
            guard length <= UInt64(hEnd - p) else { break }
            let end = p + Int(length)
            if tag == 0x5249_4454 { fixDirectory(&b, from: p, to: end) }
            p = end
        }
        storeLE(&b, 24, 4, UInt64(crc32(b[hStart..<hEnd])))
    }
    storeLE(&b, 28, 4, UInt64(crc32(b[0..<28])))
    return b
}

func fixDirectory(_ b: inout [UInt8], from start: Int, to end: Int) {
    var p = start
    func has(_ n: Int) -> Bool { n >= 0 && end - p >= n }
    guard has(8) else { return }
    let count = loadLE(b, p, 8)
    p += 8
    var i: UInt64 = 0
    while i < count {
        guard has(4) else { return }
        let nameLength = loadLE(b, p, 4)
        guard nameLength <= UInt64(end - p - 4) else { return }
        p += 4 + Int(nameLength)
        guard has(5) else { return }
        let rank = Int(b[p + 4])
        p += 5
        guard rank <= 64, has(8 * rank + 32) else { return }
        p += 8 * rank
        let offset = loadLE(b, p, 8), stored = loadLE(b, p + 8, 8)
        if offset <= UInt64(b.count), stored <= UInt64(b.count) - offset {
            storeLE(&b, p + 28, 4, UInt64(crc32(b[Int(offset)..<Int(offset + stored)])))
        }
        p += 32
        i += 1
    }
}

#if TTC_LIBFUZZER
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    return fuzzInput(bytes)
}

/// libFuzzer's driver entry point (LLVM >= 11).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

/// SwiftPM links executables with `main` = `<module>_main`; hand control to libFuzzer.
@_cdecl("ttc_fuzz_main")
public func ttcFuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var vector = argv
    return LLVMFuzzerRunDriver(&count, &vector) { data, size in fuzzTestOneInput(data, size) }
}
#else
@main
struct FuzzReplay {
    static func main() {
        let paths = CommandLine.arguments.dropFirst()
        if paths.isEmpty {
            print("usage: ttc-fuzz FILE...   (replays inputs through the fuzz target; Tests/Fuzz/run.sh builds the libFuzzer version)")
            exit(2)
        }
        for path in paths {
            let bytes: [UInt8]
            do {
                bytes = try ReadableFile.readAll(path, limit: 1 << 30)
            } catch {
                print(error)
                exit(2)
            }
            _ = fuzzInput(bytes)
            print("\(path): ok (\(bytes.count) bytes)")
        }
    }
}
#endif
