import ArgumentParser
import LogQuery

@main
struct LogQueryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logquery",
        abstract: "Query stored HAProxy logs by backend, server, status, termination state and time.",
        discussion: """
            Queries are not in this build yet: logquery recognises its options and exits with status 2 \
            rather than pretend to answer.
            """,
        version: LogQuery.version
    )

    @Argument(help: "Log files to read (stdin when none).")
    var files: [String] = []

    mutating func run() throws {
        throw NotInThisBuild(feature: "querying")
    }
}

/// The error a command reports for a feature that has not landed yet, so that it never pretends to work.
struct NotInThisBuild: Error, CustomStringConvertible {
    var feature: String
    var description: String { "\(feature) is not implemented in this build" }
}
