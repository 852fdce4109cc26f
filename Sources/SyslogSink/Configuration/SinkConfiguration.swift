import LogCore
import SyslogProtocol

/// What a rule does with a matching message.
public enum SinkAction: Hashable, Sendable {
    /// Write to a file (`/var/log/x`, `-/var/log/x`, `action(type="omfile" file=…)`); `sealKey`: the file is
    /// sealed (`$ActionFileSeal on`, `seal="on"`) with the key in that file.
    case file(
        path: String, template: String, sync: Bool, createMode: UInt16, dirCreateMode: UInt16,
        ownership: FileOwnership = FileOwnership(), sealKey: String? = nil)
    /// Write to a file whose name a template makes (`?Template`).
    case dynamicFile(
        template: String, fileTemplate: String, createMode: UInt16, dirCreateMode: UInt16,
        ownership: FileOwnership = FileOwnership())
    /// Forward over UDP (`@host:port`) or TCP (`@@host:port`, octet-counted with `@@(o)`); a TCP forward holds
    /// what it cannot send now in its queue (`queue.*`, `action.resume*`, or the `$ActionQueue…` lines before it).
    /// `driver`: its stream driver (TLS), resolved with `SinkConfiguration.netstream` when the rules are built.
    case forward(
        host: String, port: Int, tcp: Bool, octetCounted: Bool, template: String,
        queue: ActionQueueSettings = ActionQueueSettings(), driver: StreamDriverSettings = StreamDriverSettings())
    /// omrelp: forward over RELP, every message answered by the collector and sent again on a new session until it
    /// is, with the action's queue; `tls` as librelp's `tls="on"`; `window` frames may wait for their answer, each for
    /// `timeout` seconds.
    case relpForward(
        host: String, port: Int, template: String, queue: ActionQueueSettings, tls: StreamTLS?, window: Int,
        timeout: Int, connectTimeout: Int = 10)
    /// Write to a named pipe (`|/dev/xconsole`, `action(type="ompipe" pipe=…)`).
    case pipe(path: String, template: String)
    /// omusrmsg: write to the terminals of the logged-in users named (nil: all of them, `*`).
    case userMessage(users: [String]?, template: String)
    /// omprog: each message a line on a program's standard input.
    case program(ProgramSettings, template: String)
    /// ompgsql, ommysql: each message an SQL statement (its template has `option.sql` or `option.stdsql`) run on a
    /// PostgreSQL or MySQL/MariaDB server, a batch in one transaction, with the action's queue and retries.
    case database(DatabaseTarget, template: String, queue: ActionQueueSettings)
    /// Send to journald: the usual fields, or, with a list template (`template=`), the template's `outname=` fields.
    case journal(template: String? = nil)
    /// Stop processing this message (`stop`, `~`).
    case stop
    /// Run the message through a named ruleset (`call NAME`); a `stop` there ends the message here too.
    case call(String)
    /// `action.execOnlyWhenPreviousIsSuspended="on"` (`$ActionExecOnlyWhenPreviousIsSuspended on`): the action runs
    /// only while the one before it in the same list is suspended (failover to a second collector or a local file).
    indirect case whenPreviousSuspended(SinkAction)
    /// `call_indirect EXPRESSION;`: the ruleset whose name the expression gives (none such: nothing).
    case callIndirect(SinkCondition.Operand)
    /// `foreach ($.x in EXPRESSION) do { … }`: the block's rules for each element of a JSON array (or each
    /// key/value pair of an object), the element in the variable.
    indirect case forEach(variable: String, source: SinkCondition.Operand, rules: [SinkRule])
    /// Accepted and not carried out: a warning or an error says so.
    case ignored(String)
    /// `set $!x = …;` (`reset`: replace rather than merge objects), `unset $!x;`: the message's variables.
    case set(variable: String, value: SinkCondition.Operand, reset: Bool)
    case unset(variable: String)
    /// mmjsonparse: the JSON after `cookie` in the MSG (or the raw message) into the variables at `container`.
    case parseJSON(cookie: String, container: String, useRawMessage: Bool)
    /// mmutf8fix: the MSG's invalid UTF-8 (or, `controlCharacters`, every byte outside 32…126) replaced byte by byte.
    case fixUTF8(controlCharacters: Bool, replacement: UInt8)
    /// mmnormalize: the MSG (or the raw message) through a liblognorm rulebase (a file, or `rule=` lines); the
    /// fields it finds go into the variables at `path` (`$parsesuccess` OK), what it cannot parse too (FAIL).
    case normalize(rulebase: String?, rules: [String], path: String, useRawMessage: Bool)
}

