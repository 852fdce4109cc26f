import CZlib
import NIOCore

/// A response body compressed as it streams (`compression algo`), through zlib: each part compressed and flushed
/// (`Z_SYNC_FLUSH`) so that the client gets it at once, the stream finished at the body's end, as HAProxy does it.
/// The only place the proxy touches zlib's stream (its pointer stays put while it lives).
final class Deflater {
    enum Format {
        /// `deflate` (RFC 1950, zlib's wrapper), `raw-deflate` (RFC 1951), `gzip` (RFC 1952).
        case zlib, raw, gzip
        var windowBits: Int32 {
            switch self {
            case .zlib: 15
            case .raw: -15
            case .gzip: 31
            }
        }
    }

    private let stream: UnsafeMutablePointer<z_stream>
    private var ended = false

    /// nil when zlib cannot start (out of memory): the response then goes uncompressed.
    init?(_ format: Format, level: Int32) {
        stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        guard tollgate_deflate_init(stream, level, format.windowBits) == Z_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            return nil
        }
    }

    deinit {
        deflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// `input` compressed and flushed (or, `finish`, the stream ended): what goes to the client.
    func compress(_ input: ByteBuffer?, finish: Bool, allocator: ByteBufferAllocator) -> ByteBuffer {
        var out = allocator.buffer(capacity: (input?.readableBytes ?? 0) / 2 + 64)
        guard !ended else { return out }
        let flush = finish ? Z_FINISH : Z_SYNC_FLUSH
        let run = { (bytes: UnsafeRawBufferPointer) in
            self.stream.pointee.next_in = UnsafeMutablePointer(
                mutating: bytes.baseAddress?.assumingMemoryBound(to: UInt8.self))
            self.stream.pointee.avail_in = UInt32(bytes.count)
            while true {
                out.reserveCapacity(minimumWritableBytes: 4096)
                var status: Int32 = Z_OK
                let produced = out.writeWithUnsafeMutableBytes(minimumWritableBytes: 4096) { space in
                    self.stream.pointee.next_out = space.baseAddress?.assumingMemoryBound(to: UInt8.self)
                    self.stream.pointee.avail_out = UInt32(space.count)
                    status = deflate(self.stream, flush)
                    return space.count - Int(self.stream.pointee.avail_out)
                }
                if status == Z_STREAM_END { self.ended = true }
                // Done when zlib had room left (all input taken and flushed) or the stream ended.
                if status != Z_OK || self.stream.pointee.avail_out != 0 || produced == 0 { break }
            }
        }
        if let input {
            input.withUnsafeReadableBytes(run)
        } else {
            run(UnsafeRawBufferPointer(start: nil, count: 0))
        }
        return out
    }
}
