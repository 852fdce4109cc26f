/// The rules of a TCP frontend on the connection and on what its client sent first (`tcp-request content`, then
/// `use_backend`), as HAProxy 2.6 evaluates them while `tcp-request inspect-delay` lets it wait: a test whose sample
/// needs more bytes is not yet known, and a rule that cannot be decided without it waits for them, until the delay
/// ends (or the buffer is full, or the client ends its side); then what is missing is no match.
enum Layer4Verdict: Equatable {
    case yes, no, unknown

    var negated: Layer4Verdict {
        switch self {
        case .yes: .no
        case .no: .yes
        case .unknown: .unknown
        }
    }
}

/// What the layer-4 rules can read.
struct Layer4Input {
    var client: UInt128?
    var hello: ClientHelloPeek
    /// No more bytes will be waited for: a sample still missing is no match.
    var final: Bool
    var servers: (String) -> Int = { _ in 0 }
    /// What the session tracks, and the tables (`sc*_…`, `src_…`).
    var counters: TrackedCounters? = nil
    /// The port the client connected to (`dst_port`).
    var frontendPort: Int? = nil
}

extension ACLTest {
    func layer4(_ input: Layer4Input) -> Layer4Verdict {
        func known(_ holds: Bool) -> Layer4Verdict { holds ? .yes : .no }
        if !integerConverters.isEmpty {
            // A TCP session sets no variables in this build: an operand's variable gives no sample there.
            switch sample {
            case .counter(let fetch):
                return known(matches(converting: input.counters?.fetch(fetch, client: input.client), variables: nil))
            case .usableServers(let backend): return known(matches(converting: Int64(input.servers(backend)), variables: nil))
            case .frontendPort: return known(matches(converting: input.frontendPort.map(Int64.init), variables: nil))
            default: return .no
            }
        }
        switch sample {
        case .source: return known(input.client.map(addresses.contains) ?? false)
        case .usableServers(let backend):
            let count = input.servers(backend)
            return known(ranges.contains { $0.contains(count) })
        case .clientHelloType:
            switch input.hello.helloType {
            case .value(let type): return known(ranges.contains { $0.contains(type) })
            case .absent: return .no
            case .needMore: return input.final ? .no : .unknown
            }
        case .clientHelloSNI:
            switch input.hello.sni {
            case .value(let name): return known(compare(name.utf8))
            case .absent: return .no
            case .needMore: return input.final ? .no : .unknown
            }
        case .counter(let fetch): return known(matches(counter: fetch, input.counters, client: input.client))
        case .frontendPort: return known(input.frontendPort.map { port in ranges.contains { $0.contains(port) } } ?? false)
        case .variable, .status, .responseHeader, .urlParameter, .path, .method, .header, .headerValue, .headerCount,
            .tlsConnection, .tlsSNI, .clientCertificate,
            .clientCertificateVerify, .httpAuth, .httpAuthGroup:
            return .no
        }
    }
}

extension RuleCondition {
    /// Three-valued: a term holds when one of its tests does, all terms of an alternative must, one alternative
    /// must; what is not known yet stays unknown unless another part decides.
    func layer4(_ input: Layer4Input) -> Layer4Verdict {
        var result = Layer4Verdict.no
        for terms in alternatives {
            var all = Layer4Verdict.yes
            for term in terms {
                var any = Layer4Verdict.no
                for test in term.tests {
                    let verdict = test.layer4(input)
                    if verdict == .yes {
                        any = .yes
                        break
                    }
                    if verdict == .unknown { any = .unknown }
                }
                let holds = term.negated ? any.negated : any
                if holds == .no {
                    all = .no
                    break
                }
                if holds == .unknown { all = .unknown }
            }
            if all == .yes {
                result = .yes
                break
            }
            if all == .unknown { result = .unknown }
        }
        return unless ? result.negated : result
    }
}

extension TCPRequestRule {
    enum Decision: Equatable { case accept, reject, silentDrop, wait }

    /// HAProxy's order, from rule `next` on: the first `accept` or `reject` whose condition holds ends it; the other
    /// actions are carried out (`perform`) and the evaluation goes on; a rule not yet decidable waits (`next` is
    /// left on it, so that nothing is carried out twice); when no rule ends it, the connection goes on.
    static func decide(
        _ rules: [TCPRequestRule], _ input: Layer4Input, from next: inout Int, perform: (Action) -> Void = { _ in }
    ) -> Decision {
        while next < rules.count {
            let rule = rules[next]
            switch rule.condition?.layer4(input) ?? .yes {
            case .yes:
                switch rule.action {
                case .accept: return .accept
                case .reject: return .reject
                case .silentDrop: return .silentDrop
                default: perform(rule.action)
                }
            case .unknown: return .wait
            case .no: break
            }
            next += 1
        }
        return .accept
    }

    /// The rules at once, on what a connection has before any byte (its address, its counters); with the
    /// decision, the counters the deciding rule tested (a limit: audited when it blocks).
    static func decide(
        _ rules: [TCPRequestRule], client: UInt128?, frontendPort: Int? = nil, counters: TrackedCounters? = nil,
        perform: (Action) -> Void = { _ in }
    ) -> (decision: Decision, limits: [String]) {
        var next = 0
        let input = Layer4Input(
            client: client, hello: ClientHelloPeek([]), final: true, counters: counters, frontendPort: frontendPort)
        let decision = decide(rules, input, from: &next, perform: perform)
        return (decision, next < rules.count ? rules[next].condition?.limits ?? [] : [])
    }
}