/// An action's queue and retry settings, rsyslog's names and defaults: `queue.type` Direct (no queue of its own:
/// what the peer cannot take now waits only as long as the main queue would hold it), `LinkedList`/`FixedArray`
/// (in memory, `queue.size` messages), `Disk`; a memory queue with `queue.filename` is disk-assisted (spills to
/// `$WorkDirectory` from `queue.highWatermark` on). `action.resumeRetryCount` -1 retries for ever.
public struct ActionQueueSettings: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable {
        case direct = "Direct"
        case linkedList = "LinkedList"
        case fixedArray = "FixedArray"
        case disk = "Disk"
    }
    public var kind = Kind.direct
    /// `queue.size`: messages the memory part holds (rsyslog's action-queue default 1000).
    public var size = 1000
    /// `queue.filename`: the disk part's file prefix in the work directory; nil = memory only.
    public var fileName: String?
    /// `queue.highWatermark`: from this many messages in memory, new ones go to disk; nil = 90% of `size`.
    public var highWatermark: Int?
    /// `queue.lowWatermark`: accepted (the disk part is used until it is empty; see docs/scale-out.md).
    public var lowWatermark: Int?
    /// `queue.maxDiskSpace` in bytes; 0 = no limit.
    public var maxDiskSpace = 0
    /// `queue.maxFileSize`: the size of one disk segment (rsyslog's default 1 MiB).
    public var maxFileSize = 1 << 20
    /// `queue.saveOnShutdown`: what is still in memory at stop goes to disk (needs `queue.filename`).
    public var saveOnShutdown = false
    /// `queue.dequeueBatchSize` (accepted: the sender writes what is queued, up to 256 KiB at a time).
    public var dequeueBatchSize = 128
    /// `action.resumeRetryCount`: tries after the first failure before a batch is dropped; -1 = for ever.
    public var resumeRetryCount = 0
    /// `action.resumeInterval` in seconds: the pause between tries (longer after every 10 tries, as rsyslog).
    public var resumeInterval = 30
    /// `action.resumeIntervalMax` in seconds.
    public var resumeIntervalMax = 1800
    /// Tollgate's `writeTimeout` (seconds): a peer that takes no byte for this long is dropped and reconnected.
    public var writeTimeout = 10
    /// The work directory (`$WorkDirectory`, `global(workDirectory=)`) when the action was read.
    public var workDirectory: String?

    public init(workDirectory: String? = nil) { self.workDirectory = workDirectory }

    /// The memory part's limit: `queue.size`, or for a Direct action the main queue's 100,000.
    public var memoryLimit: Int { kind == .direct ? 100_000 : max(1, size) }
    public var spillMark: Int { min(memoryLimit, highWatermark ?? max(1, memoryLimit * 9 / 10)) }
}

/// The database an SQL action writes to.
public enum DatabaseTarget: Hashable, Sendable {
    case postgres(PostgresSettings)
    case mysql(MySQLSettings)
}

/// Where ommysql connects: `server`, `serverport` (0: the client library's default, 3306), `db`, `uid`, `pwd`,
/// `socket`, and the option file and its section (`mysqlconfig.file`, `mysqlconfig.section`, `[client]` unless set).
public struct MySQLSettings: Hashable, Sendable {
    public var server = ""
    public var port = 0
    public var database = ""
    public var user = ""
    public var password = ""
    public var socket: String?
    public var configFile: String?
    public var configSection: String?

    public init() {}

    /// The server as the sink's messages name it (never the password).
    public var description: String { "MySQL \(database)@\(server)\(port > 0 ? ":\(port)" : "")" }
}

