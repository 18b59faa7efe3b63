// IdentityName: the one rule for the names that identify a producer: an API token's name, a
// signing key's id, a `producers:` entry. 1-64 ASCII letters, digits, `.`, `_` or `-`, so a
// name can sit inside `api:{name}`, a cookie or a header without quoting.

public enum IdentityName {
    public static func isValid(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.utf8.allSatisfy { c in
                (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
                    || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: ".") || c == UInt8(ascii: "_")
                    || c == UInt8(ascii: "-")
            }
    }

    /// What `isValid` asks, for error messages.
    public static let rule = "1-64 letters, digits, '.', '_' or '-'"
}
