// LedgerError: a ledger operation that could not be done (beyond a plain Postgres failure).

public struct LedgerError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// A unique-key conflict whose holder finished before it could be read: enqueue again.
        public static let uniqueKeyRace = Code("unique_key_race")
        /// The ledger schema is missing or older than this binary: run `sluice migrate`.
        public static let notMigrated = Code("not_migrated")
        /// A row could not be read back.
        public static let malformedRow = Code("malformed_row")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "ledger \(code): \(message)" }
}