/// Where ompgsql connects: `conninfo` (a libpq connection string, used as it is) or `server`, `port`, `db`, `user`
/// and `pass` (rsyslog's defaults: port 5432, user and password `postgres`).
public struct PostgresSettings: Hashable, Sendable {
    public var server = ""
    public var port = 5432
    public var database = ""
    public var user = "postgres"
    public var password = "postgres"
    public var connectionInfo: String?

    public init() {}

    /// The libpq connection string: `conninfo`, or the parts (each value quoted as libpq reads it) with
    /// `standard_conforming_strings` on, as rsyslog's ompgsql asks, and connect and keep-alive timeouts so a server
    /// that does not answer suspends the action rather than holding it.
    public var connectionString: String {
        if let connectionInfo { return connectionInfo }
        func quoted(_ v: String) -> String {
            "'" + v.replacingOccurrences("\\", "\\\\").replacingOccurrences("'", "\\'") + "'"
        }
        return "host=\(quoted(server)) port=\(port) dbname=\(quoted(database)) user=\(quoted(user)) "
            + "password=\(quoted(password)) options='-c standard_conforming_strings=on' connect_timeout=5 "
            + "keepalives_idle=10 keepalives_interval=5 keepalives_count=3 tcp_user_timeout=20000"
    }

    /// The server as the sink's messages name it (never the password).
    public var description: String {
        connectionInfo != nil ? "PostgreSQL (conninfo)" : "PostgreSQL \(database)@\(server):\(port)"
    }
}

/// Who owns the files and directories an action creates (`$FileOwner`, `$FileGroup`, `$DirOwner`, `$DirGroup`,
/// their `…Num` forms, and omfile's `fileOwner=` … parameters); nil leaves the sink's own user or group.
public struct FileOwnership: Hashable, Sendable {
    public var fileOwner: UInt32?
    public var fileGroup: UInt32?
    public var dirOwner: UInt32?
    public var dirGroup: UInt32?
    public init() {}
}

/// What selects messages for a rule.
public enum SinkFilter: Hashable, Sendable {
    case priority(PriorityFilter)
    /// `:property, [!]operation, "value"`
    case property(name: String, operation: String, negated: Bool, value: String)
    /// RainerScript `if EXPRESSION then …` (an `else` branch is the negated expression; a nested `if` is the
    /// conjunction with its enclosing ones).
    case expression(SinkCondition)
}

/// A RainerScript condition: comparisons of properties and constants, `and`/`or`/`not`, `prifilt()`, `re_match()`.
public indirect enum SinkCondition: Hashable, Sendable {
    public indirect enum Operand: Hashable, Sendable {
        case property(String)
        case string(String)
        case number(Int)
        /// `["a", "b"]`: `==` and the string operators hold when they hold for one element; `!=` when for none.
        case array([String])
        /// A function's value: `tolower($msg)`, `field($msg, 32, 2)`, `re_extract(…)` (RainerScript.functions).
        case call(String, [Operand])
        /// A condition as a value: 1 or 0 (`re_match($msg, 'x') == 1`).
        case condition(SinkCondition)
        /// `a & b`: the two as one string.
        case concat(Operand, Operand)
        /// `a + b`, `-`, `*`, `/`, `%`: integers, as rsyslog computes them.
        case arithmetic(String, Operand, Operand)
    }
    case and(SinkCondition, SinkCondition)
    case or(SinkCondition, SinkCondition)
    case not(SinkCondition)
    /// `==`, `!=`, `<>`, `<`, `<=`, `>`, `>=`, `contains`, `contains_i`, `startswith`, `startswith_i`.
    case compare(Operand, String, Operand)
    case prifilt(PriorityFilter)
    /// `re_match(value, "ERE")`; `re_match_i` ignores case.
    case reMatch(Operand, String, ignoringCase: Bool = false)
    /// A bare operand: true when it is not empty and not 0.
    case value(Operand)
    /// `exists($!x)`.
    case exists(String)
    /// A selector or property filter, for the `if` statements inside its `{ }` block.
    case filter(SinkFilter)
    /// Evaluates the condition and keeps the result in slot `Int` of the message's run: an `if` is decided once,
    /// where it stands, even when a `set` in its branch changes what it tested (its branches `recall` it).
    case remember(Int, SinkCondition)
    case recall(Int)
}

