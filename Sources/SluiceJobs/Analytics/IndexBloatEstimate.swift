// IndexBloatEstimate: the one estimate of btree index bloat, used by `maintenance.plan` (which
// reindexes over a policy's `bloat_ratio`) and by the `bloat` health report, so the two never
// disagree about the same index. A statistics estimate, not a measurement: no pgstattuple (an
// extension, and a full read of the index), only pg_class, pg_stats and the relation's size.
//
// Expected leaf pages = ceil(reltuples × (MAXALIGN(8 + w) + 4) ÷ ((block_size − 40) × 0.9)) + 1
//   w: Σ pg_stats.avg_width of the key columns; 8: the index tuple header; 4: its line pointer;
//   40: page header (24) + btree special space (16); 0.9: btree's default leaf fillfactor;
//   + 1: the metapage.
// Actual pages = pg_relation_size ÷ block_size (current, unlike relpages). Bloat = 1 − expected
// ÷ actual, at least 0. Without statistics for every key column there is no estimate.

enum IndexBloatEstimate {
    /// How the estimate is made, as reports state it.
    static let method =
        "estimate (btree, no pgstattuple): 1 − expected ÷ actual pages; expected = ceil(reltuples × (MAXALIGN(8 + Σ pg_stats.avg_width) + 4) ÷ ((block_size − 40) × 0.9)) + 1, actual = pg_relation_size ÷ block_size"

    /// SQL for the expected pages, given SQL for reltuples, the key width and the block size.
    static func expectedPages(reltuples: String, width: String, blockSize: String) -> String {
        "(ceil(greatest(\(reltuples), 0) * (ceil((8 + \(width)) / 8.0) * 8 + 4) / ((\(blockSize) - 40) * 0.9)) + 1)"
    }

    /// SQL for the actual pages of relation `oid`.
    static func actualPages(oid: String, blockSize: String) -> String {
        "(pg_relation_size(\(oid)) / \(blockSize))"
    }

    /// SQL for the bloat ratio (0…1, or NULL without pages or statistics).
    static func ratio(reltuples: String, width: String, blockSize: String, oid: String) -> String {
        let actual = actualPages(oid: oid, blockSize: blockSize)
        return "CASE WHEN \(actual) > 1 AND \(width) IS NOT NULL THEN greatest(0, 1 - "
            + "\(expectedPages(reltuples: reltuples, width: width, blockSize: blockSize)) / \(actual)::float8) END"
    }
}
