// `sluice demo …` and `sluice bench …`: the demo data loader and the benchmarks live in a
// separate executable, `sluice-dev`, so the production binary (the one workers run) links
// neither. These two commands hand their arguments over to `sluice-dev` installed next to
// `sluice` (exec: same process id, same exit status).

import ArgumentParser
import Foundation
import Glibc
import SluiceCLI

struct DemoForward: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "The demo platform: apply its schema, load realistic data (runs sluice-dev demo).")
    @Argument(parsing: .captureForPassthrough) var arguments: [String] = []
    func run() throws { try DevTools.exec(["demo"] + arguments) }
}

struct BenchForward: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure throughput and latency (runs sluice-dev bench; build with -c release).")
    @Argument(parsing: .captureForPassthrough) var arguments: [String] = []
    func run() throws { try DevTools.exec(["bench"] + arguments) }
}

enum DevTools {
    /// `sluice-dev` beside this executable.
    static var path: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("sluice-dev").path
    }

    /// Replaces this process with `sluice-dev arguments…`; returns only by throwing.
    static func exec(_ arguments: [String]) throws -> Never {
        let tool = path
        guard FileManager.default.isExecutableFile(atPath: tool) else {
            throw CommandFailure(description: "\(tool) not found: the demo and bench commands live in sluice-dev (swift build --product sluice-dev)")
        }
        let argv = ([tool] + arguments).map { strdup($0) } + [nil]
        execv(tool, argv)
        throw CommandFailure(description: "could not run \(tool): \(String(cString: strerror(errno)))")
    }
}
