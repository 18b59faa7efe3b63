// Helpers for the catalog tests: the repository's jobs/ folder, and temporary catalog folders
// written from text so line numbers in the test source match the files.

import Foundation
@testable import SluiceCatalog
@testable import SluiceCatalogLoader

enum Fixtures {
    /// The repository root, found from this file's path (Tests/SluiceCatalogTests/Fixtures.swift).
    static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var jobsFolder: String { repositoryRoot.appendingPathComponent("jobs").path }

    /// Writes `files` (relative path → text) into a new temporary folder, runs `body`, removes it.
    static func withCatalog<T>(_ files: [String: String], _ body: (String) throws -> T) throws -> T {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("sluice-catalog-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (path, text) in files {
            let url = dir.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
        return try body(dir.path)
    }

    static func check(_ text: String, path: String = "test.yaml") -> CatalogCheck {
        CatalogLoader.check(sources: [CatalogSource(path: path, text: text)])
    }
}

extension CatalogCheck {
    /// Problems as `file:line code`, for compact expectations.
    var summary: [String] { problems.map { "\($0.location.file):\($0.location.line) \($0.code)" } }
}
