import Foundation
import Testing
@testable import TTCore
@testable import TTFormat
@testable import TTInterop

/// A fresh directory per test (tests run in parallel).
func interopTempDir(_ tag: String) throws -> String {
    let dir = NSTemporaryDirectory() + "ttckpt-interop-\(tag)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// Builds a safetensors file by hand: header JSON text as given (padded to 8), then `data`.
func handcraftedSafetensors(header: String, data: [UInt8], headerLength: UInt64? = nil, pad: Bool = true) -> [UInt8] {
    var h = Array(header.utf8)
    if pad { h += [UInt8](repeating: 0x20, count: (8 - h.count % 8) % 8) }
    var out: [UInt8] = []
    withUnsafeBytes(of: (headerLength ?? UInt64(h.count)).littleEndian) { out += $0 }
    return out + h + data
}

func floatBytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
}

@Suite struct SafetensorsWriterTests {
    // The expected bytes below are the reference crate's own unit tests
    // (huggingface/safetensors, safetensors/src/tensor.rs: test_serialization,
    // test_serialization_forced_alignement, test_empty), not our output.
    @Test func matchesReferenceSerialization() {
        let t = SafetensorsTensor(name: "attn.0", shape: [1, 2, 3], values: [0, 1, 2, 3, 4, 5])
        let expected: [UInt8] = [
            64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
            116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
            58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
            101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
            0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
        ]
        #expect(SafetensorsWriter.serialize([t], metadata: nil) == expected)
    }

    @Test func padsHeaderWithSpacesLikeReference() {
        let t = SafetensorsTensor(name: "attn0", shape: [1, 1, 2, 3], values: [0, 1, 2, 3, 4, 5])
        let expected: [UInt8] = [
            72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116,
            121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58,
            91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102,
            115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32,
            32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0,
            160, 64,
        ]
        #expect(SafetensorsWriter.serialize([t], metadata: nil) == expected)
    }

    @Test func metadataOnlyMatchesReference() {
        #expect(SafetensorsWriter.serialize([], metadata: nil) == [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32])
        let expected: [UInt8] = [
            40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95,
            95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112,
            116, 34, 125, 125, 32, 32, 32, 32, 32,
        ]
        #expect(SafetensorsWriter.serialize([], metadata: ["framework": "pt"]) == expected)
    }

    @Test func ordersTensorsByNameBytesAndMetadataKeys() throws {
        let a = SafetensorsTensor(name: "b", shape: [1], values: [2])
        let b = SafetensorsTensor(name: "a", shape: [2], values: [1, 1])
        let c = SafetensorsTensor(name: "B", shape: [], values: [3])  // 'B' (0x42) < 'a' (0x61)
        let bytes = SafetensorsWriter.serialize([a, b, c], metadata: ["z": "1", "k": "2"])
        let n = Int(bytes[0])
        let header = String(decoding: bytes[8..<(8 + n)], as: UTF8.self).trimmingCharacters(in: .whitespaces)
        #expect(header == #"{"__metadata__":{"k":"2","z":"1"},"B":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}"#)
        #expect((8 + n) % 8 == 0)
        // Same input in another order: same bytes.
        #expect(SafetensorsWriter.serialize([c, b, a], metadata: ["k": "2", "z": "1"]) == bytes)
    }

    @Test func escapesStringsLikeSerdeJSON() {
        #expect(JSONValue.string("a\"b\\c\n\t\u{01}é/\u{7F}\u{202E}").serialized(pretty: false, escaping: .minimal)
                == #""a\"b\\c\n\t\u0001é/"# + "\u{7F}\u{202E}\"")
    }
}

