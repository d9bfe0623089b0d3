import Configuration
public import Foundation

/// The settings' values below the command line: a swift-configuration reader over the environment
/// (`CHAINVAULT_<NAME>`; an empty variable counts as unset) and then the configuration file, with the
/// declaration's default last. The command line wins over both: its options are ArgumentParser's,
/// whose defaults are these values. Every whole number is checked when the values are read, so that
/// start-up stops naming the setting and where it was set.
public struct SettingValues: Sendable {
    /// The configuration file read, if any.
    public let configurationFile: String?
    private let environment: Set<Setting>
    private let fromFile: Set<Setting>
    private let reader: ConfigReader

    /// Reads the configuration file named by `--config FILE` (or `--config=FILE`) among `arguments`,
    /// else by `CHAINVAULT_CONFIG`, and the `CHAINVAULT_` variables of `environment`.
    /// - Throws: ``ConfigurationError`` naming the file or variable and the setting: the file cannot be
    ///   used (``ConfigurationFile/load(path:)``), or a whole number does not parse.
    public init(arguments: some Sequence<String>, environment: [String: String]) throws(ConfigurationError) {
        try self.init(configurationFile: Self.configurationFile(arguments: arguments, environment: environment), environment: environment)
    }

    /// The values of the file at `configurationFile` (if any) and the `CHAINVAULT_` variables of `environment`.
    public init(configurationFile: String?, environment: [String: String]) throws(ConfigurationError) {
        let variables = environment.filter { $0.key.hasPrefix("CHAINVAULT_") && !$0.value.isEmpty }
        let file = try configurationFile.map { path throws(ConfigurationError) in try ConfigurationFile.load(path: path) } ?? [:]
        let secrets = Set(Setting.allCases.filter(\.declaration.isSecret).map(\.environmentName))
        self.configurationFile = configurationFile
        self.environment = Set(Setting.allCases.filter { variables[$0.environmentName] != nil })
        self.fromFile = Set(file.keys)
        self.reader = ConfigReader(providers: [
            EnvironmentVariablesProvider(environmentVariables: variables, secretsSpecifier: .specific(secrets)),
            InMemoryProvider(
                name: "configuration file",
                values: Dictionary(
                    uniqueKeysWithValues: file.map { setting, value in
                        (AbsoluteConfigKey(Self.key(setting)), ConfigValue(.string(value), isSecret: setting.declaration.isSecret))
                    })),
        ])
        for setting in Setting.allCases where setting.declaration.kind == .wholeNumber {
            if let text = given(setting), Int64(text.trimmingCharacters(in: .whitespaces)) == nil {
                throw ConfigurationError("\(origin(of: setting)): '\(text)' is not a whole number")
            }
        }
    }

    /// The file's path: `--config FILE` (or `--config=FILE`) among `arguments`, else `CHAINVAULT_CONFIG`.
    public static func configurationFile(arguments: some Sequence<String>, environment: [String: String]) -> String? {
        var iterator = arguments.makeIterator()
        while let argument = iterator.next(), argument != "--" {
            if argument == "--config" { return iterator.next() }
            if argument.hasPrefix("--config=") { return String(argument.dropFirst("--config=".count)) }
        }
        return environment["CHAINVAULT_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The reader's key of a setting: `chainvault.s3-port`, which the environment provider reads as
    /// `CHAINVAULT_S3_PORT`.
    static func key(_ setting: Setting) -> [String] { ["chainvault", setting.rawValue] }

    /// The value set in the environment or the file, without the default.
    public func given(_ setting: Setting) -> String? {
        reader.string(forKey: ConfigKey(Self.key(setting)), isSecret: setting.declaration.isSecret)
    }

    /// The value set in the environment or the file, else the declared default (nil for a setting without one).
    public func text(_ setting: Setting) -> String? { given(setting) ?? setting.declaration.defaultValue }

    /// The value of a setting that has a default.
    public func string(_ setting: Setting) -> String { text(setting) ?? "" }

    /// A whole-number setting's value (checked when the values were read), else its default.
    public func number<Value: FixedWidthInteger>(_ setting: Setting) -> Value {
        text(setting).flatMap { Value($0.trimmingCharacters(in: .whitespaces)) } ?? 0
    }

    /// A secret: the contents of the file its companion names (`secret-key-file`), which wins, else its
    /// own value. Never from the command line.
    /// - Parameter trimming: What is cut from both ends of the file's contents.
    /// - Throws: ``ConfigurationError`` naming the companion when the file cannot be read.
    public func secret(_ setting: Setting, trimming: CharacterSet) throws(ConfigurationError) -> String? {
        guard let companion = setting.file, let path = given(companion) else { return given(setting) }
        guard let contents = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("\(origin(of: companion)): cannot read \(path).")
        }
        return String(decoding: contents, as: UTF8.self).trimmingCharacters(in: trimming)
    }

    /// How to name a setting in an error message: its variable when the environment set it, its key
    /// and the file when the file did, else its option.
    public func origin(of setting: Setting) -> String {
        if environment.contains(setting) { return setting.environmentName }
        if fromFile.contains(setting), let configurationFile { return "\(setting.rawValue) in \(configurationFile)" }
        return setting.option
    }
}
