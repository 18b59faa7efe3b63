// CatalogBuilder+Retention: the `retention:` section (one mapping per catalog): how long Sluice
// keeps its own finished jobs and side-table rows, each a duration or `forever`, plus the
// pruner's batch size and pass interval. Keys left out keep their defaults (RetentionSettings).

import SluiceCatalog
import SluiceCore
import Yams

extension CatalogBuilder {
    static let retentionKeys = RetentionSettings.periodKeys + ["batch_size", "interval"]

    func retentionSection(_ node: Node, _ r: YAMLReader) {
        if let first = retention?.location {
            r.problem(.duplicate, node, "retention is declared twice; the first is at \(first)")
            return
        }
        var settings = RetentionSettings(location: r.location(node))
        defer { retention = settings }
        if node.tagName == .null { return }
        guard let f = r.fields(node, "retention", allowed: Self.retentionKeys) else { return }
        for key in RetentionSettings.periodKeys {
            guard let n = f[key] else { continue }
            if case .scalar(let scalar) = n, scalar.string == RetentionSettings.forever {
                settings[period: key] = nil
            } else if let d = r.duration(n, "retention \(key) (or \(RetentionSettings.forever))") {
                settings[period: key] = d
            }
        }
        if let n = f["batch_size"], let v = r.int(n, "retention batch_size", in: 1...100_000) { settings.batchSize = v }
        if let n = f["interval"], let v = r.duration(n, "retention interval") { settings.interval = v }
    }
}
