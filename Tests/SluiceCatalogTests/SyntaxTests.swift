import Testing
@testable import SluiceCatalog
@testable import SluiceCatalogLoader
import SluiceCore

@Suite struct SyntaxTests {
    @Test(arguments: [
        ("leads", true), ("_x1", true), ("email_events_p2026_11", true), (String(repeating: "a", count: 63), true),
        ("", false), (String(repeating: "a", count: 64), false), ("1abc", false), ("Leads", false),
        ("leads; drop table x", false), ("\"evil\"", false), ("a.b", false), ("a b", false), ("a-b", false),
        ("a$b", false), ("tab\u{0}le", false), ("lé", false), ("a'b", false),
    ])
    func identifierRule(text: String, valid: Bool) {
        #expect((SQLIdentifier(text) != nil) == valid)
        #expect((SQLIdentifier.check(text) == nil) == valid)
    }

    @Test func qualifiedNamesAndQuoting() throws {
        #expect(try QualifiedName(parsing: "demo.leads").quoted == #""demo"."leads""#)
        #expect(try QualifiedName(parsing: "leads").description == "public.leads")
        #expect(try Catalog.quoted("demo.email_events") == #""demo"."email_events""#)
        #expect(try Catalog.quoted("leads") == #""leads""#)
        #expect(Catalog.quoted(QualifiedName(schema: SQLIdentifier("demo")!, name: SQLIdentifier("t")!)) == #""demo"."t""#)
        for bad in ["a.b.c", "demo.", ".leads", "demo.\"x\"", "demo.x;drop", "leads; drop table x", "\"evil\"", "DEMO.leads", ""] {
            #expect(throws: IdentifierError.self, "\(bad)") { try Catalog.quoted(bad) }
            #expect(throws: IdentifierError.self, "\(bad)") { try QualifiedName(parsing: bad) }
        }
        #expect(SQLIdentifier("pg_toast")!.isSystemSchema)
        #expect(SQLIdentifier("information_schema")!.isSystemSchema)
        #expect(!SQLIdentifier("demo")!.isSystemSchema)
    }

    @Test func identifierErrorsEscapeWhatTheyQuote() {
        let error = SQLIdentifier.check("x\n; DROP TABLE users; --" + String(repeating: "y", count: 100))
        let text = error?.description ?? ""
        #expect(!text.contains("\n"))
        #expect(text.contains("\\n"))
        #expect(text.count < 200)
    }

    @Test func durations() {
        #expect(DurationSyntax.parse("250ms") == .milliseconds(250))
        #expect(DurationSyntax.parse("30s") == .seconds(30))
        #expect(DurationSyntax.parse("5m") == .seconds(300))
        #expect(DurationSyntax.parse("2h") == .seconds(7200))
        #expect(DurationSyntax.parse("1d") == .seconds(86_400))
        #expect(DurationSyntax.parse("0s") == .zero)
        for bad in ["5 minutes", "5min", "1.5h", "30", "-5s", "s", "", "5 m", "5M", "1w", "9999999999999s", "12 months"] {
            #expect(DurationSyntax.parse(bad) == nil, "\(bad)")
        }
        #expect(DurationSyntax.format(.seconds(120)) == "2m")
        #expect(DurationSyntax.format(.seconds(90)) == "90s")
        #expect(DurationSyntax.format(.milliseconds(1500)) == "1500ms")
        #expect(DurationSyntax.format(.seconds(6 * 3600)) == "6h")
        #expect(DurationSyntax.milliseconds(.seconds(5)) == 5000)
    }

    @Test func calendarIntervals() {
        #expect(CalendarInterval(parsing: "12 months") == CalendarInterval(count: 12, unit: .month))
        #expect(CalendarInterval(parsing: "1 year")?.postgresInterval == "1 year")
        #expect(CalendarInterval(parsing: "2 weeks")?.approximateDays == 14)
        #expect(CalendarInterval(parsing: "90 days")?.postgresInterval == "90 days")
        #expect(CalendarInterval(parsing: "1 days")?.postgresInterval == "1 day")
        for bad in ["12m", "12", "0 days", "1.5 months", "months", "12 fortnights", "-1 day", "1 day ago", "1000000 days"] {
            #expect(CalendarInterval(parsing: bad) == nil, "\(bad)")
        }
    }

    @Test func scheduleForms() {
        #expect(CatalogBuilder.isCron("*/5 * * * *"))
        #expect(CatalogBuilder.isCron("0 2 * * MON-FRI"))
        #expect(!CatalogBuilder.isCron("0 2 * *"))
        #expect(!CatalogBuilder.isCron("0 2 * * * *"))
        #expect(!CatalogBuilder.isCron("0 2 * * ;"))
        #expect(CatalogBuilder.missed("skip") == .skip)
        #expect(CatalogBuilder.missed("once") == .runOnce)
        #expect(CatalogBuilder.missed("each:3") == .runEach(max: 3))
        for bad in ["each:0", "each:", "each:x", "each:1001", "all", "each: 3"] {
            #expect(CatalogBuilder.missed(bad) == nil, "\(bad)")
        }
    }
}
