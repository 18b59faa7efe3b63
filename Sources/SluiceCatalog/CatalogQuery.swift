// CatalogQuery: a read-only query the analytics class may run and cache in Redis
// (`analytics.query {name, params}`), as declared under `queries:`.
//
// The SQL lives in a file under the catalog folder and takes its parameters as $1, $2, … in the
// order `params` lists them; a job supplies values by name, never SQL. Values are checked against
// the declared types and normalised (uuid lower case, timestamps in UTC), so that equal requests
// give equal cache keys. `depends_on` names the views or tables the query reads: refreshing one
// of those views refreshes the query's cached outputs.

import Foundation
import SluiceCore

public struct CatalogQuery: Sendable, Equatable {
    /// The type of a declared parameter; the value a job passes is checked against it.
    public enum ParameterType: String, Sendable, CaseIterable {
        case text, integer, boolean, uuid, date, timestamp
    }

    public struct Parameter: Sendable, Equatable {
        public var name: String
        public var type: ParameterType
        /// Used when the job leaves the parameter out; a parameter without one is required.
        public var defaultValue: JSONValue?

        public init(name: String, type: ParameterType, defaultValue: JSONValue? = nil) {
            self.name = name
            self.type = type
            self.defaultValue = defaultValue
        }
    }

    public var name: SQLIdentifier
    /// The SQL file, relative to the catalog folder (nil when the SQL was written inline).
    public var file: String?
    /// The statement text (read from `file` when the catalog is loaded from a folder).
    public var sql: String
    public var params: [Parameter]
    /// How long an output is served as fresh; after that readers get it with `stale: true` and
    /// a refresh is enqueued.
    public var staleAfter: Duration
    /// How long Redis keeps an output at all (the key's TTL), at least `staleAfter`.
    public var ttl: Duration
    /// Refresh cadence for `sluice scheduler` (nil: on demand and after `depends_on` refreshes).
    public var refresh: Duration?
    public var dependsOn: [QualifiedName]
    /// Outputs with more rows than this are refused (a cache holds dashboard-sized answers).
    public var maxRows: Int
    public var targets: [String]
    public var location: SourceLocation

    public static let defaultTTL: Duration = .seconds(3600)
    public static let defaultStaleAfter: Duration = .seconds(300)  // seed 002's cacheTTL
    public static let defaultMaxRows = 10_000

    public init(name: SQLIdentifier, file: String? = nil, sql: String, params: [Parameter] = [],
                staleAfter: Duration = CatalogQuery.defaultStaleAfter, ttl: Duration = CatalogQuery.defaultTTL,
                refresh: Duration? = nil, dependsOn: [QualifiedName] = [], maxRows: Int = CatalogQuery.defaultMaxRows,
                targets: [String] = [], location: SourceLocation) {
        self.name = name
        self.file = file
        self.sql = sql
        self.params = params
        self.staleAfter = staleAfter
        self.ttl = ttl
        self.refresh = refresh
        self.dependsOn = dependsOn
        self.maxRows = maxRows
        self.targets = targets
        self.location = location
    }

    public func applies(to target: String) -> Bool { targets.isEmpty || targets.contains(target) }

    /// True when the query declares `view` (or a table) in `depends_on`.
    public func dependsOn(_ relation: QualifiedName) -> Bool { dependsOn.contains(relation) }
}

extension Catalog {
    /// The query declared under `name`, or nil.
    public func query(named name: String) -> CatalogQuery? { queries.first { $0.name.rawValue == name } }

    /// The queries that declare `relation` in `depends_on`, for `target`.
    public func queries(dependingOn relation: QualifiedName, target: String) -> [CatalogQuery] {
        queries.filter { $0.dependsOn(relation) && $0.applies(to: target) }
    }
}
