import ArgumentParser
import Foundation
import Settings
import Synchronization

/// The configuration file's settings as the options' defaults. The file is read before the command
/// line is parsed: each of its settings that the environment does not set is put into the environment,
/// so that every option's environment fallback sees it.
extension ConfigurationFile {
    /// Where each setting taken from the file came from, for error messages.
    static let origins = Mutex<[String: String]>([:])

    /// The file's path: `--config FILE` (or `--config=FILE`) among `arguments`, else `CHAINVAULT_CONFIG`.
    static func path(in arguments: [String]) -> String? {
        for (index, argument) in arguments.enumerated() {
            if argument == "--" { break }
            if argument == "--config", index + 1 < arguments.count { return arguments[index + 1] }
            if argument.hasPrefix("--config=") { return String(argument.dropFirst("--config=".count)) }
        }
        return ProcessInfo.processInfo.environment["CHAINVAULT_CONFIG"]
    }

    /// Loads the file named by the arguments or the environment, if any, and puts each of its settings
    /// that the environment does not set into the environment.
    static func apply(arguments: [String]) throws {
        guard let path = path(in: arguments) else { return }
        let values = try load(path: path)
        for (variable, value) in values where environment(variable) == nil {
            // Also over an empty variable, which counts as unset (`CHAINVAULT_DOMAIN=` in an environment file).
            setenv("CHAINVAULT_" + variable, value, 1)
        }
        origins.withLock { origins in
            for variable in values.keys where ProcessInfo.processInfo.environment["CHAINVAULT_" + variable] == values[variable] {
                origins[variable] = path
            }
        }
    }

    /// How to name a setting in an error message: its variable, and the file key it came from.
    static func describe(_ variable: String) -> String {
        let origin = origins.withLock { $0[variable] }
        return origin.map { "\(key(variable)) in \($0)" } ?? "CHAINVAULT_\(variable)"
    }
}

/// Values of settings that could not be read, found while the options took their defaults; the
/// commands' `validate()` reports the first, so that start-up stops naming the setting.
enum SettingProblems {
    static let found = Mutex<[String]>([])

    static func check() throws {
        if let problem = found.withLock({ $0.first }) { throw ValidationError(problem) }
    }
}

/// The value of `CHAINVAULT_<NAME>` (set in the environment or the configuration file) as a number or
/// other value, else `defaultValue`. A value that does not parse is recorded for ``SettingProblems``.
func setting<Value: LosslessStringConvertible>(_ name: String, default defaultValue: Value) -> Value {
    guard let text = environment(name) else { return defaultValue }
    guard let value = Value(text.trimmingCharacters(in: .whitespaces)) else {
        let kind = Value.self is any BinaryInteger.Type ? "a whole number" : "a valid \(Value.self)"
        SettingProblems.found.withLock { $0.append("\(ConfigurationFile.describe(name)): '\(text)' is not \(kind)") }
        return defaultValue
    }
    return value
}
