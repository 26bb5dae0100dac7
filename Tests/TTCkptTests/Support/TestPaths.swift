import Foundation

/// Places in the package, found from this file's own (Tests/TTCkptTests/Support/).
enum TestPaths {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `relative` (e.g. `samples/tutorial-init.ttc`) under the package root.
    static func path(_ relative: String) -> String { packageRoot.appendingPathComponent(relative).path }
}
