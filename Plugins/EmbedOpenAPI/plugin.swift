// EmbedOpenAPI: at build time, turns docs/openapi.json (the API's only description) into a
// Swift source of SluiceHTTP holding its text, so the served document is the committed file,
// byte for byte, with no resource to install beside the binary.

import Foundation
import PackagePlugin

@main
struct EmbedOpenAPI: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let input = context.package.directoryURL.appending(path: "docs").appending(path: "openapi.json")
        let output = context.pluginWorkDirectoryURL.appending(path: "OpenAPIDocument+Text.swift")
        return [
            .buildCommand(
                displayName: "Embedding docs/openapi.json in \(target.name)",
                executable: try context.tool(named: "sluice-embed").url,
                arguments: [input.path, output.path, "OpenAPIDocument", "json"],
                inputFiles: [input], outputFiles: [output]),
        ]
    }
}
