import ArgumentParser
import Settings
import Testing

@testable import chainvault

/// The command line that ArgumentParser parses, against the settings' declarations.
@Suite struct OptionTests {
    @Test func serveTakesEveryDeclaredSettingAndNoOther() {
        let help = Serve.helpMessage(columns: 10_000)
        for setting in Setting.allCases {
            switch setting.declaration.source {
            case .anywhere: #expect(help.contains(setting.option + " <"), "serve has no \(setting.option)")
            case .environmentOrFile:
                #expect(!help.contains(setting.option + " "), "\(setting.option) is a secret's: never an option")
                #expect(help.contains(setting.environmentName), "serve --help does not name \(setting.environmentName)")
            }
        }
        let options = help.split(whereSeparator: \.isWhitespace).filter { $0.hasPrefix("--") }.map { String($0) }
        let declared = Set(Setting.allCases.map(\.option))
        for option in options where option.allSatisfy({ $0 == "-" || $0.isLowercase || $0.isNumber }) {
            #expect(declared.contains(option) || ["--config", "--help"].contains(option), "\(option) is not a declared setting")
        }
    }

    @Test func theChainAndAuditCommandsTakeTheSameDeclarations() {
        let chain = Chain.Put.helpMessage(columns: 10_000)
        for setting in [Setting.data, .bucketA, .bucketB, .endpointA, .endpointB, .regionA, .regionB, .masterKeyFile] {
            #expect(chain.contains(setting.option + " <"), "chain put has no \(setting.option)")
        }
        let audit = AuditCommand.Verify.helpMessage(columns: 10_000)
        for setting in [Setting.data, .auditSigningKey, .auditCheckpointFile] {
            #expect(audit.contains(setting.option + " <"), "audit verify has no \(setting.option)")
        }
    }
}
