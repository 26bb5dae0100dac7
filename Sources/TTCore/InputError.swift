/// A value the library takes from its caller, named by what it sets. The library never
/// spells a front end's option: a front end maps each setting to its own spelling (the
/// command line: `--data`, `--heads`, ...).
public enum Setting: String, Sendable, CaseIterable {
    /// The corpus file to train on or to build a vocabulary from.
    case corpus
    case tokenizer
    /// A file listing the tokens of a vocabulary.
    case vocabularyFile = "vocabulary_file"
    /// Hugging Face tokenizer files of a byte-level BPE (tokenizer.json, or vocab.json + merges.txt).
    case tokenizerFile = "tokenizer_file"
    /// The model config's fields, by their spec names.
    case arch, vocabSize = "vocab_size", dModel = "d_model", nHeads = "n_heads", dFF = "d_ff", nLayers = "n_layers", context

    /// The setting holding a `ModelConfig` field (`ConfigError.field`), if any.
    public init?(configField field: String) {
        self.init(rawValue: field)
        if self == .corpus || self == .tokenizer || self == .vocabularyFile || self == .tokenizerFile { return nil }
    }
}

/// What the user can do about an error; a front end words it in its own terms.
public enum Remedy: Equatable, Sendable {
    /// Give these settings.
    case give([Setting])
    /// Give a file for this setting.
    case giveFile(Setting)
    /// Read the data as bytes (the byte tokenizer takes any data).
    case useByteTokenizer
    /// Allow an existing file to be replaced.
    case allowOverwrite

    /// The remedy as a clause of a message, named by settings: "give n_heads".
    public var description: String {
        switch self {
        case .give(let settings): return "give " + settings.map(\.rawValue).joined(separator: " and ")
        case .giveFile(let setting): return "give a \(setting.rawValue) file"
        case .useByteTokenizer: return "use the byte tokenizer for binary data"
        case .allowOverwrite: return "allow overwriting to replace it"
        }
    }
}

/// A problem with something the user gave: a file, a corpus, a setting, a prompt.
/// `description` is one line, `subject: problem`, escaped (`TerminalText`), so it can be
/// printed as is; the command line prints the same with its option names (`setting` and
/// `remedy` name settings, not options).
public struct InputError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The file or thing the problem is about (`corpus.txt`); for a setting, its name.
    public var subject: String
    /// The setting at fault, when the problem is with one rather than with a file.
    public var setting: Setting?
    public var message: String
    /// What would fix it, when the library knows.
    public var remedy: Remedy?

    public init(_ subject: String, _ message: String, remedy: Remedy? = nil) {
        self.subject = subject
        self.message = message
        self.remedy = remedy
    }

    public init(setting: Setting, _ message: String, remedy: Remedy? = nil) {
        self.subject = setting.rawValue
        self.setting = setting
        self.message = message
        self.remedy = remedy
    }

    public var description: String {
        TerminalText.escaped("\(subject): \(message)" + (remedy.map { "; " + $0.description } ?? ""))
    }
}
