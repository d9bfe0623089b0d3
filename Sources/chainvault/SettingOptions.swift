import ArgumentParser
import Foundation
import Settings

/// The settings from the environment and the configuration file (`--config` or `CHAINVAULT_CONFIG`),
/// read once before the command line is parsed: the options' defaults. `ChainVault.main()` stops with
/// the error when they cannot be read, before any option asks.
let loadedSettings = Result { () throws(ConfigurationError) in
    try SettingValues(arguments: CommandLine.arguments.dropFirst(), environment: ProcessInfo.processInfo.environment)
}

/// The settings below the command line (see ``loadedSettings``).
var settings: SettingValues {
    switch loadedSettings {
    case .success(let values): values
    case .failure(let error): fatalError("the settings are read before any command runs: \(error)")
    }
}

extension NameSpecification {
    /// A setting's option: `--` and its declared name.
    static func setting(_ setting: Setting) -> NameSpecification { .customLong(setting.rawValue) }
}

extension ArgumentHelp {
    /// A setting's declared help, with its environment variable.
    static func setting(_ setting: Setting) -> ArgumentHelp {
        ArgumentHelp("\(setting.declaration.help) (env \(setting.environmentName))")
    }
}

/// The data root and the configuration file: every command that works on a data root takes both.
struct DataRootOptions: ParsableArguments {
    @Option(help: "YAML configuration file (env CHAINVAULT_CONFIG): every setting by its name, see deploy/chainvault.yaml.")
    var config: String?

    @Option(name: .setting(.data), help: .setting(.data))
    var data: String = settings.string(.data)
}
