// `sluice-dev`: the tools that are not production: the demo platform's schema and data loader
// (`demo`), the benchmarks (`bench`) and the fault suite's load and count (`faults`, driven by
// scripts/faults). `sluice demo …` and `sluice bench …` run this binary,
// so the production `sluice` (what worker images ship) links neither.

import ArgumentParser
import SluiceCLI

@main
struct SluiceDev: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice-dev",
        abstract: "Sluice's demo data loader and benchmarks (also reachable as `sluice demo` and `sluice bench`).",
        subcommands: [DemoCommand.self, Bench.self, FaultsCommand.self])
}
