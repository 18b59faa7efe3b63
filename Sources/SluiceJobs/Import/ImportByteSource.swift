// ImportByteSource: where an import's bytes come from, one chunk at a time, so that no file is
// ever held whole in memory: an upload stored in Postgres, or a file under the import directory.
// A gzip stream is inflated on the way (GzipByteSource).

import Foundation
import SluiceRuntime

public protocol ImportByteSource {
    /// The next chunk, or nil at the end. Chunks are never empty.
    mutating func next() async throws -> [UInt8]?
}

/// Reads a local file in 1 MiB chunks on the calling task (file reads of a local volume are short).
public struct FileByteSource: ImportByteSource {
    private let handle: FileHandle

    public init(path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw JobError(.invalidArguments, "the import file cannot be opened")
        }
        self.handle = handle
    }

    public mutating func next() async throws -> [UInt8]? {
        let data = try handle.read(upToCount: 1 << 20) ?? Data()
        if data.isEmpty {
            try? handle.close()
            return nil
        }
        return [UInt8](data)
    }
}

/// A source over bytes already in memory (tests, small inputs).
public struct MemoryByteSource: ImportByteSource {
    private var bytes: [UInt8]?
    private let chunk: Int
    private var offset = 0

    public init(_ bytes: [UInt8], chunkSize: Int = 1 << 20) {
        self.bytes = bytes
        self.chunk = max(1, chunkSize)
    }

    public mutating func next() async throws -> [UInt8]? {
        guard let b = bytes, offset < b.count else { return nil }
        let end = min(b.count, offset + chunk)
        defer { offset = end }
        return Array(b[offset..<end])
    }
}
