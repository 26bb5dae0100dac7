import TTCore
import TTFormat

/// The command line's spelling of what the library names by setting or config field: the
/// one place where library errors get option names (the library never names an option).
enum OptionNames {
    static func option(_ setting: Setting) -> String {
        switch setting {
        case .corpus: return "--data"
        case .tokenizer: return "--tokenizer"
        case .vocabularyFile: return "--vocab-file"
        case .tokenizerFile: return "--tokenizer-file"
        case .arch: return "--arch"
        case .vocabSize: return "--vocab-size"
        case .dModel: return "--d-model"
        case .nHeads: return "--heads"
        case .dFF: return "--d-ff"
        case .nLayers: return "--layers"
        case .context: return "--context"
        }
    }

    /// A `ConfigError.field` (a model config or AdamW field) as the option that sets it;
    /// fields no option sets (`config`) as they are.
    static func option(forConfigField field: String) -> String {
        if let setting = Setting(configField: field) { return option(setting) }
        switch field {
        case "lr": return "--lr"
        case "beta1": return "--beta1"
        case "beta2": return "--beta2"
        case "epsilon": return "--eps"
        case "weight_decay": return "--weight-decay"
        case "grad_clip": return "--grad-clip"
        case "warmup_steps": return "--warmup"
        case "decay_steps": return "--decay-steps"
        case "min_lr_ratio": return "--min-lr-ratio"
        default: return field
        }
    }

    /// A remedy as the end of an error line.
    static func suffix(_ remedy: Remedy?) -> String {
        switch remedy {
        case nil: return ""
        case .give(let settings)?: return "; pass " + settings.map(option).joined(separator: " and ")
        case .giveFile(let setting)?: return "; give \(option(setting)) FILE"
        case .useByteTokenizer?: return "; use --tokenizer byte for binary data"
        case .allowOverwrite?: return " (use --force to overwrite)"
        }
    }

    /// A library error as the command line's one line (without the `tt-ckpt: ` prefix),
    /// with option names for settings; nil for other errors.
    static func line(_ error: Error) -> String? {
        switch error {
        case let e as InputError: return "\(e.setting.map(option) ?? e.subject): \(e.message)" + suffix(e.remedy)
        case let e as FormatError: return "\(e.path): \(e.message)" + suffix(e.remedy)
        case let e as ConfigError: return "\(option(forConfigField: e.field)): \(e.message)"
        default: return nil
        }
    }
}
