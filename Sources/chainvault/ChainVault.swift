import ArgumentParser
import Foundation

@main
struct ChainVault: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chainvault",
        abstract: "An S3-compatible gateway over plain-file buckets.",
        subcommands: [Serve.self, Credentials.self],
        defaultSubcommand: Serve.self
    )
}

/// Reads `CHAINVAULT_<NAME>` from the environment, for option defaults.
func environment(_ name: String) -> String? {
    ProcessInfo.processInfo.environment["CHAINVAULT_" + name]
}
