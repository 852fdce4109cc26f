import Crypto
import Foundation
import LogCore
import Synchronization

/// Forward-secure sealing keys: an HMAC-SHA256 key per epoch (15 minutes unless set), each the SHA-256 of the one
/// before (`evolve`), the old one erased from memory and from the key file once the next is in use. An intruder who
/// gets the key file at time T holds epoch T's key and can make every later one, never an earlier one: checkpoints
/// signed before T cannot be signed again (the scheme of journald's Forward Secure Sealing, with a hash chain in
/// place of its FSPRG). The auditor keeps the first key (`fss1-verify START INTERVAL KEY`, made once by `logquery
/// seal-key --forward-secure`, stored off the host): from it any epoch's key is derived, so it is as secret as the
/// keys it checks.
///
/// The sealing key file: `fss1 START INTERVAL EPOCH KEY` (seconds since 1970, seconds, the epoch the key is for,
/// 64 hex digits), rewritten in place at each evolution.
public struct ForwardSecureKey: Sendable, Equatable {
    public var start: Int64
    public var interval: Int64
    public private(set) var epoch: Int
    public private(set) var key: [UInt8]

    static let prefix = "fss1 "
    static let verifyPrefix = "fss1-verify "
    static let algorithm = "fss-hmac-sha256"

    public init(start: Int64, interval: Int64, epoch: Int, key: [UInt8]) {
        self.start = start
        self.interval = interval
        self.epoch = epoch
        self.key = key
    }

    /// The key of the next epoch: SHA-256 over a label and this one.
    static func evolve(_ key: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: Data("tollgate-seal fss evolve".utf8))
        hasher.update(data: key)
        return Array(hasher.finalize())
    }

    /// The epoch of a time (seconds since 1970); before `start`, epoch 0.
    public func epoch(at seconds: Int64) -> Int { seconds <= start ? 0 : Int((seconds - start) / interval) }

    /// Moves to `target` (no-op when not later): each key in between made and the previous one overwritten.
    public mutating func advance(to target: Int) {
        while epoch < target {
            var next = Self.evolve(key)
            swap(&key, &next)
            for i in next.indices { next[i] = 0 }
            epoch += 1
        }
    }

    /// The signature of `text` in this epoch: `EPOCH.HMAC` (the epoch is signed too).
    public func sign(_ text: String) -> String {
        "\(epoch)." + Seal.hex(HMAC<SHA256>.authenticationCode(for: Data(Self.signed(text, epoch: epoch).utf8), using: SymmetricKey(data: key)))
    }

    static func signed(_ text: String, epoch: Int) -> String { text + " epoch \(epoch)" }

    /// The key file's text.
    public var fileText: String { "\(Self.prefix)\(start) \(interval) \(epoch) \(Seal.hex(key))\n" }

    /// The sidecar's header line.
    var headerLine: String { "\(Seal.header) \(Self.algorithm) \(start)/\(interval)" }

    /// Reads a key file's text (`fss1 …`); nil when it is not one.
    init?(text: String) {
        guard text.hasPrefix(Self.prefix) else { return nil }
        let words = text.dropFirst(Self.prefix.count).split(separator: " ")
        guard words.count == 4, let start = Int64(words[0]), let interval = Int64(words[1]), interval > 0,
            let epoch = Int(words[2]), epoch >= 0, let key = Seal.bytes(hex: words[3]), key.count == 32
        else { return nil }
        self.init(start: start, interval: interval, epoch: epoch, key: key)
    }

    /// A new chain starting now (`start` rounded down to the interval): the sealing key file's text and the
    /// verification key's.
    public static func generate(interval: Int64, now: Int64 = Int64(Date().timeIntervalSince1970)) -> (sealing: String, verification: String) {
        let first = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        let start = now - now % interval
        let key = ForwardSecureKey(start: start, interval: interval, epoch: 0, key: first)
        return (key.fileText, "\(verifyPrefix)\(start) \(interval) \(Seal.hex(first))\n")
    }

    /// Rewrites the key file in place with this epoch's key (same blocks where the file system reuses them, then
    /// synced), so that the previous key is gone from it.
    public func persist(to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array(fileText.utf8)
        let written = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        guard written == bytes.count, ftruncate(fd, off_t(bytes.count)) == 0 else { return false }
        return fsync(fd) == 0
    }
}

/// What checks forward-secure seals: the first key, from which each epoch's is derived.
public struct ForwardSecureVerifier: Sendable {
    public let start: Int64
    public let interval: Int64
    let first: [UInt8]
    /// The last key derived: checkpoints come in epoch order, so each is one step or none from the previous.
    private let cache = KeyCache()

    final class KeyCache: Sendable {
        let last = Mutex<(epoch: Int, key: [UInt8])?>(nil)
    }

