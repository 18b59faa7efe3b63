// JobArguments: turns a message's JSON arguments into a kind's typed `Arguments` struct, so a
// malformed message is `.invalidArguments` (never retried) before anything else happens.

import Foundation
import SluiceCore
import SluiceRuntime

public enum JobArguments {
    /// Decodes `args` into `T`; a missing or mistyped field is `.invalidArguments` naming it.
    public static func decode<T: Decodable>(_ type: T.Type, from args: [String: JSONValue]) throws(JobError) -> T {
        do {
            let data = try JSONEncoder().encode(JSONValue.object(args))
            return try JSONDecoder().decode(T.self, from: data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw JobError(.invalidArguments, "the '\(key.stringValue)' argument is required")
        } catch let DecodingError.typeMismatch(_, context) {
            throw JobError(.invalidArguments, "the '\(context.codingPath.map(\.stringValue).joined(separator: "."))' argument has the wrong type")
        } catch let DecodingError.dataCorrupted(context) {
            throw JobError(.invalidArguments, context.debugDescription)
        } catch {
            throw JobError(.invalidArguments, "the arguments do not fit: \(error)")
        }
    }
}
