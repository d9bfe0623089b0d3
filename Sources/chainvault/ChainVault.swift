import ArgumentParser
import Foundation

@main
struct ChainVault: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chainvault",
        abstract: "An S3-compatible gateway over plain-file buckets, and reports as encrypted chunk chains.",
        subcommands: [Serve.self, Credentials.self, Chain.self, Keys.self, HospitalCommand.self, AuditCommand.self, Health.self],
        defaultSubcommand: Serve.self
    )

    /// Prints a line to stdout and flushes.
    static func output(_ text: String) { chainvault.output(text) }
}

/// Reads `CHAINVAULT_<NAME>` from the environment, for option defaults.
func environment(_ name: String) -> String? {
    ProcessInfo.processInfo.environment["CHAINVAULT_" + name]
}