    /// `fss1-verify START INTERVAL KEY`; nil when the text is not one.
    init?(text: String) {
        guard text.hasPrefix(ForwardSecureKey.verifyPrefix) else { return nil }
        let words = text.dropFirst(ForwardSecureKey.verifyPrefix.count).split(separator: " ")
        guard words.count == 3, let start = Int64(words[0]), let interval = Int64(words[1]), interval > 0,
            let key = Seal.bytes(hex: words[2]), key.count == 32
        else { return nil }
        self.start = start
        self.interval = interval
        first = key
    }

    /// The key of `epoch` (`epoch` evolutions of the first).
    func key(_ epoch: Int) -> [UInt8] {
        cache.last.withLock { cache in
            var (at, key) = cache.flatMap { $0.epoch <= epoch ? $0 : nil } ?? (0, first)
            while at < epoch {
                key = ForwardSecureKey.evolve(key)
                at += 1
            }
            cache = (at, key)
            return key
        }
    }

    /// The epoch a signature (`EPOCH.HMAC`) claims, and whether it is that epoch's key's over `text`.
    func check(_ signature: String, for text: String) -> (epoch: Int, valid: Bool)? {
        guard let dot = signature.firstIndex(of: "."), let epoch = Int(signature[..<dot]), epoch >= 0,
            epoch < 10_000_000, let mac = Seal.bytes(hex: signature[signature.index(after: dot)...])
        else { return nil }
        let valid = HMAC<SHA256>.isValidAuthenticationCode(
            mac, authenticating: Data(ForwardSecureKey.signed(text, epoch: epoch).utf8),
            using: SymmetricKey(data: key(epoch)))
        return (epoch, valid)
    }

    /// When an epoch begins (seconds since 1970).
    func begins(_ epoch: Int) -> Int64 { start + Int64(epoch) * interval }
}

/// The time a stored line says it was logged: its RFC 3339 stamp, or its RFC 3164 one (`Nov 26 08:51:02`, local
/// time, the year the one that puts it nearest `near`). Seconds since 1970; nil when the line starts with neither.
enum LineStamp {
    static func seconds(_ b: UnsafeRawBufferPointer, near: Int64) -> Int64? {
        func digits(_ at: Int, _ n: Int) -> Int? {
            guard at + n <= b.count else { return nil }
            var v = 0
            for i in at..<(at + n) {
                let d = Int(b[i]) - 48
                guard d >= 0, d <= 9 else { return nil }
                v = v * 10 + d
            }
            return v
        }
        // 2026-12-07T11:24:57[.fraction](Z|±hh:mm)
        if b.count >= 20, b[4] == 0x2D, b[7] == 0x2D, b[10] == 0x54, let y = digits(0, 4), let mo = digits(5, 2),
            let d = digits(8, 2), let h = digits(11, 2), let mi = digits(14, 2), let s = digits(17, 2)
        {
            var i = 19
            if i < b.count, b[i] == 0x2E {
                i += 1
                while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
            }
            var offset = 0
            if i < b.count, b[i] == 0x2B || b[i] == 0x2D, let oh = digits(i + 1, 2), let om = digits(i + 4, 2) {
                offset = (oh * 3600 + om * 60) * (b[i] == 0x2D ? -1 : 1)
            }
            let t = CivilTime(year: y, month: mo, day: d, hour: h, minute: mi, second: s, utcOffsetSeconds: offset)
            return t.epochMicroseconds / 1_000_000
        }
        // Nov 26 08:51:02 (day space-padded)
        guard b.count >= 15, b[3] == 0x20, b[6] == 0x20, b[9] == 0x3A, b[12] == 0x3A,
            let month = CivilTime.month(b[0], b[1], b[2]),
            let day = b[4] == 0x20 ? digits(5, 1) : digits(4, 2), let h = digits(7, 2), let mi = digits(10, 2),
            let s = digits(13, 2)
        else { return nil }
        let year = CivilTime(epochMicroseconds: near * 1_000_000, utcOffsetSeconds: 0).year
        var best: Int64?
        for y in [year - 1, year, year + 1] {
            let offset = CivilTime.localUTCOffset(atEpochSeconds: Int(near))
            let t = CivilTime(year: y, month: month, day: day, hour: h, minute: mi, second: s, utcOffsetSeconds: offset)
            let v = t.epochMicroseconds / 1_000_000
            if best.map({ abs($0 - near) > abs(v - near) }) ?? true { best = v }
        }
        return best
    }

    /// `2026-12-07 11:24:57 UTC`.
    static func text(_ seconds: Int64) -> String {
        let t = CivilTime(epochMicroseconds: seconds * 1_000_000, utcOffsetSeconds: 0)
        var out: [UInt8] = []
        out.appendDateTime(year: t.year, month: t.month, day: t.day, hour: t.hour, minute: t.minute, second: t.second)
        return String(decoding: out, as: UTF8.self) + " UTC"
    }
}
