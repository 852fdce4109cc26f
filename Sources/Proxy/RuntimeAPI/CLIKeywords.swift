/// The runtime API's commands as `help` lists them (HAProxy 2.6's usage lines, for the commands this build
/// carries out), how a command's words find one, and HAProxy's answer to a command it does not know: the
/// commands sharing its first words, or the closest ones by word fingerprint, then help/prompt/quit.
enum CLIKeywords {
    struct Keyword: Sendable {
        /// The words that name it (at most five, as HAProxy's).
        let words: [String]
        /// The `help` line, padded as HAProxy pads it.
        let usage: String
    }

    static let all: [Keyword] = [
        .init(["clear", "counters"], "clear counters [all]                    : clear max statistics counters (or all counters)"),
        .init(["clear", "table"], "clear table <table> [<filter>]*         : remove an entry from a table (filter: data/key)"),
        .init(["disable", "agent"], "disable agent                           : disable agent checks"),
        .init(["disable", "frontend"], "disable frontend <frontend>             : temporarily disable specific frontend"),
        .init(["disable", "health"], "disable health                          : disable health checks"),
        .init(["disable", "server"], "disable server (DEPRECATED)             : disable a server for maintenance (use 'set server' instead)"),
        .init(["enable", "agent"], "enable agent                            : enable agent checks"),
        .init(["enable", "frontend"], "enable frontend <frontend>              : re-enable specific frontend"),
        .init(["enable", "health"], "enable health                           : enable health checks"),
        .init(["enable", "server"], "enable server  (DEPRECATED)             : enable a disabled server (use 'set server' instead)"),
        .init(["get", "weight"], "get weight <bk>/<srv>                   : report a server's current weight"),
        .init(["operator"], "operator                                : lower the level of the current CLI session to operator"),
        .init(["set", "maxconn", "frontend"], "set maxconn frontend <frontend> <value> : change a frontend's maxconn setting"),
        .init(["set", "maxconn", "global"], "set maxconn global <value>              : change the per-process maxconn setting"),
        .init(["set", "maxconn", "server"], "set maxconn server <bk>/<srv>           : change a server's maxconn setting"),
        .init(["set", "server"], "set server <bk>/<srv> [opts]            : change a server's state, weight, address or ssl"),
        .init(["set", "timeout"], "set timeout [cli] <delay>               : change a timeout setting"),
        .init(["set", "weight"], "set weight <bk>/<srv>  (DEPRECATED)     : change a server's weight (use 'set server' instead)"),
        .init(["show", "backend"], "show backend                            : list backends in the current running config"),
        .init(["show", "cli", "level"], "show cli level                          : display the level of the current CLI session"),
        .init(["show", "cli", "sockets"], "show cli sockets                        : dump list of cli sockets"),
        .init(["show", "info"], "show info [desc|json|typed|float]*      : report information about the running process"),
        .init(["show", "peers"], "show peers [dict|-] [section]           : dump some information about all the peers or this peers section"),
        .init(["show", "resolvers"], "show resolvers [id]                     : dumps counters from all resolvers section and associated name servers"),
        .init(["show", "table"], "show table <table> [<filter>]*          : report table usage stats or dump this table's contents (filter: data/key)"),
        .init(["show", "servers", "state"], "show servers state [<backend>]          : dump volatile server information (all or for a single backend)"),
        .init(["show", "sess"], "show sess [id]                          : report the list of current sessions or dump this exact session"),
        .init(["show", "stat"], "show stat [desc|json|no-maint|typed|up]*: report counters for each proxy and server"),
        .init(["show", "version"], "show version                            : show version of the current process"),
        .init(["shutdown", "frontend"], "shutdown frontend <frontend>            : stop a specific frontend"),
        .init(["shutdown", "session"], "shutdown session [id]                   : kill a specific session"),
        .init(["shutdown", "sessions", "server"], "shutdown sessions server <bk>/<srv>     : kill sessions on a server"),
        .init(["user"], "user                                    : lower the level of the current CLI session to user"),
        // Always valid, shown at the end of every list rather than among the others.
        .init(["help"], ""), .init(["prompt"], ""), .init(["quit"], ""),
    ]

