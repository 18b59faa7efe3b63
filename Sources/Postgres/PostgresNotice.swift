// PostgresNotice: a NOTICE / WARNING / INFO message the server sent while a statement ran.
//
// libpq hands these to a notice receiver instead of failing the statement. The connection logs
// each one and attaches those of a statement to its `PostgresRows.notices` (VACUUM VERBOSE,
// RAISE NOTICE). Notice text is the server's and may quote data; log it at your discretion.

/// A non-error message from the server.
public struct PostgresNotice: Sendable, Hashable, CustomStringConvertible {
    /// Non-localized severity: WARNING, NOTICE, INFO, LOG or DEBUG.
    public var severity: String
    public var sqlState: String?
    public var message: String
    public var detail: String?
    public var hint: String?

    public init(severity: String, sqlState: String?, message: String, detail: String? = nil, hint: String? = nil) {
        self.severity = severity
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
    }

    public var description: String {
        "\(severity)\(sqlState.map { " \($0)" } ?? ""): \(message)"
    }
}
