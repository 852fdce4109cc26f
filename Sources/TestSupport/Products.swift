import Foundation

/// Where this package's own executables were built (next to the test bundle), for end-to-end tests.
public enum Products {
    public static func path(_ name: String) throws -> String {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().deletingLastPathComponent(),
        ]
        for dir in candidates {
            let path = dir.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw PeerFailed(description: "\(name) was not built next to the tests: run `swift build --build-tests`")
    }

    /// The package's folder (for its conf/ files).
    public static var packageRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }
}
