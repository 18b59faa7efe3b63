// CatalogStatement: a bulk statement (`statements:`) that `import.statement` runs in committed
// batches, such as scheduling a campaign's sends.
//
// The SQL lives in a file under the catalog folder and uses named parameters (`:campaign_id`),
// each declared with a type, plus two the runner supplies: `:batch_after` (the last key of the
// previous batch, NULL for the first) and `:batch_size`. Each run of the SQL returns one row with
// `affected` (rows written by this batch) and `last_key` (NULL once there is nothing left), so
// a batch is one short transaction and a re-run resumes from nothing: the SQL itself must be
// idempotent (skip what an earlier run already wrote).

public struct CatalogStatement: Sendable, Equatable {
    public enum ParameterType: String, Sendable, CaseIterable {
        case uuid, text, integer, boolean, timestamp
    }

    public struct Parameter: Sendable, Equatable {
        public var name: SQLIdentifier
        public var type: ParameterType
        public var required: Bool
        public init(name: SQLIdentifier, type: ParameterType, required: Bool = true) {
            self.name = name
            self.type = type
            self.required = required
        }
    }

    public var name: SQLIdentifier
    /// The SQL file, relative to the catalog folder.
    public var file: String
    /// The file's text with named parameters as written (filled in by the loader).
    public var sql: String
    public var parameters: [Parameter]
    /// The type of `:batch_after` / `last_key` (uuid or text keys, integer ids).
    public var keyType: ParameterType
    public var batchSize: Int
    public var timeBudget: Duration?
    public var targets: [String]
    public var location: SourceLocation

    public init(name: SQLIdentifier, file: String, sql: String = "", parameters: [Parameter], keyType: ParameterType = .text,
                batchSize: Int = 10_000, timeBudget: Duration? = nil, targets: [String] = [], location: SourceLocation) {
        self.name = name
        self.file = file
        self.sql = sql
        self.parameters = parameters
        self.keyType = keyType
        self.batchSize = batchSize
        self.timeBudget = timeBudget
        self.targets = targets
        self.location = location
    }

    /// The parameters the runner binds itself.
    public static let runnerParameters = ["batch_after", "batch_size"]

    /// The SQL with `:name` placeholders replaced by `$n` (declared parameters first, in order,
    /// then `batch_after`, `batch_size`), and the order of the names. `::` casts, text inside
    /// quotes and `--` comments are left alone. Nil with the unknown name when the SQL uses an undeclared one.
    public func positionalSQL() -> (sql: String, order: [String], unknown: String?) {
        let names = parameters.map(\.name.rawValue) + Self.runnerParameters
        var out = ""
        var chars = Array(sql)
        var i = 0
        var unknown: String?
        var inQuote: Character?
        chars.append(" ")
        while i < chars.count - 1 {
            let c = chars[i]
            if let q = inQuote {
                out.append(c)
                if c == q { inQuote = nil }
                i += 1
                continue
            }
            if c == "-" && chars[i + 1] == "-" {
                // A comment runs to the end of the line.
                while i < chars.count - 1, chars[i] != "\n" {
                    out.append(chars[i])
                    i += 1
                }
                continue
            }
            if c == "'" || c == "\"" {
                inQuote = c
                out.append(c)
                i += 1
                continue
            }
            if c == ":" && chars[i + 1] == ":" {
                out += "::"
                i += 2
                continue
            }
            if c == ":", chars[i + 1].isLetter || chars[i + 1] == "_" {
                var j = i + 1
                var word = ""
                while j < chars.count, chars[j].isLetter || chars[j].isNumber || chars[j] == "_" {
                    word.append(chars[j])
                    j += 1
                }
                if let index = names.firstIndex(of: word) {
                    out += "$\(index + 1)"
                } else {
                    unknown = unknown ?? word
                    out += ":" + word
                }
                i = j
                continue
            }
            out.append(c)
            i += 1
        }
        return (out, names, unknown)
    }

    public func applies(to target: String) -> Bool { targets.isEmpty || targets.contains(target) }
}

extension Catalog {
    /// The statement named `name`, nil when undeclared.
    public func statement(named name: String) -> CatalogStatement? { statements.first { $0.name.rawValue == name } }
}
