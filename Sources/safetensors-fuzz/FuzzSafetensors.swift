// libFuzzer target for the safetensors reader and importer: header length, the JSON header
// (HeaderJSON), dtypes, shapes, data offsets, every tensor's bytes and floats, and the
// import of a checkpoint from the file (config inference, `__metadata__` vocabulary, loss
// history and session starts). Built with the fuzzer only by Tests/Fuzz/run.sh safetensors,
// which passes `-sanitize=fuzzer,address -D TTC_LIBFUZZER`; libFuzzer then supplies `main`.
//
// In a normal `swift build` this is a plain executable, `safetensors-fuzz FILE...`, that
// runs the same function once per file: to replay a crasher or a corpus without the fuzzer.
//
// The reader opens files by path (its one file layer), so each input is written to a file
// under /dev/shm (memory) and read from there.
import TTCore
import TTFormat
import TTInterop

#if canImport(Glibc)
import Glibc
#endif

/// The scratch file inputs are written to: /dev/shm when it exists, else /tmp.
let scratchPath: String = {
    let dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
    return "\(dir)/safetensors-fuzz-\(getpid()).safetensors"
}()

func writeScratch(_ bytes: [UInt8]) {
    let fd = open(scratchPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { fatalError("cannot create \(scratchPath)") }
    var done = 0
    bytes.withUnsafeBytes { raw in
        while done < raw.count {
            let n = write(fd, raw.baseAddress! + done, raw.count - done)
            guard n > 0 else { fatalError("cannot write \(scratchPath)") }
            done += n
        }
    }
    close(fd)
}

/// Every failure must be an error whose description is one line naming the file (the
/// reader's contract); anything else — a trap, a multi-line or anonymous error, bytes or
/// values that disagree with the header — stops the process, which the fuzzer reports.
func expectOneLine(_ error: Error) {
    let text = "\(error)"
    if text.contains("\n") || !text.hasPrefix(scratchPath + ": ") {
        fatalError("error is not one line naming the file: \(text)")
    }
}

/// Reads `bytes` as a safetensors file, loads every tensor, and imports a checkpoint.
func fuzzOne(_ bytes: [UInt8]) -> Int32 {
    writeScratch(bytes)
    let file: SafetensorsFile
    do {
        file = try SafetensorsFile(path: scratchPath)
    } catch {
        expectOneLine(error)
        return 0
    }
    for t in file.tensors {
        do {
            let raw = try file.loadBytes(t)
            if raw.count != t.byteCount { fatalError("tensor \(t.name): \(raw.count) bytes for \(t.byteCount)") }
            if t.dtype.isConvertibleToFloat {
                let values = try file.loadFloats(t)
                if values.count != t.elementCount { fatalError("tensor \(t.name): \(values.count) values for shape \(t.shape)") }
            }
        } catch {
            expectOneLine(error)
        }
    }
    do {
        let checkpoint = try SafetensorsCheckpoint.importCheckpoint(file)
        // What import returns must be writable: the writer runs the reader's rules.
        _ = try CheckpointWriter.encodedBytes(checkpoint)
    } catch let e as FormatError where e.kind == .invalidCheckpoint {
        fatalError("import returned a checkpoint the writer refuses: \(e)")
    } catch {
        expectOneLine(error)
    }
    return 0
}

/// Each input is tried as is and, when different, with its header length (the first 8
/// bytes) set to end the header at the input's last '}' before any data: most mutations
/// break the length, and without the second try the fuzzer would rarely reach the JSON.
func fuzzInput(_ bytes: [UInt8]) -> Int32 {
    _ = fuzzOne(bytes)
    if bytes.count > 8, let last = bytes[8...].lastIndex(of: UInt8(ascii: "}")) {
        var fixed = bytes
        let n = UInt64(last + 1 - 8)
        for i in 0..<8 { fixed[i] = UInt8(truncatingIfNeeded: n >> (8 * UInt64(i))) }
        if fixed != bytes { _ = fuzzOne(fixed) }
    }
    return 0
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
@_cdecl("safetensors_fuzz_main")
public func safetensorsFuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
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
            print("usage: safetensors-fuzz FILE...   (replays inputs through the fuzz target; Tests/Fuzz/run.sh safetensors builds the libFuzzer version)")
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
        unlink(scratchPath)
    }
}
#endif
