// SluiceCLI: what the two executables share (`sluice`, the production command, and
// `sluice-dev`, the demo data loader and the benchmarks): the environment's settings, the
// runtime options and assembly, target resolution, logging bootstrap and output helpers.
// The only code that reads the process environment (Settings).

import ArgumentParser
import Foundation
import Logging

package enum SluiceLogging {
    /// Bootstraps swift-log once per process: stderr, level from SLUICE_LOG_LEVEL (default warning).
    package static func bootstrap() {
        let level = Settings.fromEnvironment().logLevel.flatMap(Logger.Level.init(rawValue:)) ?? .warning
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

/// Who the CLI enqueues as: `cli:{os user}`, the user the process runs as (from the password
/// database, not from `$USER`, which the caller sets at will); `cli:uid{n}` without an entry.
package enum CLIIdentity {
    package static var current: String {
        let uid = geteuid()
        if let pw = getpwuid(uid), let name = pw.pointee.pw_name { return "cli:\(String(cString: name))" }
        return "cli:uid\(uid)"
    }
}

/// Commands that print either human text or one JSON document.
package enum Output {
    package static func json(_ value: [String: Any]) {
        let data = (try? JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        print(String(decoding: data, as: UTF8.self))
    }
}

/// Exit with a message on stderr and a non-zero status.
package struct CommandFailure: Error, CustomStringConvertible {
    package let description: String
    package init(description: String) { self.description = description }
}
