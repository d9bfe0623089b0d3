import Foundation
import Testing

@testable import Settings

/// The declarations, and the documents and values derived from them.
@Suite struct SettingTests {
    /// The repository's root, for the documents checked against the declarations.
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test func everyWholeNumberHasADefaultThatParses() {
        for setting in Setting.allCases where setting.declaration.kind == .wholeNumber {
            #expect(setting.declaration.defaultValue.flatMap { Int64($0) } != nil, "\(setting)")
        }
    }

    @Test func secretsAreNeverOptionsAndHaveTheirFileWhereDocumented() {
        for setting in Setting.allCases where setting.declaration.isSecret {
            #expect(setting.declaration.source == .environmentOrFile, "\(setting)")
        }
        #expect(Setting.secretKey.file == .secretKeyFile)
        #expect(Setting.smtpPassword.file == .smtpPasswordFile)
        #expect(Setting.metricsToken.file == .metricsTokenFile)
        #expect(Setting.s3Port.environmentName == "CHAINVAULT_S3_PORT")
        #expect(Setting.maxConnectionsPerClient.option == "--max-connections-per-client")
    }

    @Test func theExampleFileNamesEverySetting() throws {
        let example = try String(contentsOf: Self.repository.appending(path: "deploy/chainvault.yaml"), encoding: .utf8)
        let keys = Set(
            example.split(separator: "\n").compactMap { line -> String? in
                let text = line.drop { $0 == "#" || $0 == " " }
                guard let colon = text.firstIndex(of: ":") else { return nil }
                return String(text[..<colon])
            })
        let missing = Setting.allCases.map(\.rawValue).filter { !keys.contains($0) }
        #expect(missing.isEmpty, "deploy/chainvault.yaml does not name \(missing)")
        // And every uncommented value in it parses as its setting's kind.
        let values = try ConfigurationFile.parse(Array(example.utf8), path: "deploy/chainvault.yaml")
        for (setting, value) in values where setting.declaration.kind == .wholeNumber { #expect(Int64(value) != nil, "\(setting)") }
    }

    @Test func theConfigurationPageNamesEverySettingsVariable() throws {
        let page = try String(contentsOf: Self.repository.appending(path: "docs/configuration.md"), encoding: .utf8)
        let missing = Setting.allCases.map(\.environmentName).filter { !page.contains("`\($0)`") }
        #expect(missing.isEmpty, "docs/configuration.md does not name \(missing)")
    }

    func values(_ file: String?, _ environment: [String: String] = [:], mode: Int = 0o600) throws -> SettingValues {
        guard let file else { return try SettingValues(configurationFile: nil, environment: environment) }
        let path = FileManager.default.temporaryDirectory.appending(path: "settings-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        FileManager.default.createFile(atPath: path, contents: Data(file.utf8), attributes: [.posixPermissions: mode])
        return try SettingValues(configurationFile: path, environment: environment)
    }

    @Test func theEnvironmentWinsOverTheFileWhichWinsOverTheDefault() throws {
        let settings = try values(
            "region: eu-west-3\nlog-format: json\nsite-name: File Hospital\n",
            ["CHAINVAULT_LOG_FORMAT": "text", "CHAINVAULT_SITE_NAME": ""])
        #expect(settings.string(.region) == "eu-west-3")
        #expect(settings.string(.logFormat) == "text")
        #expect(settings.string(.siteName) == "File Hospital", "an empty variable counts as unset")
        #expect(settings.string(.host) == "127.0.0.1")
        #expect(settings.given(.host) == nil)
        #expect(settings.number(.s3Port) as Int == 9000)
        #expect(settings.origin(of: .region).hasPrefix("region in /"))
        #expect(settings.origin(of: .logFormat) == "CHAINVAULT_LOG_FORMAT")
        #expect(settings.origin(of: .host) == "--host")
    }

    @Test func aNumberThatDoesNotParseIsNamedWithWhereItWasSet() throws {
        #expect(throws: ConfigurationError("CHAINVAULT_FREE_SPACE_RESERVE: 'lots' is not a whole number")) {
            try values(nil, ["CHAINVAULT_FREE_SPACE_RESERVE": "lots"])
        }
        do {
            _ = try values("s3-port: nine\n")
            Issue.record("a port of 'nine' was taken")
        } catch {
            #expect("\(error)".hasPrefix("s3-port in /"))
            #expect("\(error)".hasSuffix(": 'nine' is not a whole number"))
        }
        #expect(try values(nil, ["CHAINVAULT_S3_PORT": " 9001 "]).number(.s3Port) as Int == 9001)
    }

    @Test func aSecretComesFromItsFileWhichWins() throws {
        let path = FileManager.default.temporaryDirectory.appending(path: "secret-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        FileManager.default.createFile(atPath: path, contents: Data("from-the-file\n".utf8))
        let settings = try values(nil, ["CHAINVAULT_SECRET_KEY": "from-the-variable", "CHAINVAULT_SECRET_KEY_FILE": path])
        #expect(try settings.secret(.secretKey, trimming: .whitespacesAndNewlines) == "from-the-file")
        #expect(
            try values(nil, ["CHAINVAULT_SECRET_KEY": "from-the-variable"]).secret(.secretKey, trimming: .newlines) == "from-the-variable")
        #expect(throws: ConfigurationError("CHAINVAULT_SMTP_PASSWORD_FILE: cannot read /nonexistent.")) {
            try values(nil, ["CHAINVAULT_SMTP_PASSWORD_FILE": "/nonexistent"]).secret(.smtpPassword, trimming: .newlines)
        }
    }

    @Test func aFileWithASecretMustBeTheOwnersAlone() throws {
        #expect(throws: ConfigurationError.self) { try values("secret-key: abcdefghijklmnop\n", mode: 0o644) }
        #expect(try values("secret-key: abcdefghijklmnop\n").given(.secretKey) == "abcdefghijklmnop")
        #expect(try values("host: 0.0.0.0\n", mode: 0o644).given(.host) == "0.0.0.0")
    }

    @Test func theConfigurationFileIsNamedOnTheCommandLineOrInTheEnvironment() {
        #expect(
            SettingValues.configurationFile(arguments: ["serve", "--config", "a.yaml"], environment: ["CHAINVAULT_CONFIG": "b.yaml"])
                == "a.yaml")
        #expect(SettingValues.configurationFile(arguments: ["--config=c.yaml"], environment: [:]) == "c.yaml")
        #expect(
            SettingValues.configurationFile(arguments: ["--", "--config", "a.yaml"], environment: ["CHAINVAULT_CONFIG": "b.yaml"])
                == "b.yaml")
        #expect(SettingValues.configurationFile(arguments: [], environment: ["CHAINVAULT_CONFIG": ""]) == nil)
    }
}
