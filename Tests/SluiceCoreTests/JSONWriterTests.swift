import Foundation
import Testing
@testable import SluiceCore

/// JSONWriter replaced Foundation's JSONEncoder on the hot path: it must write the same bytes,
/// or stored unique keys, cache hashes and golden envelopes would drift.
@Suite struct JSONWriterTests {
    static func foundation(_ v: JSONValue) throws -> String {
        String(decoding: try JSONCoding.encoder.encode(v), as: UTF8.self)
    }

    static let samples: [JSONValue] = [
        .null, true, false, 0, 1, -1, .int(Int64.max), .int(Int64.min), 42,
        0.5, -0.25, 1.0, 100.0, 1e21, 1e-7, 123456.789, -0.0, 3.14159,
        "", "plain", "quote \" backslash \\ slash /", "tab\tnewline\ncr\rbs\u{8}ff\u{C}", "\u{0}\u{1}\u{1F}\u{7F}",
        "é ü 漢字 🙂", [1, "a", nil, [true]], [:],
        ["b": 1, "a": 2, "B": 3, "_x": 4, "a10": 5, "a9": 6, "Z": 7, "ab": 8, "a_b": 9, "é": 10, "": 11],
        ["nested": ["z": [1, 2, ["y": "x", "x": "y"]], "a": nil], "args": ["view": "campaign_analytics"]],
    ]

    @Test(arguments: samples)
    func writesWhatJSONEncoderWrites(_ value: JSONValue) throws {
        #expect(value.jsonString == (try Self.foundation(value)))
    }

    @Test func nonFiniteDoublesAreNull() {
        #expect(JSONValue.array([.double(.nan), .double(.infinity)]).jsonString == "[null,null]")
    }

    @Test func roundTripsThroughTheParser() throws {
        // Integral doubles come back as integers (as with JSONEncoder): leave them out.
        for v in Self.samples {
            if case .double(let d) = v, d.rounded() == d { continue }
            #expect(try JSONValue.parse(v.encoded()) == v)
        }
    }

    /// The hand-written envelope encoder writes what encoding the envelope's JSON object writes.
    @Test func envelopeEncoderMatchesItsJSONObject() throws {
        let bare = Envelope(kind: "sys.noop")
        var full = Envelope(
            kind: "refresh.matview", args: ["view": "v \"1\"", "n": 3, "deep": ["b": [1.5], "a": nil]], target: "tenant_b",
            attempt: 3, maxAttempts: 7, timeoutSeconds: 60, enqueuedAt: Date(timeIntervalSince1970: 1_795_000_000.25),
            notBefore: Date(timeIntervalSince1970: 1_795_000_100.5), uniqueKey: "k\u{1}", priority: 9, traceID: "t/1",
            producer: "scheduler")
        for e in [bare, full] {
            #expect(e.encoded() == e.json.encoded())
            #expect(String(decoding: e.encoded(), as: UTF8.self) == (try Self.foundation(e.json)))
            // Timestamps travel with milliseconds: compare what a second encoding writes.
            #expect(try Envelope.decode(e.encoded()).encoded() == e.encoded())
        }
        full.args = [:]
        #expect(full.encoded() == full.json.encoded())
    }
}

/// Timestamp.format writes digits by hand (it runs several times per job): it must agree with
/// Foundation's ISO 8601 formatter (milliseconds, UTC) everywhere, including before 1970.
@Suite struct TimestampFormatTests {
    @Test func agreesWithISO8601DateFormatter() {
        let reference = ISO8601DateFormatter()
        reference.formatOptions = [.withInternetDateTime]
        reference.timeZone = TimeZone(identifier: "UTC")
        var generator = SystemRandomNumberGenerator()
        var dates: [Date] = [Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: -0.001),
                             Date(timeIntervalSince1970: 951_782_400), Date(timeIntervalSince1970: 253_402_300_799.999)]
        for _ in 0..<2000 {
            // Whole milliseconds between 1900 and 2200, so neither side has to round.
            let ms = Int64.random(in: -2_208_988_800_000...7_258_118_400_000, using: &generator)
            dates.append(Date(timeIntervalSince1970: Double(ms) / 1000))
        }
        for d in dates {
            // Milliseconds are truncated (floor), whole seconds come from the reference.
            let ms = Int64((d.timeIntervalSince1970 * 1000).rounded(.down))
            let seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
            let whole = reference.string(from: Date(timeIntervalSince1970: Double(seconds)))
            let expected = whole.dropLast() + "." + String(format: "%03d", Int(ms - seconds * 1000)) + "Z"
            #expect(Timestamp.format(d) == expected, "\(d.timeIntervalSince1970)")
        }
        #expect(Timestamp.format(Date(timeIntervalSince1970: 253_402_300_800)) == "10000-01-01T00:00:00.000Z")
    }
}
