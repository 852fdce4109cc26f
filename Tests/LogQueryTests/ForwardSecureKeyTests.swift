import Foundation
import LogCore
import Testing

@testable import Seal

/// The forward-secure key chain on its own: what the sink keeps, what the auditor derives, what a key of epoch T
/// can and cannot sign.
@Suite("Forward-secure keys")
struct ForwardSecureKeyTests {
    @Test func theSinksKeysAreTheOnesTheAuditorDerives() throws {
        let (sealing, verification) = ForwardSecureKey.generate(interval: 900, now: 1_796_642_829)
        var key = try #require(ForwardSecureKey(text: sealing.trimmingCharacters(in: .newlines)))
        let verifier = try #require(ForwardSecureVerifier(text: verification.trimmingCharacters(in: .newlines)))
        #expect(key.start == 1_796_642_100 && key.interval == 900 && key.epoch == 0, "start rounded down to the interval")
        #expect(key.epoch(at: 1_796_642_100 + 899) == 0 && key.epoch(at: 1_796_642_100 + 900) == 1)
        var signatures: [(Int, String)] = []
        for epoch in [0, 1, 5, 40] {
            key.advance(to: epoch)
            signatures.append((epoch, key.sign("tollgate-seal 1 7 0 10 500 abc")))
        }
        for (epoch, signature) in signatures {
            let checked = verifier.check(signature, for: "tollgate-seal 1 7 0 10 500 abc")
            #expect(checked?.epoch == epoch && checked?.valid == true)
            #expect(verifier.check(signature, for: "tollgate-seal 1 7 0 11 500 abc")?.valid == false)
        }
        // Epoch 40's key cannot speak for epoch 5: a signature relabelled to an earlier epoch does not verify.
        let late = key.sign("x")
        let relabelled = "5" + late.drop { $0 != "." }
        #expect(verifier.check(relabelled, for: "x")?.valid == false)
        // The file's text reads back as the same key; a key never goes back.
        #expect(ForwardSecureKey(text: key.fileText.trimmingCharacters(in: .newlines)) == key)
        key.advance(to: 3)
        #expect(key.epoch == 40)
    }

    @Test func damagedKeyTextsAreRefused() {
        #expect(ForwardSecureKey(text: "fss1 1 900 0 abcd") == nil)
        #expect(ForwardSecureKey(text: "fss1 1 0 0 " + String(repeating: "ab", count: 32)) == nil)
        #expect(ForwardSecureVerifier(text: "fss1-verify 1 900") == nil)
        #expect(throws: SealKey.Failure.self) { try SealVerificationKey(argument: "fss1-verify x 900 00") }
    }

    @Test func linesTellTheirTime() {
        func seconds(_ line: String, near: Int64) -> Int64? {
            Array(line.utf8).withUnsafeBytes { LineStamp.seconds($0, near: near) }
        }
        let near: Int64 = 1_796_642_829  // 2026-12-07 11:27:09 UTC
        // RFC 3164 stamps are local time.
        let local = Int64(CivilTime.localUTCOffset(atEpochSeconds: Int(near)))
        #expect(seconds("Dec  7 11:27:09 lb1 haproxy[1]: x", near: near) == near - local)
        #expect(seconds("2026-12-07T11:27:09.123456+01:00 lb1 haproxy[1]: x", near: near) == near - 3600)
        #expect(seconds("2026-12-07T11:27:09Z x", near: near) == near)
        // A December line read in January belongs to the year before.
        let newYear: Int64 = 1_798_761_600  // 2027-01-01 00:00:00 UTC
        #expect(
            seconds("Dec 31 23:59:59 h x", near: newYear + 60)
                == newYear - 1 - Int64(CivilTime.localUTCOffset(atEpochSeconds: Int(newYear))))
        #expect(seconds("not a stamp", near: near) == nil)
    }
}
