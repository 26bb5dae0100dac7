import Foundation
import Testing
@testable import TTCore

@Suite struct JSONValueTests {
    @Test func compactSerialization() {
        let v = JSONValue.object([
            ("a", .int(-3)), ("b", .array([.float(1.5), .float(.nan), .double(.infinity), .null])),
            ("c", .string("x\ny\u{1}\"\\")), ("d", .bool(true)), ("e", .uint(UInt64.max)), ("f", .object([])),
        ])
        #expect(v.serialized(pretty: false)
            == #"{"a":-3,"b":[1.5,null,null,null],"c":"x\ny\u0001\"\\","d":true,"e":18446744073709551615,"f":{}}"#)
    }

    @Test func prettyKeepsScalarArraysOnOneLine() {
        let v = JSONValue.object([("m", .array([.array([.int(1), .int(2)]), .array([.int(3), .int(4)])])), ("s", .string("x"))])
        #expect(v.serialized() == """
            {
              "m": [
                [1, 2],
                [3, 4]
              ],
              "s": "x"
            }
            """)
    }

    @Test func everyControlCharacterIsEscapedAndParsesBack() throws {
        var s = ""
        for v in Array(0...0x20) + [0x22, 0x5C, 0x7F, 0x85, 0x9F, 0x2028, 0x2029, 0xE9, 0x1F600,
                                    0x061C, 0x200E, 0x200F, 0x202A, 0x202E, 0x2066, 0x2069, 0xFEFF, 0x10FFFD] {
            s.unicodeScalars.append(Unicode.Scalar(UInt32(v))!)
        }
        let text = JSONValue.array([.string(s)]).serialized(pretty: false)
        // No raw control, bidi, format or private-use character survives (U+10FFFD is
        // written as the UTF-16 pair \udbff\udffd); the letter and the emoji do.
        #expect(!text.unicodeScalars.contains { TerminalText.needsEscape($0) })
        #expect(text.contains("\\u202e") && text.contains("\\udbff\\udffd") && text.contains("é\u{1F600}"))
        let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String]
        #expect(parsed == [s])
    }

    @Test func floatsRoundTripExactly() throws {
        var samples: [Float] = [0.1, 1.0 / 3.0, -0.0, 16_777_215, .leastNonzeroMagnitude, .leastNormalMagnitude,
                                .greatestFiniteMagnitude, -.greatestFiniteMagnitude, Float(1).nextUp, 3.4e38, 1e-7, 123_456_792]
        var rng = PythonRandom(seed: 7)
        while samples.count < 5000 {
            let x = Float(bitPattern: rng.nextUInt32())
            if x.isFinite { samples.append(x) }
        }
        let text = JSONValue.array(samples.map { .float($0) }).serialized(pretty: false)
        // Both ways a reader may take: straight to Float, and (like Python's json) to
        // Double, then to Float.
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [NSNumber])
        #expect(parsed.count == samples.count)
        let tokens = text.dropFirst().dropLast().split(separator: ",")
        for (i, x) in samples.enumerated() {
            #expect(Float(parsed[i].doubleValue).bitPattern == x.bitPattern, "\(x)")
            #expect(Float(String(tokens[i]))?.bitPattern == x.bitPattern, "\(x)")
        }
    }

    @Test func nestedArrayIsRowMajor() {
        let values: [Float] = [1, 2, 3, 4, 5, 6]
        let v = values.withUnsafeBufferPointer { JSONValue.nestedArray($0, shape: [2, 3]) }
        #expect(v.serialized(pretty: false) == "[[1.0,2.0,3.0],[4.0,5.0,6.0]]")
        let w = values.withUnsafeBufferPointer { JSONValue.nestedArray($0, shape: [3, 1, 2]) }
        #expect(w.serialized(pretty: false) == "[[[1.0,2.0]],[[3.0,4.0]],[[5.0,6.0]]]")
    }
}
