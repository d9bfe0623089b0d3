import Foundation
import Yams

/// The configuration file: YAML, one `name: value` line per setting, named as the command-line option
/// without its dashes (`s3-port: 9000`) and as the environment variable `CHAINVAULT_<NAME>` with `-` as
/// `_` (`CHAINVAULT_S3_PORT`). An option on the command line wins over the environment, which wins over
/// the file, which wins over the built-in default. See `deploy/chainvault.yaml`.
public enum ConfigurationFile {
    /// The largest configuration file read: a few dozen settings take a few kilobytes.
    public static let maxSize = 256 * 1024

    /// The settings of the file at `path`.
    /// - Throws: ``ConfigurationError`` naming the file and the setting: unreadable, too large, not
    ///   YAML, not a mapping, an unknown name, a value that is not a single value, secrets in a file
    ///   others can read.
    public static func load(path: String) throws(ConfigurationError) -> [Setting: String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("cannot read the configuration file \(path)")
        }
        let result = try parse(Array(data), path: path)
        if let secret = result.keys.first(where: \.declaration.isSecret),
            let mode = (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int, mode & 0o077 != 0
        {
            throw ConfigurationError("\(path) holds the secret '\(secret.rawValue)' but others can read it: chmod 600 \(path)")
        }
        return result
    }

    /// The settings in a configuration file's `contents`; `path` names the file
    /// in error messages.
    /// - Throws: ``ConfigurationError``: too large, not UTF-8 YAML, not a mapping, an unknown name, a
    ///   value that is not a single value.
    public static func parse(_ contents: [UInt8], path: String) throws(ConfigurationError) -> [Setting: String] {
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
        var result: [Setting: String] = [:]
        for (key, value) in mapping {
            guard let name = key.string else { throw ConfigurationError("\(path): setting names are strings") }
            guard let setting = Setting(rawValue: name.lowercased()) else {
                throw ConfigurationError("\(path): unknown setting '\(name)' (line \(key.mark?.line ?? 0)); see deploy/chainvault.yaml")
            }
            guard let scalar = value.scalar else {
                throw ConfigurationError("\(path): '\(name)' must be a single value, not a list or mapping")
            }
            result[setting] = scalar.string
        }
        return result
    }
}

/// A configuration file that cannot be used; the message names the file and the setting.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
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
