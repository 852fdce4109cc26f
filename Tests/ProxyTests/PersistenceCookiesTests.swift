import Testing

@testable import Proxy

/// Cookie persistence as HAProxy 2.6 decides it (the interop test checks the same cases against HAProxy itself).
@Suite("Persistence cookies")
struct PersistenceCookiesTests {
    var insertIndirect: PersistenceCookie {
        var c = PersistenceCookie(name: "SERVERID")
        c.insert = true
        c.indirect = true
        c.nocache = true
        return c
    }
    let servers = [
        PersistenceCookies.Server(cookie: "a", usable: true), PersistenceCookies.Server(cookie: "b", usable: false),
        PersistenceCookies.Server(cookie: "b", usable: true),
    ]

    @Test func theFirstUsableServerWithTheValueTakesTheRequest() {
        let r = PersistenceCookies.request(insertIndirect, cookieHeaders: ["SERVERID=b|abcdef"], servers: servers)
        #expect(r.status == .valid && r.server == 2 && r.headers == [nil])
        let down = PersistenceCookies.request(
            insertIndirect, cookieHeaders: ["SERVERID=b"], servers: Array(servers.prefix(2)))
        #expect(down.status == .down && down.server == nil)
        #expect(PersistenceCookies.request(insertIndirect, cookieHeaders: ["SERVERID="], servers: servers).status == .invalid)
        #expect(PersistenceCookies.request(insertIndirect, cookieHeaders: ["x=1"], servers: servers).status == .none)
    }

    @Test func ignoredAndForcedPersistence() {
        let ignored = PersistenceCookies.request(
            insertIndirect, cookieHeaders: ["k=1; SERVERID=a"], servers: servers, override: .ignore)
        // Unused, and still taken out of what the server sees.
        #expect(ignored.status == .unused && ignored.server == nil && ignored.headers == ["k=1"])
        let forced = PersistenceCookies.request(
            insertIndirect, cookieHeaders: ["SERVERID=b"], servers: Array(servers.prefix(2)), override: .force)
        #expect(forced.status == .down && forced.server == 1)
        let forcedUp = PersistenceCookies.request(
            insertIndirect, cookieHeaders: ["SERVERID=a"], servers: servers, override: .force)
        #expect(forcedUp.status == .valid && forcedUp.server == 0)
    }

    @Test func indirectInsertTakesTheCookieOutOfWhatTheServerSees() {
        let r = PersistenceCookies.request(
            insertIndirect, cookieHeaders: ["a=1; SERVERID=a; b=2", "SERVERID=a", "c=3"], servers: servers)
        #expect(r.headers == ["a=1; b=2", nil, "c=3"])
        var passive = PersistenceCookie(name: "SERVERID")
        passive.indirect = true
        #expect(PersistenceCookies.request(passive, cookieHeaders: ["SERVERID=a"], servers: servers).headers == nil)
    }

    @Test func responsesGetTheCookieUnlessTheClientCameDirect() {
        var c = insertIndirect
        c.httpOnly = true
        c.domains = [".example.com"]
        let inserted = PersistenceCookies.response(
            c, serverCookie: "a", direct: false, method: "GET", setCookieNames: ["SERVERID", "app"], cacheable: true)
        #expect(inserted.status == .inserted && inserted.removesServerCookie)
        #expect(
            inserted.added == [
                .init(name: "set-cookie", value: "SERVERID=a; path=/; domain=.example.com; HttpOnly"),
                .init(name: "cache-control", value: "private"),
            ])
        let direct = PersistenceCookies.response(
            c, serverCookie: "a", direct: true, method: "GET", setCookieNames: [], cacheable: true)
        #expect(direct.status == .none && direct.added.isEmpty)
        let noCookie = PersistenceCookies.response(
            c, serverCookie: nil, direct: false, method: "GET", setCookieNames: [], cacheable: false)
        #expect(noCookie.added.first?.value == "SERVERID=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/; domain=.example.com; HttpOnly")
        c.postOnly = true
        #expect(PersistenceCookies.response(c, serverCookie: "a", direct: false, method: "GET", setCookieNames: [], cacheable: false).added.isEmpty)
    }

    @Test func cacheableAsHAProxyReadsIt() {
        func cacheable(_ method: String = "GET", _ status: Int = 200, pragma: String? = nil, cc: [String] = [], expires: Bool = false, validator: Bool = false) -> Bool {
            PersistenceCookies.cacheable(method: method, status: status, pragma: pragma, cacheControl: cc, expires: expires, validator: validator)
        }
        #expect(!cacheable())
        #expect(cacheable(cc: ["max-age=60"]) && cacheable(expires: true) && cacheable(validator: true))
        #expect(!cacheable("POST", validator: true) && !cacheable("GET", 302, validator: true))
        #expect(!cacheable(cc: ["max-age=0"]) && !cacheable(pragma: "no-cache", validator: true))
        #expect(cacheable("POST", cc: ["public", "max-age=5"]) && !cacheable(cc: ["no-cache", "max-age=5"]))
    }
}
