import ArgumentParser
import Foundation
import Synchronization
import Yams

/// The configuration file: YAML, one `name: value` line per setting, named as the command-line option
/// without its dashes (`s3-port: 9000`) and as the environment variable `CHAINVAULT_<NAME>` with `-` as
/// `_` (`CHAINVAULT_S3_PORT`). An option on the command line wins over the environment, which wins over
/// the file, which wins over the built-in default. See `deploy/chainvault.yaml`.
///
/// The file is read before the command line is parsed: each of its settings that the environment does
/// not set is put into the environment, so that every option's environment fallback sees it.
enum ConfigurationFile {
    /// Every setting the file may hold, by environment name (without `CHAINVAULT_`).
    static let settings: Set<String> = [
        "DATA", "HOST", "S3_PORT", "HOSPITAL_PORT", "REGION", "DOMAIN", "TLS_CERT", "TLS_KEY", "ACCESS_KEY", "SECRET_KEY",
        "SECRET_KEY_FILE", "REPORT_SIZE_LIMIT", "GRANT_LIFETIME", "SMTP_URL", "SMTP_FROM", "SMTP_USER", "SMTP_CA_FILE",
        "SMTP_PASSWORD", "SMTP_PASSWORD_FILE", "FREE_SPACE_RESERVE", "SHUTDOWN_TIMEOUT", "MULTIPART_EXPIRY",
        "HOUSEKEEPING_INTERVAL", "HEADER_TIMEOUT", "KEEPALIVE_TIMEOUT", "STALL_TIMEOUT", "MAX_CONNECTIONS",
        "MAX_CONNECTIONS_PER_CLIENT", "LOG_FORMAT", "LOG_LEVEL", "METRICS_TOKEN", "METRICS_TOKEN_FILE", "TRUSTED_PROXIES",
        "MASTER_KEY_FILE", "BUCKET_A", "BUCKET_B", "ENDPOINT_A", "ENDPOINT_B", "REGION_A", "REGION_B",
        "A_ACCESS_KEY_ID", "A_SECRET_ACCESS_KEY", "B_ACCESS_KEY_ID", "B_SECRET_ACCESS_KEY",
    ]
    /// Settings whose values are secrets: a file holding one must be readable by its owner only.
    static let secrets: Set<String> = ["SECRET_KEY", "SMTP_PASSWORD", "METRICS_TOKEN", "A_SECRET_ACCESS_KEY", "B_SECRET_ACCESS_KEY"]

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

    /// The settings of the file at `path`, by environment name.
    /// - Throws: ``ConfigurationError`` naming the file and the setting: unreadable, not YAML, not a mapping,
    ///   an unknown name, a value that is not a single value, secrets in a file others can read.
    static func load(path: String) throws -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("cannot read the configuration file \(path)")
        }
        let node: Node?
        do {
            node = try Yams.compose(yaml: String(decoding: data, as: UTF8.self))
        } catch {
            // Where and what only: Yams' own description quotes the offending line, which may hold a secret.
            switch error as? YamlError {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
                throw ConfigurationError("\(path) is not valid YAML: \(problem) at line \(mark.line), column \(mark.column)")
            default:
                throw ConfigurationError("\(path) is not valid YAML")
            }
        }
        guard let node else { return [:] }
        guard let mapping = node.mapping else { throw ConfigurationError("\(path) must be a mapping of setting names to values") }
        var result: [String: String] = [:]
        for (key, value) in mapping {
            guard let name = key.string else { throw ConfigurationError("\(path): setting names are strings") }
            let variable = name.uppercased().replacingOccurrences(of: "-", with: "_")
            guard settings.contains(variable), !name.contains("_") else {
                throw ConfigurationError("\(path): unknown setting '\(name)' (line \(key.mark?.line ?? 0)); see deploy/chainvault.yaml")
            }
            guard let scalar = value.scalar else {
                throw ConfigurationError("\(path): '\(name)' must be a single value, not a list or mapping")
            }
            result[variable] = scalar.string
        }
        if let secret = result.keys.first(where: secrets.contains),
            let mode = (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int, mode & 0o077 != 0
        {
            throw ConfigurationError("\(path) holds the secret '\(key(secret))' but others can read it: chmod 600 \(path)")
        }
        return result
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

    /// A setting's name in the file: `S3_PORT` is `s3-port`.
    static func key(_ variable: String) -> String { variable.lowercased().replacingOccurrences(of: "_", with: "-") }

    /// How to name a setting in an error message: its variable, and the file key it came from.
    static func describe(_ variable: String) -> String {
        let origin = origins.withLock { $0[variable] }
        return origin.map { "\(key(variable)) in \($0)" } ?? "CHAINVAULT_\(variable)"
    }
}

/// A configuration file that cannot be used; the message names the file and the setting.
struct ConfigurationError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) { self.description = description }
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
