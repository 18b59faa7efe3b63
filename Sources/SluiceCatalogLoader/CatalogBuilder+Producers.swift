// CatalogBuilder+Producers: the `producers:` section: signing key id -> what it may enqueue
// (`kinds`, `classes`, `targets`, each optional). An entry with none of the three is refused:
// it would limit nothing, which is what leaving the key out already says.

import SluiceCatalog
import SluiceCore
import Yams

extension CatalogBuilder {
    func producersSection(_ node: Node, _ r: YAMLReader) {
        for (name, key, value) in r.namedEntries(node, "producers") {
            let what = "producer \(CatalogText.display(name))"
            guard IdentityName.isValid(name) else {
                r.problem(.invalidValue, key, "\(what): a signing key id is \(IdentityName.rule)")
                continue
            }
            guard let f = r.fields(value, what, allowed: ["kinds", "classes", "targets"]) else { continue }
            guard !f.isEmpty else {
                r.problem(.missingKey, value, "\(what) limits nothing; give kinds, classes or targets (or leave the key out)")
                continue
            }
            var grant = ProducerGrant(keyID: name, location: r.location(key))
            let ok = clean {
                if let n = f["kinds"] {
                    grant.kinds = words(n, r, "\(what) kinds").filter { pattern in
                        if ProducerGrant.isValidPattern(pattern) { return true }
                        r.problem(.invalidValue, n, "\(what) kinds: \(CatalogText.display(pattern)) is not a kind or namespace.*")
                        return false
                    }
                }
                if let n = f["classes"] {
                    grant.classes = words(n, r, "\(what) classes").compactMap { c in
                        if let w = WorkloadClass(rawValue: c) { return w }
                        r.problem(.unknownClass, n, "\(what) classes: unknown class \(CatalogText.display(c))")
                        return nil
                    }
                }
                if let n = f["targets"] { grant.targets = targetList(n, r) }
            }
            if ok, claim("producer", name, at: r.location(key), what) { producers.append(grant) }
        }
    }

    private func words(_ node: Node, _ r: YAMLReader, _ what: String) -> [String] {
        guard case .sequence(let sequence) = node else {
            r.wrongType(node, what, expected: "a list")
            return []
        }
        return sequence.compactMap { r.string($0, "an entry of \(what)") }
    }
}
