// IdentifierError: why a string is not a catalog identifier. Quotes the text escaped and cut
// to 64 characters, so a hostile value cannot forge log lines or flood them.

public struct IdentifierError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The offending text, escaped and shortened for display.
    public var text: String
    public var reason: String

    public init(_ text: String, _ reason: String) {
        self.text = CatalogText.display(text)
        self.reason = reason
    }

    public var description: String { "\(text) \(reason)" }
}
