// SourceLocation: where in the catalog a declaration or a problem is, as `file:line:column`.
//
// `file` is the path relative to the catalog folder (`demo/catalog.yaml`), so messages read the
// same on every machine. Lines and columns count from 1; 0 means "the file as a whole".

public struct SourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int = 0) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String {
        if line == 0 { return file }
        if column == 0 { return "\(file):\(line)" }
        return "\(file):\(line):\(column)"
    }

    public static func < (a: SourceLocation, b: SourceLocation) -> Bool {
        (a.file, a.line, a.column) < (b.file, b.line, b.column)
    }
}
