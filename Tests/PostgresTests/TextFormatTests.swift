// The byte-level text encoders and parsers, and the COPY text writer. No server needed.

import Foundation
import Testing
@testable import Postgres

@Suite struct TextFormatTests {
    func text(_ v: PostgresValue) -> String {
        var out: [UInt8] = []
        PostgresTextFormat.append(v, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    func parseTimestamp(_ s: String) -> Date? {
        Array(s.utf8).withUnsafeBytes { PostgresTextFormat.parseTimestamp($0) }
    }

    func micros(_ d: Date) -> Int { Int((d.timeIntervalSince1970 * 1_000_000).rounded()) }

    @Test func integersAndDoubles() {
        #expect(text(.int(0)) == "0")
        #expect(text(.int(-42)) == "-42")
        #expect(text(.int(Int.min)) == "-9223372036854775808")
        #expect(text(.int(Int.max)) == "9223372036854775807")
        #expect(text(.double(.nan)) == "NaN")
        #expect(text(.double(-.infinity)) == "-Infinity")
        #expect(text(.double(0.1)) == "0.1")
        for s in ["0", "-9223372036854775808", "9223372036854775807", "+7"] {
            #expect(Array(s.utf8).withUnsafeBytes { PostgresTextFormat.parseInt($0) } == Int(s))
        }
        for s in ["", "-", "9223372036854775808", "1.5", "12a"] {
            #expect(Array(s.utf8).withUnsafeBytes { PostgresTextFormat.parseInt($0) } == nil)
        }
    }

    @Test func timestampsRoundTrip() {
        let samples: [Int] = [0, 1, -1, 1_700_000_000_123_456, -62_135_596_800_000_000, 253_402_300_799_000_000, 951_782_400_000_000]
        for m in samples {
            let date = Date(timeIntervalSince1970: Double(m) / 1_000_000)
            let s = text(.timestamp(date))
            let back = parseTimestamp(s)
            #expect(back.map(micros) == m, "\(s)")
        }
        #expect(text(.timestamp(Date(timeIntervalSince1970: 0))) == "1970-01-01 00:00:00.000000+00")
        #expect(text(.timestamp(Date(timeIntervalSince1970: 951_782_400.5))) == "2000-02-29 00:00:00.500000+00")
    }

    @Test func timestampsInOtherZonesAndForms() throws {
        let utc = try #require(parseTimestamp("2024-01-01 21:34:05.123456+00"))
        #expect(parseTimestamp("2024-01-02 03:04:05.123456+05:30").map(micros) == micros(utc))
        #expect(parseTimestamp("2024-01-01 16:34:05.123456-05").map(micros) == micros(utc))
        #expect(parseTimestamp("2024-01-01T21:34:05.123456Z") == nil)  // not Postgres output
        #expect(parseTimestamp("2024-01-01 21:34:05.123456").map(micros) == micros(utc))  // timestamp
        #expect(parseTimestamp("2024-01-01").map(micros) == 1_704_067_200_000_000)  // date
        #expect(parseTimestamp("1892-05-01 00:00:00+00:19:32").map(micros) == micros(parseTimestamp("1892-04-30 23:40:28+00")!))
        #expect(parseTimestamp("infinity") == .distantFuture)
        #expect(parseTimestamp("-infinity") == .distantPast)
        #expect(parseTimestamp("0001-01-01 00:00:00+00 BC").map(micros) == -62_135_596_800_000_000 - 366 * 86_400_000_000)
        #expect(parseTimestamp("garbage") == nil)
        #expect(parseTimestamp("2024-13-01") == nil)
    }

    @Test func byteaAndUUID() {
        #expect(text(.bytes([0, 1, 0xAB, 0xFF])) == "\\x0001abff")
        #expect(Array("\\x0001abff".utf8).withUnsafeBytes { PostgresTextFormat.parseByteaHex($0) } == [0, 1, 0xAB, 0xFF])
        #expect(Array("\\x0".utf8).withUnsafeBytes { PostgresTextFormat.parseByteaHex($0) } == nil)
        let u = UUID(uuidString: "0193A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B")!
        #expect(text(.uuid(u)) == "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
    }

    @Test func arrayLiterals() {
        let tricky: [String?] = ["a", "b,c", "q\"x", "back\\slash", "", "NULL", nil, "{brace}", " sp "]
        let literal = text(.textArray(tricky))
        #expect(literal == #"{"a","b,c","q\"x","back\\slash","","NULL",NULL,"{brace}"," sp "}"#)
        #expect(Array(literal.utf8).withUnsafeBytes { PostgresTextFormat.parseArray($0) } == tricky)
        #expect(text(.intArray([1, nil, -3])) == "{1,NULL,-3}")
        #expect(text(.textArray([])) == "{}")
        // Postgres's own output: unquoted where it can be.
        let server = #"{a,"NULL",NULL,"b,c","q\"x","back\\s",""," sp"}"#
        #expect(Array(server.utf8).withUnsafeBytes { PostgresTextFormat.parseArray($0) }
            == ["a", "NULL", nil, "b,c", "q\"x", "back\\s", "", " sp"])
        #expect(Array("[0:1]={1,2}".utf8).withUnsafeBytes { PostgresTextFormat.parseArray($0) } == ["1", "2"])
        #expect(Array("{{1,2},{3,4}}".utf8).withUnsafeBytes { PostgresTextFormat.parseArray($0) } == nil)
        #expect(Array("{}".utf8).withUnsafeBytes { PostgresTextFormat.parseArray($0) } == [])
    }

    @Test func copyRowsEscapeAndDecode() throws {
        let row: [PostgresValue] = [
            .text("tab\there"), .text("line\nbreak\r\n"), .text("back\\slash"), .null, .text(""),
            .text("\\N"), .int(7), .bytes([0, 255]), .textArray(["a\tb", nil]), .bool(true),
        ]
        let bytes = try PostgresCopyText.encodeRow(row)
        #expect(String(decoding: bytes, as: UTF8.self)
            == "tab\\there\tline\\nbreak\\r\\n\tback\\\\slash\t\\N\t\t\\\\N\t7\t\\\\x00ff\t{\"a\\tb\",NULL}\tt\n")
        let decoded = PostgresCopyText.decodeRows(bytes)
        #expect(decoded == [["tab\there", "line\nbreak\r\n", "back\\slash", nil, "", "\\N", "7", "\\x00ff", "{\"a\tb\",NULL}", "t"]])
    }

    @Test func copyRejectsNULAndNamesTheRow() {
        do {
            _ = try PostgresCopyText.encodeRow([.int(1), .text("a\u{0}b")], rowNumber: 17)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .copyRejected)
            #expect(error.row == 17)
            #expect(error.description.contains("row 17"))
        }
    }

    @Test func literalsAndHelpers() {
        let values: [PostgresValue] = ["s", 1, 2.5, true, nil, .init(json: "{}"), .init(["a"]), .init([1, 2]), .init(Int32(3)), .init(nil as String?)]
        #expect(values == [.text("s"), .int(1), .double(2.5), .bool(true), .null, .json("{}"), .textArray(["a"]), .intArray([1, 2]), .int(3), .null])
    }
}
