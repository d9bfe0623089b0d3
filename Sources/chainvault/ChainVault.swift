import ArgumentParser
import Foundation
import Settings

@main
struct ChainVault: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chainvault",
        abstract: "An S3-compatible gateway over plain-file buckets, and reports as encrypted chunk chains.",
        subcommands: [
            Serve.self, Credentials.self, Chain.self, Keys.self, HospitalCommand.self, AuditCommand.self, HealthCommand.self,
            SettingsCommand.self,
        ],
        defaultSubcommand: Serve.self
    )

    /// Prints a line to stdout and flushes.
    static func output(_ text: String) { chainvault.output(text) }

    /// Reads the environment and the configuration file (`--config` or `CHAINVAULT_CONFIG`) before the
    /// command line is parsed, so that their settings are the options' defaults; then runs the command.
    static func main() async {
        if case .failure(let error) = loadedSettings {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            Foundation.exit(78)  // EX_CONFIG
        }
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
