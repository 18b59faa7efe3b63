// JSONParser: agrees with Foundation's JSONDecoder on valid documents, rejects invalid ones.

import Foundation
import SluiceCore
import Testing

@Suite struct JSONParserTests {
    @Test(arguments: [
        #"{"a":1,"b":[true,false,null],"c":{"d":"e"},"f":-2.5,"g":1e3,"h":"\u00e9\n\"\\\/","i":"\ud83d\ude00","j":0,"k":-0.0}"#,
        #"[]"#, #"{}"#, #" [ 1 , 2 ] "#, #""plain""#, #"9223372036854775807"#, #"12345678901234567890"#, #"1.0"#,
    ])
    func agreesWithFoundation(_ text: String) throws {
        let ours = try JSONParser.parse(Array(text.utf8))
        let theirs = try JSONCoding.decoder.decode(JSONValue.self, from: Data(text.utf8))
        // Foundation may read 1.0 as an integer; compare numerically where the kinds differ.
        func same(_ a: JSONValue, _ b: JSONValue) -> Bool {
            switch (a, b) {
            case (.int(let x), .double(let y)), (.double(let y), .int(let x)): return Double(x) == y
            case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
            case (.object(let x), .object(let y)): return x.keys == y.keys && x.keys.allSatisfy { same(x[$0]!, y[$0]!) }
            default: return a == b
            }
        }
        #expect(same(ours, theirs), "\(ours) vs \(theirs)")
    }

    @Test(arguments: [
        "", "{", "[1,]", #"{"a" 1}"#, "01", "1.", ".5", "-", "tru", #""\x""#, "\"a\nb\"", #""\ud800""#, "[1] 2",
        #"{"a":1,}"#, "nul", "1e", "\"unterminated",
    ])
    func rejectsInvalid(_ text: String) {
        #expect(throws: JSONValueError.self) { try JSONParser.parse(Array(text.utf8)) }
    }

    @Test func limitsNesting() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONValueError.self) { try JSONParser.parse(Array(deep.utf8)) }
        let ok = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect(throws: Never.self) { try JSONParser.parse(Array(ok.utf8)) }
    }

    /// `JSONSyntax.isObject` (the import's check, which builds nothing) says yes exactly where
    /// the parser reads an object, over valid and broken documents alike.
    @Test func syntaxCheckAgreesWithTheParser() {
        let corpus = [
            #"{"a":1,"b":[true,false,null],"c":{"d":"e"},"f":-2.5,"g":1e3,"h":"\u00e9\n\"\\\/","i":"\ud83d\ude00","j":0,"k":-0.0}"#,
            #"{}"#, #" { "a" : [ 1 , 2 ] } "#, #"{"n":12345678901234567890}"#, #"{"n":1e400}"#, #"{"n":-1.5E-3}"#,
            #"[]"#, #""plain""#, #"1"#, "", "{", "[1,]", #"{"a" 1}"#, #"{"a":01}"#, #"{"a":1.}"#, #"{"a":.5}"#, #"{"a":tru}"#,
            #"{"a":"\x"}"#, "{\"a\":\"a\nb\"}", #"{"a":"\ud800"}"#, #"{"a":"\udc00"}"#, #"{"a":1} 2"#, #"{"a":1,}"#,
            #"{"a":1e}"#, #"{"a":"unterminated}"#, #"{1:2}"#, #"{"a":[}"#, #"{"a":"\u12"}"#,
            String(repeating: "{\"a\":", count: 600) + "1" + String(repeating: "}", count: 600),
            String(repeating: "{\"a\":", count: 400) + "1" + String(repeating: "}", count: 400),
        ]
        for text in corpus {
            let parsed = try? JSONParser.parse(Array(text.utf8))
            var isObject = false
            if case .object = parsed { isObject = true }
            let checked = Array(text.utf8).withUnsafeBufferPointer { JSONSyntax.isObject($0) }
            #expect(checked == isObject, "\(text.prefix(60))")
        }
        // For jsonb, the NUL escape is refused; an escaped backslash before "u0000" is not one.
        let nul = Array(#"{"a":"x\u0000"}"#.utf8)
        #expect(nul.withUnsafeBufferPointer { JSONSyntax.isObject($0) })
        #expect(!nul.withUnsafeBufferPointer { JSONSyntax.isObject($0, postgresJSONB: true) })
        #expect(Array(#"{"a":"x\\u0000"}"#.utf8).withUnsafeBufferPointer { JSONSyntax.isObject($0, postgresJSONB: true) })
    }

    @Test func roundTripsEncodedValues() throws {
        let v: JSONValue = ["s": "x/y\"z\u{1}", "n": 42, "d": 0.25, "a": [1, "2", nil, true], "o": ["k": []]]
        #expect(try JSONParser.parse(v.encoded()) == v)
    }
}