/// A filter and the actions run for the messages it selects (a selector line and its `&` lines).
public struct SinkRule: Hashable, Sendable {
    public var filter: SinkFilter
    public var actions: [SinkAction]
    public var location: SourceLocation
}

/// A template defined in the configuration (`$template`, `template()`): its text, and what it compiled to, or
/// why it could not be used (actions naming it are then disabled, with a message).
public struct UserTemplate: Sendable {
    public var text: String
    public var compiled: Result<PropertyTemplate, PropertyTemplate.ParseError>
}

/// A listening input, and the ruleset its messages go to (nil: the default ruleset, where the top-level rules
/// live).
public enum SinkInput: Hashable, Sendable {
    /// `receiveBuffer`: imudp's `rcvbufSize` (nil: Tollgate's 4 MiB, raised from the system's default).
    case udp(address: String?, port: Int, ruleset: String? = nil, receiveBuffer: Int? = nil)
    /// `tls`: the listener speaks TLS (RFC 5425) and checks its peers so (nil: plain TCP).
    case tcp(address: String?, port: Int, maxSessions: Int, ruleset: String? = nil, tls: StreamTLS? = nil)
    case unixSocket(path: String, ruleset: String? = nil)
    /// imrelp: RELP sessions, acknowledged message by message (`tls`: over TLS, as librelp's `tls="on"`).
    case relp(address: String?, port: Int, ruleset: String? = nil, tls: StreamTLS? = nil)
    /// imklog: the kernel's log.
    case kernelLog(KernelLogSettings)
    /// immark: `-- MARK --` every interval.
    case mark(MarkSettings)
    /// imjournal: systemd's journal through sd-journal.
    case journal(JournalInputSettings)
    /// impstats: the sink's counters as messages every interval.
    case statistics(StatisticsSettings)
    /// imfile: a text file (or a glob of them) followed by name.
    case file(FileInputSettings)

    /// The ruleset named by `ruleset=` / `$Input…BindRuleset`.
    public var ruleset: String? {
        switch self {
        case .udp(_, _, let r, _), .tcp(_, _, _, let r, _), .unixSocket(_, let r), .relp(_, _, let r, _): return r
        case .kernelLog(let k): return k.ruleset
        case .mark(let m): return m.ruleset
        case .journal: return nil
        case .file(let f): return f.ruleset
        case .statistics(let p): return p.ruleset
        }
    }

    /// The same input bound to the default ruleset.
    func unbound() -> SinkInput {
        switch self {
        case .udp(let a, let p, _, let b): return .udp(address: a, port: p, receiveBuffer: b)
        case .tcp(let a, let p, let m, _, let t): return .tcp(address: a, port: p, maxSessions: m, tls: t)
        case .unixSocket(let p, _): return .unixSocket(path: p)
        case .relp(let a, let p, _, let t): return .relp(address: a, port: p, tls: t)
        case .kernelLog(var k):
            k.ruleset = nil
            return .kernelLog(k)
        case .mark(var m):
            m.ruleset = nil
            return .mark(m)
        case .journal: return self
        case .statistics(var p):
            p.ruleset = nil
            return .statistics(p)
        case .file(var f):
            f.ruleset = nil
            return .file(f)
        }
    }
}

/// imklog's settings (rsyslog 8.2302 on Linux reads /proc/kmsg).
public struct KernelLogSettings: Hashable, Sendable {
    /// `LogPath` / `$KLogPath`.
    public var path = "/proc/kmsg"
    /// `PermitNonKernelFacility`: off drops lines whose facility is not kern (user space writing to /dev/kmsg).
    public var permitNonKernelFacility = false
    /// `ParseKernelTimestamp`: the `[secs.usecs]` stamp becomes the message's time (after a one-digit PRI only).
    public var parseKernelTimestamp = false
    /// `KeepKernelTimestamp`: a parsed stamp stays in the text.
    public var keepKernelTimestamp = false
    /// `ConsoleLogLevel`: set the console's level at start (nil: leave it).
    public var consoleLogLevel: Int?
    public var ruleset: String?
    public init() {}
}

