// CatalogBuilder+Schedules: the `schedules:` section: each schedule's spec (cron or interval,
// time zone), kind, target, arguments, unique key and missed-run policy.

import Foundation
import ClientSupport
import SluiceCatalog
import SluiceCore
import Yams

extension CatalogBuilder {

    func schedule(_ node: Node, _ r: YAMLReader) {
        let start = sink.problems.count
        let keys = ["name", "cron", "every", "time_zone", "kind", "args", "target", "unique_key", "missed", "enabled"]
        guard let f = r.fields(node, "a schedule", allowed: keys, required: ["name", "kind"]) else { return }
        var name: SQLIdentifier?
        var trigger: CatalogSchedule.Trigger?
        var timeZone = "UTC"
        var kind: JobKind?
        var args = JSONValue.object([:])
        var target: String?
        var uniqueKey: String?
        var missed = MissedRunPolicy.skip
        var enabled = true
        let ok = clean {
            name = f["name"].flatMap { r.name($0, "schedule name") }
            let what = "schedule \(name?.rawValue ?? "")"
            switch (f["cron"], f["every"]) {
            case (nil, nil): r.problem(.missingKey, node, "\(what) needs 'cron' or 'every'")
            case (.some, .some(let n)): r.problem(.conflict, n, "\(what) has both 'cron' and 'every'; keep one")
            case (let n?, nil):
                if let text = r.string(n, "\(what) cron") {
                    do {
                        _ = try CronExpression(text)
                        trigger = .cron(text)
                    } catch {
                        r.problem(.invalidValue, n,
                            "\(what) cron \(CatalogText.display(text)) is not valid: \(error) (five fields minute hour day-of-month month day-of-week, or @hourly, @daily, @weekly, @monthly)")
                    }
                }
            case (nil, let n?):
                if let d = r.duration(n, "\(what) every") {
                    if d < .seconds(1) {
                        r.problem(.invalidDuration, n, "\(what) every must be at least 1s")
                    } else {
                        trigger = .every(d)
                    }
                }
            }
            if let n = f["time_zone"], let text = r.string(n, "\(what) time_zone") {
                if TimeZone(identifier: text) != nil {
                    timeZone = text
                } else {
                    r.problem(.invalidValue, n, "\(what) time_zone \(CatalogText.display(text)) is not a known IANA time zone")
                }
            }
            if let n = f["kind"], let text = r.string(n, "\(what) kind") {
                if JobKind(text).isWellFormed {
                    kind = JobKind(text)
                } else {
                    r.problem(.invalidValue, n, "\(what) kind \(CatalogText.display(text)) is not namespace.name in lower case")
                }
            }
            if let n = f["args"] {
                if n.mapping == nil {
                    r.wrongType(n, "\(what) args", expected: "a mapping")
                } else if let v = r.json(n, "\(what) args") {
                    args = v
                }
            }
            if let n = f["target"], let v = r.name(n, "\(what) target") {
                target = v.rawValue
                targetReferences.append((v.rawValue, r.location(n)))
            }
            if let n = f["unique_key"], let text = r.string(n, "\(what) unique_key") {
                if text.isEmpty || text.utf8.count > 200 {
                    r.problem(.invalidValue, n, "\(what) unique_key must be 1 to 200 bytes")
                } else {
                    uniqueKey = text
                }
            }
            if let n = f["enabled"], let v = r.bool(n, "\(what) enabled") { enabled = v }
            if let n = f["missed"], let text = r.string(n, "\(what) missed") {
                if let v = Self.missed(text) {
                    missed = v
                } else {
                    r.problem(.invalidValue, n, "\(what) missed must be skip, once or each:N (N from 1 to 1000), not \(CatalogText.display(text))")
                }
            }
        }
        guard ok, sink.problems.count == start, let name, let trigger, let kind, let n = f["name"],
            claim("schedule", name.rawValue, at: r.location(n), "schedule \(name)")
        else { return }
        let schedule = CatalogSchedule(
            name: name.rawValue, trigger: trigger, timeZone: timeZone, kind: kind, args: args, target: target,
            uniqueKey: uniqueKey, missed: missed, enabled: enabled, location: r.location(node))
        do {
            _ = try schedule.definition()
        } catch {
            r.problem(.invalidValue, node, "schedule \(name): \(error)")
            return
        }
        schedules.append(schedule)
    }

    /// Five whitespace-separated fields of digits, letters (JAN, MON), `*`, `,`, `-`, `/`.
    static func isCron(_ text: String) -> Bool {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
        return fields.count == 5 && fields.allSatisfy { field in
            field.unicodeScalars.allSatisfy { c in
                (c.isASCII && (CharacterSet.alphanumerics.contains(c))) || "*,-/".unicodeScalars.contains(c)
            }
        }
    }

    /// The catalog's words for a missed-run policy: `skip`, `once`, `each:N` (the scheduler's
    /// own spellings `run_once` and `run_each:N` are accepted too).
    static func missed(_ text: String) -> MissedRunPolicy? {
        switch text {
        case "once": return .runOnce
        default:
            if text.hasPrefix("each:") { return try? MissedRunPolicy(parsing: "run_" + text) }
            return try? MissedRunPolicy(parsing: text)
        }
    }
}