    /// The keyword whose words begin `args`, if one does.
    static func find(_ args: [String]) -> Keyword? {
        all.first { kw in kw.words.count <= args.count && zip(kw.words, args).allSatisfy { $0 == $1 } }
    }

    static let alwaysShown = """
          help [<command>]                        : list matching or all commands
          prompt                                  : toggle interactive mode with prompt
          quit                                    : disconnect

        """

    /// HAProxy's answer to `help [words…]`, or to a command it does not know (`args` are its words).
    static func usage(_ args: [String]) -> String {
        var args = args
        var isHelp = false
        if args.first == "help" {
            args.removeFirst()
            isHelp = true
        }
        let listed = all.filter { !$0.usage.isEmpty }
        // How many first words of `args` some command has.
        var length = 0
        for kw in listed {
            var i = 0
            while i < min(kw.words.count, args.count, 5), !args[i].isEmpty, kw.words[i] == args[i] { i += 1 }
            length = max(length, i)
        }
        var out: String
        if isHelp {
            out = "The following commands are valid at this level:\n"
        } else if length == 0 && (args.first ?? "").isEmpty {
            out = "Unknown command. Please enter one of the following commands only:\n"
        } else {
            out = "Unknown command, but maybe one of the following ones is a better match:\n"
        }
        func sharesPrefix(_ kw: Keyword) -> Bool {
            kw.words.count >= length && (0..<length).allSatisfy { kw.words[$0] == args[$0] }
        }
        // Words past the common ones are compared by fingerprint; the five closest are kept.
        var matches: [(kw: Keyword, distance: Int)] = []
        if length < args.count, !args[length].isEmpty {
            for kw in listed where sharesPrefix(kw) {
                var mine = Fingerprint()
                var theirs = Fingerprint()
                var total = 0
                for word in args[length..<min(args.count, 5)] where !word.isEmpty {
                    mine.add(word)
                    total += word.utf8.count
                }
                for word in kw.words[length...] {
                    theirs.add(word)
                    total += word.utf8.count
                }
                let distance = mine.distance(to: theirs)
                guard distance < 5 * total / 2 else { continue }
                if matches.count < 5 {
                    matches.append((kw, distance))
                } else if let worst = matches.last, distance < worst.distance {
                    matches[4] = (kw, distance)
                } else {
                    continue
                }
                // Keep them sorted, an equal distance after those already there.
                var i = matches.count - 1
                while i > 0, matches[i].distance < matches[i - 1].distance {
                    matches.swapAt(i, i - 1)
                    i -= 1
                }
            }
        }
        var entries: [Keyword]
        if let best = matches.first {
            entries = matches.prefix { $0.distance <= 5 * best.distance / 2 }.map(\.kw)
        } else {
            entries = listed.filter(sharesPrefix)
        }
        entries.sort { Array($0.usage.utf8).lexicographicallyPrecedes(Array($1.usage.utf8)) }
        for kw in entries { out += "  " + kw.usage + "\n" }
        return out + alwaysShown
    }

    /// HAProxy's word fingerprint: how often each character class follows each other (letters, digit, other,
    /// with the word's start and end), and which classes appear.
    struct Fingerprint {
        var counts = [UInt8](repeating: 0, count: 1024)

        mutating func add(_ word: String) {
            var from = 28
            for byte in word.utf8 {
                let c = byte | 0x20
                let to: Int =
                    switch byte {
                    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
                        Int(c - UInt8(ascii: "a")) + 1
                    case UInt8(ascii: "0")...UInt8(ascii: "9"): 27
                    default: 28
                    }
                counts[to] = 1
                counts[32 * from + to] &+= 1
                from = to
            }
            counts[32 * from + 28] &+= 1
        }

        func distance(to other: Fingerprint) -> Int {
            var total = 0
            for i in 0..<1024 { total += abs(Int(counts[i]) - Int(other.counts[i])) }
            return total
        }
    }
}

extension CLIKeywords.Keyword {
    init(_ words: [String], _ usage: String) {
        self.init(words: words, usage: usage)
    }
}
