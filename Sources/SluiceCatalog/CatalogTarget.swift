// CatalogTarget: a named database jobs run against (the envelope's `target`).
//
// The catalog names where the URL comes from, never holds a password: either an environment
// variable (`url_env`) or a literal URL without a password (`url`). Resolution takes the
// environment as an argument, because only the executable reads the process environment.

public struct CatalogTarget: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        /// The URL is the value of this environment variable.
        case environment(String)
        /// A literal `postgresql://` URL, checked to carry no password.
        case url(String)
    }

    /// The name every target gets unless the catalog says otherwise, read from SLUICE_POSTGRES_URL.
    public static let defaultName = "main"
    public static let defaultEnvironmentVariable = "SLUICE_POSTGRES_URL"

    public var name: String
    public var source: Source
    /// Where it is declared; nil for the built-in `main`.
    public var location: SourceLocation?

    public init(name: String, source: Source, location: SourceLocation? = nil) {
        self.name = name
        self.source = source
        self.location = location
    }

    /// The connection URL, or nil when its environment variable is unset or empty.
    public func resolveURL(environment: [String: String]) -> String? {
        switch source {
        case .url(let url): return url
        case .environment(let variable):
            guard let value = environment[variable], !value.isEmpty else { return nil }
            return value
        }
    }
}