/// immark's settings.
public struct MarkSettings: Hashable, Sendable {
    /// `interval` / `$MarkMessagePeriod`, seconds (rsyslog's default 1200).
    public var interval = 1200
    /// `markMessageText`.
    public var text = "-- MARK --"
    /// `use.syslogCall`: on (rsyslog's default), the mark goes out as the daemon's own message; off, it is made
    /// directly (input immark, tag `rsyslogd:` in rsyslog).
    public var useSyslogCall = true
    public var ruleset: String?
    public init() {}
}

/// One imfile input (`input(type="imfile" …)` or the `$InputFile…` directives and `$InputRunFileMonitor`), with
/// rsyslog 8.2302's defaults for input(); the legacy directives' differ where noted.
public struct FileInputSettings: Hashable, Sendable {
    /// `File`: a path, wildcards allowed (the folders' too).
    public var file = ""
    /// `Tag`: used as written (no `:` is added).
    public var tag = ""
    public var facility = 16
    public var severity = 5
    /// `PersistStateInterval`: the state file is written every this many lines (0: when the file is closed and
    /// at stop).
    public var persistStateInterval = 0
    /// `ReadMode`: 0 a line is a message, 1 a paragraph (an empty line ends it), 2 indented lines continue it.
    public var readMode = 0
    /// `startmsg.regex` / `endmsg.regex` (POSIX ERE): what starts or ends a multi-line message.
    public var startRegex: String?
    public var endRegex: String?
    /// `readTimeout`: seconds after which an unfinished multi-line message goes as it is (0: never).
    public var readTimeout = 0
    /// `escapeLF` (legacy: off) and its replacement (default `#012` for read modes, `\n` for the regexes).
    public var escapeLF = true
    public var escapeLFReplacement: String?
    /// `reopenOnTruncate`: a file that shrank is read again from its start (off: from the old offset on).
    public var reopenOnTruncate = false
    /// `freshStartTail`: a file first seen at start, with no state, is read from its end.
    public var freshStartTail = false
    /// `deleteStateOnFileDelete` (legacy: off).
    public var deleteStateOnFileDelete = true
    /// `needParse`: the line goes through the syslog parser (PRI, stamp, tag) instead of being the whole MSG.
    public var needParse = false
    /// `addCeeTag`: `@cee:` before the line.
    public var addCeeTag = false
    /// `trimLineOverBytes`: lines cut after this many bytes (0: not).
    public var trimLineOverBytes = 0
    /// `discardTruncatedMsg`: the rest of an over-long line is dropped instead of going as further messages.
    public var discardTruncatedMsg = false
    public var ruleset: String?
    /// Seconds between looks at the files (the module's `PollingInterval` in polling mode).
    public var pollingInterval: Double = 0.2
    /// Where state files go (`statefile.directory`, else the work directory).
    public var stateDirectory: String?
    /// `ignoreOlderThan`: files last changed longer ago than this many seconds are not read (0: all are).
    public var ignoreOlderThan = 0
    /// `persistStateAfterSubmission`: the state file is written after each batch.
    public var persistStateAfterSubmission = false
    /// `addMetadata`: `$!metadata!filename` and `$!metadata!fileoffset` (legacy: off).
    public var addMetadata = true
    public init() {}

    /// The `$InputFile…` directives' defaults (escapeLF and deleteStateOnFileDelete off).
    public static var legacy: FileInputSettings {
        var s = FileInputSettings()
        s.escapeLF = false
        s.deleteStateOnFileDelete = false
        s.addMetadata = false
        return s
    }
}

/// impstats' settings (rsyslog 8.2302's names and defaults).
public struct StatisticsSettings: Hashable, Sendable {
    public enum Format: String, Hashable, Sendable {
        case legacy, json, cee
        case jsonElasticsearch = "json-elasticsearch"
    }
    /// `interval`: seconds between two reports (300).
    public var interval = 300
    public var facility = 5
    public var severity = 6
    /// `log.syslog`: through the rules, as messages tagged `rsyslogd-pstats:` (on).
    public var toRules = true
    /// `log.file`: also appended to this file.
    public var file: String?
    public var format = Format.legacy
    /// `resetCounters`: each report says what changed since the one before.
    public var resetCounters = false
    /// `bracketing`: a `BEGIN` message before each report and an `END` after it.
    public var bracketing = false
    public var ruleset: String?
    public init() {}
}

