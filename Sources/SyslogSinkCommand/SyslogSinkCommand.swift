import ArgumentParser
import SyslogSink

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@main
struct SyslogSinkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "syslog-sink",
        abstract: "An rsyslog-compatible syslog receiver that writes the files rsyslog would write.",
        discussion: """
            Reads rsyslog.conf: the legacy syntax (selectors, actions, & continuations, property filters, $ \
            directives, $IncludeConfig) and the RainerScript statements module(), input(), global(), \
            template() and action(). -N1 checks a configuration the way rsyslogd -N1 does. Receiving and \
            writing are not in this build yet: without -N, the sink says so and exits with an error.
            """,
        version: SyslogSink.version
    )

    @Option(name: .customShort("f"), help: "The rsyslog.conf file to load.")
    var configFile = "/etc/tollgate/rsyslog.conf"

    @Option(
        name: .customShort("N", allowingJoined: true), help: "Check the configuration and exit (-N1), like rsyslogd.")
    var checkLevel: Int?

    @Flag(name: .customShort("n"), help: "Stay in the foreground.")
    var foreground = false

    @Option(name: .customShort("i"), help: "Write the process id to this file.")
    var pidFile: String?

    @Option(help: "Map every absolute output path under this folder (for demos and tests).")
    var root: String?

    mutating func run() throws {
        let configuration: SinkConfiguration
        do {
            configuration = try RsyslogConfigParser.parse(file: configFile)
        } catch let error as ConfigDiagnostic {
            report("syslog-sink: \(error)")
            throw ExitCode(1)
        }
        for warning in configuration.warnings { report("syslog-sink: \(warning)") }
        if checkLevel != nil {
            report(
                "syslog-sink: version \(SyslogSink.version), config validation run (level \(checkLevel ?? 1)), "
                    + "master config \(configFile): \(configuration.rules.count) rules, "
                    + "\(configuration.inputs.count) inputs, \(configuration.files.count) files read")
            report("syslog-sink: End of config validation run. Bye.")
            return
        }
        throw NotInThisBuild(feature: "receiving")
    }

    private func report(_ text: String) {
        var line = text + "\n"
        line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }
}

/// The error a command reports for a feature that has not landed yet, so that it never pretends to work.
struct NotInThisBuild: Error, CustomStringConvertible {
    var feature: String
    var description: String { "\(feature) is not implemented in this build" }
}
