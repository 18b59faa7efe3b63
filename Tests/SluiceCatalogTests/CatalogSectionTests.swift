// CatalogSection is the one list of sections: the loader accepts exactly its keys, and
// jobs/README.md's section table lists exactly its cases with the right `targets:` column.

import Foundation
import Testing
@testable import SluiceCatalog
@testable import SluiceCatalogLoader

@Suite struct CatalogSectionTests {
    @Test func theLoaderReadsExactlyTheSections() {
        #expect(CatalogBuilder.sections == CatalogSection.allCases.map(\.key))
        let check = Fixtures.check("archives:\n  - table: demo.x\n", path: "x.yaml")
        #expect(check.problems.map(\.code) == [.unknownKey], "\(check.problems)")
    }

    @Test func theReadmeTableListsEverySection() throws {
        let readme = try String(contentsOf: Fixtures.repositoryRoot.appendingPathComponent("jobs/README.md"), encoding: .utf8)
        let lines = readme.split(separator: "\n", omittingEmptySubsequences: false)
        let header = try #require(lines.firstIndex { $0.hasPrefix("| section | `targets:` |") }, "the section table")
        let rows = lines[(header + 2)...].prefix { $0.hasPrefix("|") }.map { line -> (String, Bool) in
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            return (cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`")), cells[1].hasPrefix("yes"))
        }
        #expect(rows.map(\.0) == CatalogSection.allCases.map(\.key), "the table lists the sections in CatalogSection's order")
        for (key, takesTargets) in rows {
            #expect(CatalogSection(rawValue: key)?.takesTargets == takesTargets, "\(key): the README's targets column")
        }
    }

    @Test func theReadmeListsEveryHealthThreshold() throws {
        let readme = try String(contentsOf: Fixtures.repositoryRoot.appendingPathComponent("jobs/README.md"), encoding: .utf8)
        let lines = readme.split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex { $0.hasPrefix("health:") }, "the health block")
        let keys = lines[(start + 1)...].prefix { $0.hasPrefix("  ") }.compactMap { line -> String? in
            guard !line.hasPrefix("   "), let colon = line.firstIndex(of: ":") else { return nil }
            return line[..<colon].trimmingCharacters(in: .whitespaces)
        }
        #expect(Set(keys) == Set(HealthThresholds.fields.map(\.key) + ["targets"]), "\(keys)")
    }
}