/// imjournal's settings (all module parameters in rsyslog 8.2302).
public struct JournalInputSettings: Hashable, Sendable {
    /// `StateFile` / `$imjournalStateFile`: the cursor kept across restarts (relative: under the work directory).
    public var stateFile: String?
    /// `PersistStateInterval`: the cursor is written every this many messages (and at stop).
    public var persistStateInterval = 10
    /// `IgnorePreviousMessages`: with no state, start at the journal's end instead of its start.
    public var ignorePreviousMessages = false
    /// `DefaultSeverity` / `DefaultFacility`: for entries without a valid PRIORITY / SYSLOG_FACILITY.
    public var defaultSeverity = 5
    public var defaultFacility = 1
    /// `UsePID`: which pid goes in the tag: `both` (SYSLOG_PID, else _PID), `syslog`, `system`.
    public var usePID = "both"
    /// `Remote`: journal files from other machines too.
    public var remote = false
    public init() {}
}

/// An rsyslog.conf read into values: inputs, rules in order, templates, global settings, and what was said
/// about it.
public struct SinkConfiguration: Sendable {
    public var inputs: [SinkInput] = []
    /// `global(localHostname=…)` / `$LocalHostName`: the name local messages carry instead of the machine's.
    public var localHostname: String?
    /// `global(net.ipProtocol=…)`: an input without an address listens on IPv4 and IPv6 (`unspecified`), or on
    /// one of them (`ipv4-only`, `ipv6-only`).
    public var ipProtocol = "unspecified"
    /// This machine's name as local messages carry it: `localHostname`, else short unless `$PreserveFQDN on`.
    public var localHostNameBytes: [UInt8] {
        localHostname.map { Array($0.utf8) } ?? Array(HostName.current(short: !preserveFQDN).utf8)
    }
    /// Whether any rule delivers messages somewhere: rsyslogd does not run a configuration without an active
    /// action ("there are no active actions configured").
    public var hasActiveActions: Bool {
        (rules + rulesets.values.flatMap { $0 }).contains { $0.actions.contains(where: RsyslogConfigParser.delivers) }
    }

    /// Size limits of files (`$outchannel`, omfile's `rotation.sizeLimit`), by path: when a file has reached the
    /// limit its command runs (rotating it away), and when it has not then made room, the file takes no more.
    public var fileSizeLimits: [String: FileSizeLimit] = [:]
    /// `$outchannel` definitions, by name.
    public var outchannels: [String: (file: String, limit: FileSizeLimit)] = [:]

