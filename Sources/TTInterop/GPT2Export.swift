import TTCore
import TTFormat
import TTTokenizer
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A gpt2 checkpoint as a Hugging Face transformers directory, which
/// `GPT2LMHeadModel.from_pretrained(dir)` and `GPT2TokenizerFast.from_pretrained(dir)` load:
///
/// | file | content |
/// |---|---|
/// | `config.json` | `TransformersConfig.json` (bos/eos = the id of `<|endoftext|>` when the vocabulary has it) |
/// | `model.safetensors` | the parameters under `GPT2Naming.hf` names (`transformer.*`, Conv1D weights transposed to (in, out)), F32, no `lm_head.weight` (tied), metadata `{"format": "pt"}` |
/// | `vocab.json`, `merges.txt`, `tokenizer.json` | the BPE as tokenizers 0.23 saves it (`BPEFiles`) |
/// | `tokenizer_config.json` | GPT2Tokenizer's settings as transformers 5 writes them; `model_max_length` = T |
///
/// A byte vocabulary is written as the BPE it is: 256 one-byte tokens, id = byte value, no
/// merges (GPT-2's pre-tokenizer then cannot change any id). Word and char vocabularies have
/// no byte-level form and are refused, as is every arch but gpt2.
public enum GPT2Export {
    /// The files, in the order they are written.
    /// - Parameter source: the checkpoint's file, named in errors.
    public static func files(_ checkpoint: Checkpoint, source: String = "checkpoint") throws -> [(name: String, bytes: [UInt8])] {
        let c = checkpoint.config
        guard c.arch == .gpt2 else {
            throw InputError(source, "arch \(c.arch.rawValue) has no transformers form; only gpt2 checkpoints export to Hugging Face")
        }
        let tokenizer = try bpeTokenizer(checkpoint.vocabulary, source: source)
        let endOfText = tokenizer.id(of: Array(TokenizerFiles.endOfText.utf8)).flatMap { id in
            tokenizer.isAdded(id) ? Int(id) : nil
        }
        let config = TransformersConfig.json(c, extras: .init(bosTokenID: endOfText, eosTokenID: endOfText))
        let special: JSONValue = endOfText == nil ? .null : .string(TokenizerFiles.endOfText)
        let tokenizerConfig = JSONValue.object([
            ("add_prefix_space", .bool(tokenizer.options.addPrefixSpace)),
            ("bos_token", special),
            ("eos_token", special),
            ("errors", .string("replace")),
            ("model_max_length", .int(c.context)),
            ("pad_token", .null),
            ("tokenizer_class", .string("GPT2Tokenizer")),
            ("unk_token", special),
        ])
        func text(_ json: JSONValue, pretty: Bool) -> [UInt8] {
            Array((json.serialized(pretty: pretty, escaping: .minimal) + (pretty ? "\n" : "")).utf8)
        }
        return [
            ("config.json", text(config, pretty: true)),
            ("model.safetensors", SafetensorsWriter.serialize(try weights(checkpoint, source: source), metadata: ["format": "pt"])),
            ("vocab.json", text(BPEFiles.vocabJSON(tokenizer), pretty: false)),
            ("merges.txt", BPEFiles.mergesText(tokenizer)),
            ("tokenizer.json", text(BPEFiles.tokenizerJSON(tokenizer), pretty: false)),
            ("tokenizer_config.json", text(tokenizerConfig, pretty: true)),
        ]
    }

    /// The parameters under transformers' names.
    static func weights(_ checkpoint: Checkpoint, source: String) throws -> [SafetensorsTensor] {
        var out: [SafetensorsTensor] = []
        for t in checkpoint.tensors where t.role == .parameter {
            guard let m = GPT2Naming.hf.foreignName(for: t.name) else {
                throw InputError(source, "tensor \(TerminalText.quoted(t.name)) is not a gpt2 parameter")
            }
            if m.transposed {
                out.append(SafetensorsTensor(name: m.foreign, shape: [t.shape[1], t.shape[0]],
                                             values: GPT2Naming.transpose(t.values, rows: t.shape[0], columns: t.shape[1])))
            } else {
                out.append(SafetensorsTensor(name: m.foreign, shape: t.shape, values: t.values))
            }
        }
        return out
    }

    /// The vocabulary as a byte-level BPE.
    static func bpeTokenizer(_ v: Vocabulary, source: String) throws -> BPETokenizer {
        switch v.kind {
        case .bpe:
            return try BPETokenizer(vocabulary: v, source: "vocabulary")
        case .byte:
            return try BPETokenizer(tokens: (0..<256).map { [UInt8($0)] }, merges: [], source: "vocabulary")
        case .word, .char:
            throw InputError(source, "a \(v.kind.rawValue) vocabulary has no Hugging Face tokenizer form (bpe and byte do)")
        }
    }

    /// Writes the files into `directory`, creating it if it does not exist (its parent must).
    /// Everything is built before the first byte is written; each file is written atomically;
    /// if a write fails, the files this call created are removed (and the directory, if it
    /// made it); files it replaced keep their new contents.
    /// - Parameter overwrite: whether files of the same names in an existing directory may be
    ///   replaced.
    /// - Throws: `InputError` (not gpt2, a vocabulary without a byte-level form, a path that is
    ///   not a directory, files in the way) or `FormatError` (a write failed).
    public static func write(_ checkpoint: Checkpoint, to directory: String, overwrite: Bool, source: String = "checkpoint",
                             io: any FileSystemIO = POSIXFileSystem()) throws {
        let files = try Self.files(checkpoint, source: source)
        let dir = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        var created = false
        switch io.status(dir) {
        case .directory:
            if !overwrite, let existing = files.first(where: { io.status(dir + "/" + $0.name) != .missing }) {
                throw InputError(dir + "/" + existing.name, "already exists", remedy: .allowOverwrite)
            }
        case .missing:
            try OutputPath.check(dir, overwrite: false)
            guard mkdir(dir, 0o755) == 0 else {
                throw FormatError(path: dir, kind: .writeFailed, message: "cannot create the directory: \(String(cString: strerror(errno)))")
            }
            created = true
        default:
            throw InputError(dir, "exists and is not a directory")
        }
        var written: [String] = []
        do {
            for (name, bytes) in files {
                let path = dir + "/" + name
                let isNew = io.status(path) == .missing
                try AtomicWrite.write([bytes], to: path, io: io)
                if isNew { written.append(path) }
            }
        } catch {
            for path in written { io.remove(path) }
            if created { rmdir(dir) }
            throw error
        }
    }
}
