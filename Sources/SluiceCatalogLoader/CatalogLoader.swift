// CatalogLoader: reads the catalog folder (`jobs/`, SLUICE_CATALOG) and validates it statically.
//
// Every `*.yaml` / `*.yml` file under the folder, at any depth, is part of one catalog; files
// load in path order and each may hold any section. Problems are collected across all files
// and reported together with file:line:column. The check is static: names are well formed,
// unique and consistent; whether the objects exist in a database is the live check's job.
// Files are read on the calling thread: call it at startup, not from the cooperative pool in a
// hot path.

import Foundation
import SluiceCatalog

public enum CatalogLoader {
    /// File name endings that hold catalog YAML.
    public static let fileExtensions: Set<String> = ["yaml", "yml"]

    /// Loads and validates the catalog in `directory`; throws every problem when there is any.
    public static func load(directory: String) throws(CatalogError) -> Catalog {
        let check = check(directory: directory)
        guard check.isValid else { throw CatalogError(problems: check.problems) }
        return check.catalog
    }

    /// Loads `directory` and reports every problem; the catalog holds what validated.
    public static func check(directory: String) -> CatalogCheck {
        let (sources, problems) = readSources(directory: directory)
        var result = check(sources: sources)
        result.readQueryFiles(directory: directory)
        result.problems = problems + result.problems + readStatementFiles(&result.catalog, directory: directory)
        return result
    }

    /// Reads each statement's SQL file (relative to `directory`) into the catalog, checking its
    /// named parameters; a statement whose file is missing or uses an undeclared name is dropped.
    static func readStatementFiles(_ catalog: inout Catalog, directory: String) -> [CatalogProblem] {
        var problems: [CatalogProblem] = []
        var kept: [CatalogStatement] = []
        for var statement in catalog.statements {
            let url = URL(fileURLWithPath: directory).appendingPathComponent(statement.file)
            guard let data = FileManager.default.contents(atPath: url.path), let text = String(data: data, encoding: .utf8) else {
                problems.append(CatalogProblem(.unreadable, at: statement.location,
                    "statement \(statement.name) file \(statement.file) cannot be read as UTF-8 text"))
                continue
            }
            statement.sql = text
            if let unknown = statement.positionalSQL().unknown {
                problems.append(CatalogProblem(.invalidValue, at: statement.location,
                    "statement \(statement.name) SQL uses :\(unknown), which is not a declared parameter (nor batch_after, batch_size)"))
                continue
            }
            kept.append(statement)
        }
        catalog.statements = kept
        return problems
    }

    /// Validates catalog files given as text (paths are used in messages only).
    public static func check(sources: [CatalogSource]) -> CatalogCheck {
        let builder = CatalogBuilder()
        for source in sources { builder.add(source) }
        return builder.finish()
    }

    /// The catalog files under `directory`, sorted by relative path, skipping hidden files and
    /// folders; problems when the folder cannot be read or holds no catalog file.
    public static func readSources(directory: String) -> (sources: [CatalogSource], problems: [CatalogProblem]) {
        let fm = FileManager.default
        let root = URL(fileURLWithPath: directory, isDirectory: true).standardizedFileURL
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            return ([], [CatalogProblem(.unreadable, at: SourceLocation(file: directory, line: 0),
                "the catalog folder does not exist or is not a folder")])
        }
        guard let enumerator = fm.enumerator(
            at: root, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles])
        else {
            return ([], [CatalogProblem(.unreadable, at: SourceLocation(file: directory, line: 0), "cannot list the catalog folder")])
        }
        var paths: [(relative: String, url: URL)] = []
        let prefix = root.path.hasSuffix("/") ? root.path : root.path + "/"
        for case let url as URL in enumerator where fileExtensions.contains(url.pathExtension.lowercased()) {
            let regular = (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) ?? false
            guard regular else { continue }
            let full = url.standardizedFileURL.path
            let relative = full.hasPrefix(prefix) ? String(full.dropFirst(prefix.count)) : url.lastPathComponent
            paths.append((relative, url))
        }
        paths.sort { $0.relative < $1.relative }
        var sources: [CatalogSource] = []
        var problems: [CatalogProblem] = []
        for (relative, url) in paths {
            guard let data = fm.contents(atPath: url.path) else {
                problems.append(CatalogProblem(.unreadable, at: SourceLocation(file: relative, line: 0), "cannot read the file"))
                continue
            }
            guard let text = String(data: data, encoding: .utf8) else {
                problems.append(CatalogProblem(.unreadable, at: SourceLocation(file: relative, line: 0), "the file is not UTF-8 text"))
                continue
            }
            sources.append(CatalogSource(path: relative, text: text))
        }
        if paths.isEmpty {
            problems.append(CatalogProblem(.unreadable, at: SourceLocation(file: directory, line: 0),
                "the catalog folder holds no .yaml or .yml file"))
        }
        return (sources, problems)
    }
}
