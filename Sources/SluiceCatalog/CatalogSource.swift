// CatalogSource: one catalog file's text and the path messages name it by (relative to the
// catalog folder). Lets tools and tests check a catalog that is not on disk.

public struct CatalogSource: Sendable, Hashable {
    public var path: String
    public var text: String

    public init(path: String, text: String) {
        self.path = path
        self.text = text
    }
}