@Suite struct SafetensorsReaderTests {
    func write(_ bytes: [UInt8], _ tag: String) throws -> String {
        let path = try interopTempDir(tag) + "/f.safetensors"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The reader's error message for `bytes`, or nil if it accepted them.
    func failure(_ bytes: [UInt8], _ tag: String = "bad") throws -> String? {
        let path = try write(bytes, tag)
        do {
            _ = try SafetensorsFile(path: path)
            return nil
        } catch let e as ModelFileError {
            #expect(e.path == path)
            #expect(!e.message.contains("\n"))
            return e.message
        }
    }

    @Test func roundTripsTensorsAndMetadata() throws {
        let tensors = [
            SafetensorsTensor(name: "w", shape: [2, 3], values: [1, -2, 0.5, -0.0, .greatestFiniteMagnitude, .leastNonzeroMagnitude]),
            SafetensorsTensor(name: "layers.0.b", shape: [4], values: [1e-30, 3, 4, 5]),
            SafetensorsTensor(name: "scalar", shape: [], values: [7]),
            SafetensorsTensor(name: "empty", shape: [0, 5], values: []),
        ]
        let meta = ["vocabulary": #"["<PAD>","a\"b"]"#, "step": "12", "ünï": "cödé"]
        let path = try write(SafetensorsWriter.serialize(tensors, metadata: meta), "rt")
        let file = try SafetensorsFile(path: path)
        #expect(file.metadata == meta)
        #expect(file.tensors.count == 4)
        for t in tensors {
            let info = try #require(file.tensor(named: t.name))
            #expect(info.dtype == .f32 && info.shape == t.shape)
            let back = try file.loadFloats(info)
            #expect(back.map(\.bitPattern) == t.values.map(\.bitPattern))
        }
    }

    @Test func acceptsAnyHeaderOrderAndNoMetadata() throws {
        // Tensors listed against offset order; "z" holds bytes 0..<4, "a" bytes 4..<12.
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},"z":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        let path = try write(handcraftedSafetensors(header: header, data: floatBytes([9, 1, 2])), "order")
        let file = try SafetensorsFile(path: path)
        #expect(file.metadata == nil)
        #expect(file.tensors.map(\.name) == ["z", "a"])
        #expect(try file.loadFloats(file.tensor(named: "a")!) == [1, 2])
        #expect(try file.loadFloats(file.tensor(named: "z")!) == [9])
    }

    @Test func acceptsUnpaddedHeader() throws {
        let header = #"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        let path = try write(handcraftedSafetensors(header: header, data: floatBytes([5]), pad: false), "nopad")
        #expect(try SafetensorsFile(path: path).tensors.count == 1)
    }

    @Test func rejectsShortFile() throws {
        #expect(try failure([1, 2, 3])?.contains("shorter than the 8-byte header length") == true)
    }

    @Test func rejectsHugeHeaderLength() throws {
        // The file is small, but the length claims more than the 100 MB cap: rejected before
        // any allocation of that size.
        let bytes = handcraftedSafetensors(header: "{}", data: [], headerLength: 100_000_001)
        #expect(try failure(bytes)?.contains("more than the limit 100000000") == true)
        let max = handcraftedSafetensors(header: "{}", data: [], headerLength: UInt64.max)
        #expect(try failure(max)?.contains("more than the limit") == true)
    }

    @Test func rejectsHeaderPastEndOfFile() throws {
        let bytes = handcraftedSafetensors(header: "{}", data: [], headerLength: 64)
        #expect(try failure(bytes)?.contains("runs past the end of the file") == true)
    }

    @Test func rejectsHeaderNotStartingWithBrace() throws {
        #expect(try failure(handcraftedSafetensors(header: " {}", data: []))?.contains("does not start with '{'") == true)
        #expect(try failure(handcraftedSafetensors(header: "[1,2,3]", data: []))?.contains("does not start with '{'") == true)
    }

    @Test func rejectsInvalidJSONAndUTF8() throws {
        #expect(try failure(handcraftedSafetensors(header: #"{"a":}"#, data: []))?.contains("invalid JSON") == true)
        var bad = handcraftedSafetensors(header: #"{"__metadata__":{"k":"xx"}}"#, data: [])
        bad[8 + 23] = 0xFF  // inside "xx"
        #expect(try failure(bad)?.contains("invalid UTF-8") == true)
        #expect(try failure(handcraftedSafetensors(header: #"{"a":1} x"#, data: []))?.contains("trailing") == true)
    }

    @Test func rejectsDuplicateKeys() throws {
        let header = #"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        #expect(try failure(handcraftedSafetensors(header: header, data: floatBytes([1, 2])))?.contains(#"duplicate key 'x'"#) == true)
    }

    @Test func deepNestingFailsCleanly() throws {
        let header = "{\"a\":" + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "}"
        #expect(try failure(handcraftedSafetensors(header: header, data: []))?.contains("nesting deeper than 64") == true)
    }

    @Test func rejectsUnknownDtypeNamingTensor() throws {
        let header = #"{"w":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}"#
        #expect(try failure(handcraftedSafetensors(header: header, data: [UInt8](repeating: 0, count: 16))) == #"tensor 'w': unknown dtype 'F128'"#)
    }

    @Test func rejectsBadShapesAndOffsets() throws {
        let neg = #"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#
        #expect(try failure(handcraftedSafetensors(header: neg, data: floatBytes([1])))?.contains("non-negative integers") == true)
        let frac = #"{"w":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}"#
        #expect(try failure(handcraftedSafetensors(header: frac, data: floatBytes([1])))?.contains("non-negative integers") == true)
        let three = #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}"#
        #expect(try failure(handcraftedSafetensors(header: three, data: floatBytes([1])))?.contains("data_offsets must be two") == true)
    }

    @Test func rejectsGapOverlapAndReversedOffsets() throws {
        let gap = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        #expect(try failure(handcraftedSafetensors(header: gap, data: floatBytes([1, 2, 3])))?.contains(#"tensor 'b': data_offsets [8, 12] are not contiguous (expected to begin at 4)"#) == true)
        let overlap = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        #expect(try failure(handcraftedSafetensors(header: overlap, data: floatBytes([1, 2])))?.contains("not contiguous") == true)
        let start = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        #expect(try failure(handcraftedSafetensors(header: start, data: floatBytes([1, 2])))?.contains(#"tensor 'a'"#) == true)
    }

    @Test func rejectsByteLengthNotMatchingShape() throws {
        let header = #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#
        #expect(try failure(handcraftedSafetensors(header: header, data: floatBytes([1, 2]))) == #"tensor 'w': F32 [3] needs 12 bytes but data_offsets span 8"#)
    }

    @Test func rejectsShapeOverflow() throws {
        let header = #"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}}"#
        #expect(try failure(handcraftedSafetensors(header: header, data: floatBytes([1])))?.contains("overflows") == true)
        let huge = #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,99999999999999999999999]}}"#
        #expect(try failure(handcraftedSafetensors(header: huge, data: floatBytes([1])))?.contains("data_offsets must be two") == true)
    }

    @Test func rejectsDataNotCoveringTheFile() throws {
        let header = #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        #expect(try failure(handcraftedSafetensors(header: header, data: floatBytes([1, 2]))) == "data buffer is 8 bytes but the tensors cover 4")
        let long = #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#
        #expect(try failure(handcraftedSafetensors(header: long, data: floatBytes([1, 2])))?.contains("data buffer is 8 bytes but the tensors cover 16") == true)
    }

    @Test func rejectsNonStringMetadata() throws {
        let header = #"{"__metadata__":{"step":12}}"#
        #expect(try failure(handcraftedSafetensors(header: header, data: [])) == #"__metadata__ value of 'step' is not a string"#)
    }

    @Test func escapesControlCharactersInNames() throws {
        let header = "{\"a\\u001b[31m\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}"
        let message = try #require(try failure(handcraftedSafetensors(header: header, data: floatBytes([1]))))
        #expect(message.hasPrefix(#"tensor 'a\u{1b}[31m': "#))
        #expect(!message.unicodeScalars.contains { $0.value < 0x20 })
    }

    @Test func convertsHalfBFloatAndDouble() throws {
        // Bit patterns from IEEE 754: binary16 0x3C00 = 1, 0xC000 = -2, 0x0001 = 2^-24 (smallest
        // subnormal), 0x7BFF = 65504 (largest finite), 0x7C00 = +inf; bfloat16 is the top half of
        // a binary32, so 0x3F80 = 1 and 0x4049 = 0x40490000 = 3.140625.
        let half: [UInt16] = [0x3C00, 0xC000, 0x0001, 0x7BFF, 0x7C00]
        let bf: [UInt16] = [0x3F80, 0x4049]
        let dbl: [Double] = [1.0 / 3.0, -1e300]
        var data: [UInt8] = []
        for h in half { withUnsafeBytes(of: h.littleEndian) { data += $0 } }
        for b in bf { withUnsafeBytes(of: b.littleEndian) { data += $0 } }
        for d in dbl { withUnsafeBytes(of: d.bitPattern.littleEndian) { data += $0 } }
        let header = #"{"h":{"dtype":"F16","shape":[5],"data_offsets":[0,10]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[10,14]},"d":{"dtype":"F64","shape":[2],"data_offsets":[14,30]},"i":{"dtype":"I32","shape":[],"data_offsets":[30,34]}}"#
        let path = try write(handcraftedSafetensors(header: header, data: data + [0, 0, 0, 0]), "conv")
        let file = try SafetensorsFile(path: path)
        #expect(try file.loadFloats(file.tensor(named: "h")!) == [1, -2, 0x1p-24, 65504, .infinity])
        #expect(try file.loadFloats(file.tensor(named: "b")!) == [1, 3.140625])
        #expect(try file.loadFloats(file.tensor(named: "d")!) == [Float(1.0 / 3.0), -.infinity])
        #expect(throws: ModelFileError.self) { try file.loadFloats(file.tensor(named: "i")!) }
    }
}

@Suite struct HeaderJSONLimitTests {
    @Test func longArraysAndObjectsAreRejected() {
        let array = "[" + Array(repeating: "0", count: 65).joined(separator: ",") + "]"
        #expect(throws: HeaderJSONError.self) { try HeaderJSON.parse(Array(array.utf8), maxArrayLength: 64) }
        #expect(throws: Never.self) { try HeaderJSON.parse(Array(array.utf8), maxArrayLength: 65) }
        let object = "{\"a\":1,\"b\":2,\"c\":3}"
        #expect(throws: HeaderJSONError.self) { try HeaderJSON.parse(Array(object.utf8), maxObjectMembers: 2) }
    }

    @Test func shapeWithTooManyDimensionsIsRejected() throws {
        let dims = Array(repeating: "1", count: 65).joined(separator: ",")
        let header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[\(dims)],\"data_offsets\":[0,4]}}"
        let path = try interopTempDir("rank") + "/r.safetensors"
        try Data(handcraftedSafetensors(header: header, data: floatBytes([1]))).write(to: URL(fileURLWithPath: path))
        #expect(throws: ModelFileError.self) { try SafetensorsFile(path: path) }
    }

    @Test func nullMetadataIsNoMetadata() throws {
        let path = try interopTempDir("null") + "/n.safetensors"
        try Data(handcraftedSafetensors(header: #"{"__metadata__":null}"#, data: [])).write(to: URL(fileURLWithPath: path))
        #expect(try SafetensorsFile(path: path).metadata == nil)
    }
}
