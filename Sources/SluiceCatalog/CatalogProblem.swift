// CatalogProblem: one thing wrong with the catalog, with the file and line that says it.
//
// The loader reports every problem it finds rather than stopping at the first, so an operator
// fixes a catalog in one pass. Messages quote the offending catalog text (escaped and
// shortened); the catalog is reviewed code, but a literal database URL is never echoed.

public struct CatalogProblem: Sendable, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The folder or a file cannot be read, or holds no catalog file.
        public static let unreadable = Code("unreadable")
        /// Not valid YAML (includes a key repeated within one mapping).
        public static let syntax = Code("syntax")
        /// A key the format does not know (often a typo: `retenton`).
        public static let unknownKey = Code("unknown_key")
        /// A required key is absent.
        public static let missingKey = Code("missing_key")
        /// A value of the wrong YAML type (a list where a string belongs, `pool_size: lots`).
        public static let wrongType = Code("wrong_type")
        /// A well-typed value out of range or not one of the allowed words.
        public static let invalidValue = Code("invalid_value")
        /// A duration that is not `<n>ms|s|m|h|d` (`5 minutes`, `5min`).
        public static let invalidDuration = Code("invalid_duration")
        /// A calendar interval that is not `<n> days|weeks|months|years` (`12m`).
        public static let invalidInterval = Code("invalid_interval")
        /// A schema, table, view, index, column or role name that fails the strict identifier rule.
        public static let invalidIdentifier = Code("invalid_identifier")
        /// A class name that is not one of the workload classes.
        public static let unknownClass = Code("unknown_class")
        /// A reference to a target that is not declared.
        public static let unknownTarget = Code("unknown_target")
        /// Two declarations with the same name or object.
        public static let duplicate = Code("duplicate")
        /// Keys that cannot go together, or one that requires another.
        public static let conflict = Code("conflict")
    }

    public var code: Code
    public var location: SourceLocation
    public var message: String

    public init(_ code: Code, at location: SourceLocation, _ message: String) {
        self.code = code
        self.location = location
        self.message = message
    }

    public var description: String { "\(location): \(code): \(message)" }
}
