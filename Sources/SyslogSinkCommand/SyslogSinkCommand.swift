import ArgumentParser
import SyslogSink

@main
struct SyslogSinkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "syslog-sink",
        abstract: "An rsyslog-compatible syslog receiver that writes the files rsyslog would write.",
        discussion: """
            Inputs, rsyslog.conf rules and file actions are not in this build yet: the sink recognises its \
            options and exits with an error rather than pretend to run.
            """,
        version: SyslogSink.version
    )

    @Option(name: .customShort("f"), help: "The rsyslog.conf file to load.")
    var configFile: String?

    mutating func run() throws {
        throw NotInThisBuild(feature: "receiving")
    }
}

/// The error a command reports for a feature that has not landed yet, so that it never pretends to work.
struct NotInThisBuild: Error, CustomStringConvertible {
    var feature: String
    var description: String { "\(feature) is not implemented in this build" }
}
