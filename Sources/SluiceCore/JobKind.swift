// JobKind: the stable string that names what a job does (`refresh.matview`).
//
// Kinds are part of the wire format and of operators' dashboards: they never derive from Swift
// type names, and renaming one is a breaking change. Form: lower-case dotted words.

public struct JobKind: RawRepresentable, Hashable, Sendable, Codable, Comparable, ExpressibleByStringLiteral,
    CustomStringConvertible
{
    public let rawValue: String

    /// Accepts any string; use `isWellFormed` to check the form.
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public init(_ value: String) { self.rawValue = value }

    public var description: String { rawValue }
    public static func < (a: JobKind, b: JobKind) -> Bool { a.rawValue < b.rawValue }

    /// `namespace.name` in lower-case letters, digits and underscores, at most 100 characters.
    public var isWellFormed: Bool {
        let parts = rawValue.split(separator: ".", omittingEmptySubsequences: false)
        return rawValue.utf8.count <= 100 && parts.count >= 2
            && parts.allSatisfy { part in
                !part.isEmpty && part.utf8.allSatisfy { c in
                    (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
                        || c == UInt8(ascii: "_")
                }
            }
    }

    /// The part before the first dot (`maintenance`, `refresh`, `sys`).
    public var namespace: Substring { rawValue.prefix { $0 != "." } }
}

extension JobKind {
    /// Returns its arguments as its result. For tests and throughput benchmarks.
    public static let noop: JobKind = "sys.noop"
    /// Sleeps inside Postgres (`pg_sleep`) so timeouts and cancels are real.
    public static let sleep: JobKind = "sys.sleep"
}
