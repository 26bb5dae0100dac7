// libFuzzer target for the foreign-format readers of TTInterop: GGUF (header, metadata,
// tensor infos, every decodable tensor's values) and safetensors (header JSON, entries,
// every decodable tensor's values). Built with the fuzzer only by Tests/Fuzz/run-interop.sh,
// which passes `-sanitize=fuzzer,address -parse-as-library -D INTEROP_LIBFUZZER`; the format
// is chosen with the INTEROP_FUZZ environment variable (gguf or safetensors).
//
// In a normal `swift build` this is a plain executable, `interop-fuzz gguf|safetensors
// FILE...`, that runs the same check once per file: to replay a crasher or a corpus without
// the fuzzer.
import TTCore
import TTInterop

#if canImport(Glibc)
import Glibc
#endif

/// Parses `data` as `format` and decodes every tensor (`ModelFileFuzzing`); a finding (an
/// error other than `ModelFileError`, or value counts that disagree with the header) stops
/// the process, which the fuzzer reports. A trap does the same by itself.
func runOne(_ format: String, _ data: UnsafeRawBufferPointer) {
    let ok = format == "safetensors" ? ModelFileFuzzing.safetensors(data) : ModelFileFuzzing.gguf(data)
    if !ok { fatalError("finding: the \(format) reader threw an unexpected error or decoded a wrong number of values") }
}

#if INTEROP_LIBFUZZER
nonisolated(unsafe) var fuzzFormat = "gguf"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    runOne(fuzzFormat, UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
    return 0
}

/// libFuzzer's driver entry point (LLVM >= 11).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

/// SwiftPM links executables with `main` = `<module>_main`; hand control to libFuzzer.
@_cdecl("interop_fuzz_main")
public func interopFuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    if let f = getenv("INTEROP_FUZZ") { fuzzFormat = String(cString: f) }
    var count = argc
    var vector = argv
    return LLVMFuzzerRunDriver(&count, &vector) { data, size in fuzzTestOneInput(data, size) }
}
#else
@main
struct InteropFuzzReplay {
    static func main() {
        let args = Array(CommandLine.arguments.dropFirst())
        guard let format = args.first, format == "gguf" || format == "safetensors", args.count >= 2 else {
            print("usage: interop-fuzz gguf|safetensors FILE...   (Tests/Fuzz/run-interop.sh builds the libFuzzer version)")
            exit(2)
        }
        for path in args.dropFirst() {
            guard let f = fopen(path, "rb") else { print("\(path): cannot open"); exit(2) }
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = fread(&buffer, 1, buffer.count, f)
                if n <= 0 { break }
                bytes.append(contentsOf: buffer[0..<n])
            }
            fclose(f)
            bytes.withUnsafeBytes { runOne(format, $0) }
            print("\(path): ok (\(bytes.count) bytes)")
        }
    }
}
#endif
