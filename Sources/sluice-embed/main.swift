// sluice-embed INPUT OUTPUT TYPE PROPERTY: writes OUTPUT, a Swift source declaring
// `extension TYPE { public static let PROPERTY: String = <INPUT's text> }`. Run by the
// EmbedOpenAPI build plugin; not installed.

import Foundation

let arguments = CommandLine.arguments
guard arguments.count == 5 else {
    FileHandle.standardError.write(Data("usage: sluice-embed INPUT OUTPUT TYPE PROPERTY\n".utf8))
    exit(2)
}
let (input, output, type, property) = (arguments[1], arguments[2], arguments[3], arguments[4])
guard let data = FileManager.default.contents(atPath: input), let text = String(data: data, encoding: .utf8) else {
    FileHandle.standardError.write(Data("sluice-embed: cannot read \(input) as UTF-8\n".utf8))
    exit(1)
}
// A raw string literal whose delimiter the text does not contain.
var hashes = "#"
while text.contains("\"\(hashes)") || text.contains("\\\(hashes)") { hashes += "#" }
let source = """
    // Generated at build time from \(URL(fileURLWithPath: input).lastPathComponent) by sluice-embed: do not edit.

    extension \(type) {
        public static let \(property): String = \(hashes)\"\"\"
    \(text.hasSuffix("\n") ? String(text.dropLast()) : text)
    \"\"\"\(hashes)
    }

    """
do {
    try source.write(toFile: output, atomically: true, encoding: .utf8)
} catch {
    FileHandle.standardError.write(Data("sluice-embed: cannot write \(output): \(error)\n".utf8))
    exit(1)
}
