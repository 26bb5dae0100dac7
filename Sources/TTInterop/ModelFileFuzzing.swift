import TTCore
import TTFormat

/// libFuzzer-ready entry points for the foreign-format readers (`interop-fuzz`). Each parses
/// `data` as one format and, when the header is accepted, renders the metadata, then decodes
/// every decodable tensor in small chunks (so chunk edges and block decoding run on small
/// inputs too) and checks that the values counted equal the header's element count and that
/// NaN, infinite and finite counts add up. They never trap and never throw: a rejected input
/// is the normal outcome. They return false only for a finding (an error other than
/// `ModelFileError`, or counts that disagree), which the harness turns into a crash report.
/// Memory stays bounded by the input: tensors must lie inside it, and the densest decodable
/// type (Q4_0) gives 32 values per 18 bytes.
public enum ModelFileFuzzing {
    @discardableResult
    public static func gguf(_ data: UnsafeRawBufferPointer) -> Bool {
        let source = InMemorySource(Array(data), path: "fuzz.gguf")
        do {
            return try exercise(ModelFileOpener.view(try GGUFFile(source: source)))
        } catch is ModelFileError {
            return true
        } catch {
            return false
        }
    }

    @discardableResult
    public static func safetensors(_ data: UnsafeRawBufferPointer) -> Bool {
        let source = InMemorySource(Array(data), path: "fuzz.safetensors")
        do {
            return try exercise(ModelFileOpener.view(try SafetensorsFile(source: source)))
        } catch is ModelFileError {
            return true
        } catch {
            return false
        }
    }

    private static func exercise(_ file: ModelFile) throws -> Bool {
        for m in file.metadata { _ = TerminalText.escaped(m.summary, limit: 200) }
        for t in file.tensors where t.decodable {
            var count = 0, nonFinite = 0, finite = 0
            try file.streamValues(of: t.name, chunkElements: 256) { chunk in
                count += chunk.count
                switch chunk {
                case let .float(b): for v in b { if v.isFinite { finite += 1 } else { nonFinite += 1 } }
                case let .double(b): for v in b { if v.isFinite { finite += 1 } else { nonFinite += 1 } }
                }
            }
            if count != Int(t.elementCount) || finite + nonFinite != count { return false }
        }
        return true
    }
}
