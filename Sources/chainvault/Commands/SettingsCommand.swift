import ArgumentParser
import Settings

/// `chainvault settings`: every setting with the value the commands would take from the environment,
/// the configuration file or the default, and where it came from; secrets only as set or not.
struct SettingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settings",
        abstract: "List every setting with its value from the environment, the configuration file or the default (secrets hidden).")

    @Option(help: "YAML configuration file (env CHAINVAULT_CONFIG).")
    var config: String?

    func run() {
        for setting in Setting.allCases {
            let value: String
            if setting.declaration.isSecret {
                value = settings.given(setting) == nil ? "-" : "(secret, set)"
            } else {
                value = settings.text(setting) ?? "-"
            }
            let origin = settings.given(setting) == nil ? "default" : settings.origin(of: setting)
            output("\(setting.rawValue)\t\(setting.environmentName)\t\(value)\t\(origin)")
        }
    }
}
