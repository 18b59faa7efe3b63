// GzipByteSource: inflates a gzip stream (one or more members) chunk by chunk with zlib, so a
// compressed upload is never expanded whole. GzipDetectingSource looks at the first two bytes
// (1f 8b) and wraps the source only when they say gzip.

import CZlib
import SluiceRuntime

/// A source of any concrete type (uploads, files, memory).
public struct AnyImportByteSource: ImportByteSource {
    var base: any ImportByteSource
    public init(_ base: any ImportByteSource) { self.base = base }
    public mutating func next() async throws -> [UInt8]? { try await base.next() }
}

public enum GzipDetectingSource {
    /// `source` as is, or inflated when it starts with the gzip magic bytes.
    public static func wrap(_ source: AnyImportByteSource) async throws -> AnyImportByteSource {
        var source = source
        guard let first = try await source.next() else { return AnyImportByteSource(MemoryByteSource([])) }
        let replay = ReplaySource(first: first, rest: source)
        if first.count >= 2, first[0] == 0x1F, first[1] == 0x8B {
            return AnyImportByteSource(try GzipByteSource(replay))
        }
        return AnyImportByteSource(replay)
    }
}

/// Gives back a chunk already read, then the rest.
struct ReplaySource: ImportByteSource {
    var first: [UInt8]?
    var rest: AnyImportByteSource
    mutating func next() async throws -> [UInt8]? {
        if let f = first {
            first = nil
            return f
        }
        return try await rest.next()
    }
}

final class ZStream {
    // Owns the z_stream; freed in deinit. Used by one task at a time.
    var stream = z_stream()
    init() throws {
        let rc = CZlib_inflateInit2(&stream, 15 + 32)  // 32: detect gzip or zlib headers
        guard rc == Z_OK else { throw JobError(.invalidArguments, "cannot start gzip decompression (zlib error \(rc))") }
    }
    deinit { inflateEnd(&stream) }

    /// One inflate call: returns zlib's code, the bytes produced and the input bytes consumed.
    func inflate(_ input: UnsafeMutableBufferPointer<UInt8>, from offset: Int, into output: UnsafeMutableBufferPointer<UInt8>) -> (Int32, Int, Int) {
        stream.next_in = input.baseAddress! + offset
        stream.avail_in = UInt32(input.count - offset)
        stream.next_out = output.baseAddress
        stream.avail_out = UInt32(output.count)
        let rc = CZlib.inflate(&stream, Z_NO_FLUSH)
        return (rc, output.count - Int(stream.avail_out), input.count - offset - Int(stream.avail_in))
    }

    func reset() { inflateReset(&stream) }
}

public struct GzipByteSource: ImportByteSource {
    private var source: ReplaySource
    private let z: ZStream
    private var input: [UInt8] = []
    private var inputOffset = 0
    private var ended = false
    private var sourceDone = false

    init(_ source: ReplaySource) throws {
        self.source = source
        self.z = try ZStream()
    }

    public mutating func next() async throws -> [UInt8]? {
        while true {
            if ended { return nil }
            if inputOffset >= input.count {
                if sourceDone {
                    throw JobError(.invalidArguments, "the gzip file is truncated")
                }
                guard let chunk = try await source.next() else {
                    sourceDone = true
                    if z.stream.total_in == 0 { return nil }
                    throw JobError(.invalidArguments, "the gzip file is truncated")
                }
                input = chunk
                inputOffset = 0
            }
            var out = [UInt8](repeating: 0, count: 1 << 18)
            var chunk = input
            let offset = inputOffset
            let stream = z
            let (rc, produced, consumed) = chunk.withUnsafeMutableBufferPointer { inBuf in
                out.withUnsafeMutableBufferPointer { outBuf in
                    stream.inflate(inBuf, from: offset, into: outBuf)
                }
            }
            inputOffset += consumed
            switch rc {
            case Z_OK, Z_BUF_ERROR:
                break
            case Z_STREAM_END:
                // Another gzip member may follow (concatenated files).
                if inputOffset < input.count || !sourceDone {
                    z.reset()
                    if inputOffset >= input.count {
                        if let more = try await source.next() {
                            input = more
                            inputOffset = 0
                        } else {
                            ended = true
                        }
                    }
                } else {
                    ended = true
                }
            default:
                throw JobError(.invalidArguments, "the gzip data is corrupt (zlib error \(rc))")
            }
            if produced > 0 {
                out.removeLast(out.count - produced)
                return out
            }
        }
    }
}
