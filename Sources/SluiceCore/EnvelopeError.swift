// EnvelopeError: why a message cannot become a job. Its text goes into the dead-letter
// message and the ledger, so it names the field and never echoes a whole payload.

public struct EnvelopeError: Error, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// Not JSON, or not an object.
        public static let malformed = Code("malformed")
        /// A `v` this worker does not read.
        public static let unsupportedVersion = Code("unsupported_version")
        /// An envelope field is missing or of the wrong type or range.
        public static let invalidField = Code("invalid_field")
        /// No worker is registered for the kind.
        public static let unknownKind = Code("unknown_kind")
        /// The arguments do not fit the kind.
        public static let invalidArguments = Code("invalid_arguments")
        /// The signing key may not enqueue this kind, class or target (the catalog's `producers:`).
        public static let notAllowed = Code("not_allowed")
    }

    public var code: Code
    /// The field at fault (`kind`, `args.view`), when there is one.
    public var field: String?
    public var reason: String

    public init(_ code: Code, field: String?, reason: String) {
        self.code = code
        self.field = field
        self.reason = reason
    }

    public var description: String {
        if let field { return "\(code): \(field): \(reason)" }
        return "\(code): \(reason)"
    }
}
