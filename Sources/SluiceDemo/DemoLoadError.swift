// DemoLoadError: why a demo load refused to start or failed, with an extensible code. Database
// failures keep the server's PostgresError as the cause (which never carries bound values).

import Postgres

public struct DemoLoadError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// A size or option out of range.
        public static let invalidArgument = Code("invalid_argument")
        /// The demo schema is missing and no schema SQL was given.
        public static let schemaMissing = Code("schema_missing")
        /// The demo tables already hold rows and `replace` is off.
        public static let notEmpty = Code("not_empty")
        /// A statement failed; `cause` says which and why.
        public static let database = Code("database")
    }

    public var code: Code
    public var message: String
    public var cause: PostgresError?

    public init(_ code: Code, _ message: String, cause: PostgresError? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        var s = "demo load: \(code): \(message)"
        if let cause { s += ": \(cause)" }
        return s
    }
}
