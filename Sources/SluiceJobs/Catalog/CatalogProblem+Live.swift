// CatalogProblem+Live: the problem codes the live check adds to the loader's static ones, so
// `sluice catalog check` prints both kinds the same way (`file:line:column: code: message`).

import SluiceCatalog

extension CatalogProblem.Code {
    /// A declared table, view, index, schema or column is not in the database.
    public static let missingObject = Self("missing_object")
    /// The object exists but is of another kind (a table where a view is declared, a plain
    /// table where a partitioned one is).
    public static let wrongKind = Self("wrong_kind")
    /// A partitioned table's strategy, key or key type differs from the declaration.
    public static let partitionKey = Self("partition_key")
    /// A partitioned table has no DEFAULT partition (a warning: rows outside every range fail).
    public static let noDefaultPartition = Self("no_default_partition")
    /// An existing partition's name or range does not follow the catalog's naming.
    public static let partitionNaming = Self("partition_naming")
    /// A `refresh: concurrent` view has no unique index REFRESH … CONCURRENTLY can use.
    public static let noUniqueIndex = Self("no_unique_index")
    /// A view is not populated, so a concurrent refresh fails until a plain one has run.
    public static let notPopulated = Self("not_populated")
    /// A column of a type the declaration cannot use (cleanup `column` must be a date or timestamp).
    public static let columnType = Self("column_type")
    /// A declaration names something jobs must never touch (system catalogs, exclusion-constraint indexes).
    public static let forbiddenObject = Self("forbidden_object")
    /// A class's role does not exist or the connecting user cannot SET ROLE to it.
    public static let missingRole = Self("missing_role")
    /// An extension Sluice relies on is not installed in the target database.
    public static let missingExtension = Self("missing_extension")
    /// A cleanup key that no unique index covers (batched deletes may hit more rows than counted).
    public static let keyNotUnique = Self("key_not_unique")
    /// A segment field or lookup no index serves (a warning: rules on it scan the workspace).
    public static let noIndex = Self("no_index")
    /// The target's database cannot be reached or its URL is not configured.
    public static let targetUnavailable = Self("target_unavailable")
}
