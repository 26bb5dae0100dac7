import Foundation
import TTCore
import TTFormat

/// Write-fault injection for end-to-end tests of failing saves (spec/BAD-INPUT.md).
///
/// In debug builds only, `TTCKPT_FAULT_INJECT` makes every file write (`AtomicWrite`:
/// checkpoints, step files, safetensors exports, SVG plots) of this
/// process go through `FaultInjectingFileSystem`:
///
/// | value       | fault                                                        |
/// |-------------|--------------------------------------------------------------|
/// | `enospc:N`  | writes fail with ENOSPC once N bytes in total were written    |
/// | `create`    | creating the temporary file fails with EACCES                 |
/// | `fsync`     | fsync of the temporary file fails with EIO                    |
/// | `close`     | close of the temporary file fails with EIO                    |
/// | `rename`    | the rename over the target fails with EXDEV                   |
/// | `dirsync`   | the directory fsync after the rename fails with EIO           |
///
/// Release builds ignore the variable, so a shipped binary cannot be made to fail by its
/// environment. An unknown value is an error (one line, exit 2) rather than silently ignored.
enum FaultInjection {
    static let variable = "TTCKPT_FAULT_INJECT"

    /// The writer options for this process: the defaults, with the injected fault if any.
    static func writeOptions() throws -> WriteOptions {
        var options = WriteOptions()
        #if DEBUG
        if let spec = ProcessInfo.processInfo.environment[variable], !spec.isEmpty {
            options.io = FaultInjectingFileSystem(try fault(spec))
        }
        #endif
        return options
    }

    static func fault(_ spec: String) throws -> FaultInjectingFileSystem.Fault {
        switch spec {
        case "create": return .createDenied
        case "fsync": return .syncFails
        case "close": return .closeFails
        case "rename": return .renameFails
        case "dirsync": return .directorySyncFails
        default:
            if spec.hasPrefix("enospc:"), let n = Int(spec.dropFirst("enospc:".count)), n >= 0 { return .noSpace(after: n) }
            throw InputError(variable, "unknown fault '\(spec)' (enospc:N, create, fsync, close, rename or dirsync)")
        }
    }
}
