import Foundation
import TestSupport
import Testing

@testable import Proxy

/// `userlist` sections as HAProxy reads them, and Basic credentials checked against them: crypt(3) hashes made by
/// `openssl passwd` (SHA-512, SHA-256, MD5), plain passwords, groups given from either side.
@Suite("Userlists")
struct UserlistTests {
    @Test func credentialsAreCheckedAsHAProxyChecksThem() throws {
        let openssl = try Peers.find("openssl")
        var hashes: [String] = []
        for scheme in ["-6", "-5", "-1"] {
            let run = try Peers.run(openssl, ["passwd", scheme, "s3cret"])
            hashes.append(String(decoding: run.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let configuration = try HAProxyConfigParser.parse(
            text: """
                userlist staff
                    group admins users alice,dave
                    group viewers
                    user alice password \(hashes[0])
                    user bob password \(hashes[1]) groups viewers
                    user carol password \(hashes[2])
                    user dave insecure-password plain:text
                defaults
                    mode http

                """)
        let list = try #require(configuration.userlists["staff"])
        #expect(list.users["alice"]?.groups == ["admins"] && list.users["bob"]?.groups == ["viewers"])
        #expect(list.users["dave"]?.groups == ["admins"] && list.users["carol"]?.groups == [])
        let cache = CredentialCache()
        for user in ["alice", "bob", "carol"] {
            #expect(list.authenticate(Array("\(user):s3cret".utf8), cache: cache) == user)
            #expect(list.authenticate(Array("\(user):s3cret".utf8), cache: cache) == user, "again, from the cache")
            #expect(list.authenticate(Array("\(user):S3cret".utf8), cache: cache) == nil)
            #expect(list.authenticate(Array("\(user):".utf8), cache: cache) == nil)
        }
        // The password is all that follows the first colon.
        #expect(list.authenticate(Array("dave:plain:text".utf8), cache: nil) == "dave")
        #expect(list.authenticate(Array("dave:plain".utf8), cache: nil) == nil)
        #expect(list.authenticate(Array("nobody:s3cret".utf8), cache: cache) == nil)
        #expect(list.authenticate(Array("no colon".utf8), cache: cache) == nil)
        #expect(cache.holds(list: "staff", credentials: Array("alice:s3cret".utf8)))
        #expect(!cache.holds(list: "staff", credentials: Array("alice:S3cret".utf8)))
    }
}
