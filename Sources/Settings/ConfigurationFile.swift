import Foundation
import Yams

/// The configuration file: YAML, one `name: value` line per setting, named as the command-line option
/// without its dashes (`s3-port: 9000`) and as the environment variable `CHAINVAULT_<NAME>` with `-` as
/// `_` (`CHAINVAULT_S3_PORT`). An option on the command line wins over the environment, which wins over
/// the file, which wins over the built-in default. See `deploy/chainvault.yaml`.
public enum ConfigurationFile {
    /// Every setting the file may hold, by environment name (without `CHAINVAULT_`).
    public static let settings: Set<String> = [
        "DATA", "HOST", "S3_PORT", "HOSPITAL_PORT", "REGION", "DOMAIN", "TLS_CERT", "TLS_KEY", "ACCESS_KEY", "SECRET_KEY",
        "SECRET_KEY_FILE", "REPORT_SIZE_LIMIT", "GRANT_LIFETIME", "SMTP_URL", "SMTP_FROM", "SMTP_USER", "SMTP_CA_FILE",
        "SMTP_PASSWORD", "SMTP_PASSWORD_FILE", "FREE_SPACE_RESERVE", "SHUTDOWN_TIMEOUT", "MULTIPART_EXPIRY",
        "HOUSEKEEPING_INTERVAL", "HEADER_TIMEOUT", "KEEPALIVE_TIMEOUT", "STALL_TIMEOUT", "MAX_CONNECTIONS",
        "MAX_CONNECTIONS_PER_CLIENT", "LOG_FORMAT", "LOG_LEVEL", "METRICS_TOKEN", "METRICS_TOKEN_FILE", "TRUSTED_PROXIES",
        "MASTER_KEY_FILE", "BUCKET_A", "BUCKET_B", "ENDPOINT_A", "ENDPOINT_B", "REGION_A", "REGION_B",
        "A_ACCESS_KEY_ID", "A_SECRET_ACCESS_KEY", "B_ACCESS_KEY_ID", "B_SECRET_ACCESS_KEY", "PORTAL_URL", "SITE_NAME",
        "SESSION_IDLE_TIMEOUT", "HOSPITAL_TLS_CERT", "HOSPITAL_TLS_KEY", "VERIFY_INTERVAL", "AUDIT_SIGNING_KEY",
        "AUDIT_CHECKPOINT_FILE", "AUDIT_ORIGIN", "AUDIT_CHECKPOINT_INTERVAL", "EMERGENCY_ACCESS_LIFETIME",
    ]
    /// Settings whose values are secrets: a file holding one must be readable by its owner only.
    public static let secrets: Set<String> = ["SECRET_KEY", "SMTP_PASSWORD", "METRICS_TOKEN", "A_SECRET_ACCESS_KEY", "B_SECRET_ACCESS_KEY"]

    /// The largest configuration file read: a few dozen settings take a few kilobytes.
    public static let maxSize = 256 * 1024

    /// The settings of the file at `path`, by environment name.
    /// - Throws: ``ConfigurationError`` naming the file and the setting: unreadable, too large, not
    ///   YAML, not a mapping, an unknown name, a value that is not a single value, secrets in a file
    ///   others can read.
    public static func load(path: String) throws -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("cannot read the configuration file \(path)")
        }
        let result = try parse(Array(data), path: path)
        if let secret = result.keys.first(where: secrets.contains),
            let mode = (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int, mode & 0o077 != 0
        {
            throw ConfigurationError("\(path) holds the secret '\(key(secret))' but others can read it: chmod 600 \(path)")
        }
        return result
    }

    /// The settings in a configuration file's `contents`, by environment name; `path` names the file
    /// in error messages.
    /// - Throws: ``ConfigurationError``: too large, not UTF-8 YAML, not a mapping, an unknown name, a
    ///   value that is not a single value.
    public static func parse(_ contents: [UInt8], path: String) throws -> [String: String] {
        guard contents.count <= maxSize else { throw ConfigurationError("\(path) is larger than \(maxSize / 1024) KiB") }
        guard let text = String(validating: contents, as: UTF8.self) else { throw ConfigurationError("\(path) is not UTF-8 text") }
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            // Where and what only: Yams' own description quotes the offending line, which may hold a secret.
            throw ConfigurationError(invalid: error, path: path)
        } catch {
            throw ConfigurationError("\(path) is not valid YAML")
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
        return result
    }

    /// A setting's name in the file: `S3_PORT` is `s3-port`.
    public static func key(_ variable: String) -> String { variable.lowercased().replacingOccurrences(of: "_", with: "-") }
}

/// A configuration file that cannot be used; the message names the file and the setting.
public struct ConfigurationError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }

    /// Yams' failure as where and what, without the line it quotes.
    init(invalid error: YamlError, path: String) {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            self.init("\(path) is not valid YAML: \(problem) at line \(mark.line), column \(mark.column)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let names = duplicates.sorted().map { "'\($0)'" }.joined(separator: ", ")
            self.init("\(path): \(names) set more than once (line \(context.mark.line))")
        case .no, .memory, .reader, .emitter, .writer, .representer, .dataCouldNotBeDecoded:
            self.init("\(path) is not valid YAML")
        }
    }
}