    /// `lookup_table(name=… file=…)`, by name.
    public var lookupTables: [String: LookupTable] = [:]
    /// `$MaxOpenFiles`: the descriptor limit the sink sets for itself at start (RLIMIT_NOFILE), as rsyslogd does.
    public var maxOpenFiles: Int?
    /// `$PrivDropToUser`, `$PrivDropToGroup`, `global(privdrop.*)`: applied once the inputs are bound.
    public var privilegeDrop = PrivilegeDrop()
    /// How many `if` blocks keep a decision for their branches (SinkCondition.remember).
    public var conditionSlots = 0
    /// Each input's `inputname` when it is not the module's (`name=`, imptcp).
    public var inputNames: [SinkInput: String] = [:]
    /// Where each input was configured (for messages that name it: a port in use).
    public var inputOrigins: [SinkInput: SourceLocation] = [:]
    /// The default ruleset (`RSYSLOG_DefaultRuleset`): the top-level rules, in order.
    public var rules: [SinkRule] = []
    /// Rulesets defined by `ruleset(name=…) { … }` or `$RuleSet NAME`, by name (case-sensitive, as rsyslog).
    public var rulesets: [String: [SinkRule]] = [:]
    /// Templates defined by `$template` / `template()`, by name (lower-cased, as rsyslog looks them up).
    /// User templates by lower-cased name.
    public var templates: [String: UserTemplate] = [:]
    public var loadedModules: Set<String> = []
    public var workDirectory: String?
    /// `global(DefaultNetstreamDriver…)` / `$DefaultNetstreamDriver…`: the stream driver (TLS) and its files for every
    /// listener and forward that does not name its own.
    public var netstream = NetstreamDefaults()
    /// `global(processInternalMessages="on")`: the sink's own messages go through its rules directly, not
    /// through the system's log socket.
    public var processInternalMessages = false
    /// `global(net.enableDNS=…)`: senders named by reverse DNS (rsyslog's default) or by address.
    public var resolveSenderNames = true
    /// `global(dropMsgsWithMaliciousDnsPtrRecords="on")`: a sender whose reverse name is an address is dropped.
    public var dropMaliciousPTR = false
    /// `$Umask`: the process umask rsyslogd sets when it reads the directive (the last one wins).
    public var umask: UInt16?
    public var maxMessageSize = SyslogParseOptions.defaultMaxMessageSize
    public var parseOptions = SyslogParseOptions()
    /// `$RepeatedMsgReduction`: one setting for every output action, the last one read wins (as in rsyslogd 8,
    /// which applies it when the whole configuration is loaded).
    public var repeatedMessageReduction = false
    /// `syslog-sink --journal`: every message received also goes to journald, whatever the rules do with it.
    public var journalEverything = false
    public var preserveFQDN = false
    public var files: [String] = []
    /// `$AllowedSender UDP|TCP, …`: per protocol (lower-case), none configured = everyone allowed.
    public var allowedSenders: [String: [SenderPattern]] = [:]
    public var warnings: [ConfigDiagnostic] = []
    /// What the configuration asks and this build cannot honour (an input not read, an output not delivered, TLS not
    /// applied, a parameter not known): as rsyslogd, `-N1` fails on them and the sink starts without those objects,
    /// saying so. See SinkSupport.
    public var errors: [ConfigDiagnostic] = []
    /// `global(abortOnUncleanConfig="on")`: with any error, the sink does not start at all.
    public var abortOnUncleanConfig = false

    public init() {}
}

/// One `$AllowedSender` entry: an address or network, or a host name pattern (`*.example.net`) matched against
/// the sender's resolved name.
public enum SenderPattern: Hashable, Sendable {
    case network(AddressMatcher)
    case name(String)

    public init?(_ text: String) {
        var t = text
        if t.hasPrefix("[") {
            // [::1]/128
            t = t.replacingOccurrences("[", "").replacingOccurrences("]", "")
        }
        if let m = AddressMatcher(t) {
            self = .network(m)
        } else if !t.isEmpty, t.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "*" }) {
            self = .name(t.lowercased())
        } else {
            return nil
        }
    }

    func allows(ip: String, name: String) -> Bool {
        switch self {
        case .network(let m): return m.matches(ip)
        case .name(let pattern):
            if pattern.hasPrefix("*") { return name.hasSuffix(String(pattern.dropFirst())) }
            return name == pattern
        }
    }
}

extension String {
    fileprivate func replacingOccurrences(_ a: String, _ b: String) -> String {
        components(separatedBy: a).joined(separator: b)
    }

    fileprivate func components(separatedBy separator: String) -> [String] {
        guard let c = separator.first, separator.count == 1 else { return [self] }
        return split(separator: c, omittingEmptySubsequences: false).map(String.init)
    }
}

/// A file's size limit and what to run when it is reached (rsyslog's outchannel: the program, and everything after
/// its first blank as one argument).
public struct FileSizeLimit: Hashable, Sendable {
    public var bytes: Int
    public var command: [String]
    public init(bytes: Int, command: [String]) {
        self.bytes = bytes
        self.command = command
    }

    /// `program rest of the line` → [program, rest of the line], as rsyslog's stream.c splits it.
    public static func command(_ text: String) -> [String] {
        let trimmed = text.trimmingSpaces()
        guard let space = trimmed.firstIndex(of: " ") else { return trimmed.isEmpty ? [] : [trimmed] }
        return [String(trimmed[..<space]), String(trimmed[trimmed.index(after: space)...])]
    }
}
