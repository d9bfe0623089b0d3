import Testing

@testable import Settings

@Suite struct ConfigurationFileTests {
    func parse(_ text: String) throws -> [Setting: String] {
        try ConfigurationFile.parse(Array(text.utf8), path: "test.yaml")
    }

    func refusal(_ text: String) -> String? {
        do {
            _ = try parse(text)
            return nil
        } catch let error as ConfigurationError {
            return error.description
        } catch {
            return "\(type(of: error))"
        }
    }

    @Test func settingsByTheirNames() throws {
        let settings = try parse("s3-port: 9000\nhost: \"0.0.0.0\"\nmax-connections-per-client: 8\n")
        #expect(settings == [.s3Port: "9000", .host: "0.0.0.0", .maxConnectionsPerClient: "8"])
        #expect(try parse("# only a comment\n").isEmpty)
    }

    @Test func unknownAndMisspelledNamesAreRefused() {
        #expect(refusal("s3_port: 9000\n")?.contains("unknown setting 's3_port'") == true)
        #expect(refusal("colour: blue\n")?.contains("unknown setting 'colour' (line 1)") == true)
    }

    @Test func onlySingleValues() {
        #expect(refusal("host: [a, b]\n")?.contains("'host' must be a single value") == true)
        #expect(refusal("- host\n")?.contains("must be a mapping") == true)
    }

    @Test func invalidYAMLIsNamedWithoutQuotingTheLine() throws {
        let message = try #require(refusal("secret-key: \"hunter22-unclosed\nhost: x\n"))
        #expect(message.contains("is not valid YAML"))
        #expect(!message.contains("hunter22"))
    }

    @Test func invalidUTF8AndOversizedFilesAreRefused() {
        #expect(throws: ConfigurationError.self) { try ConfigurationFile.parse([0x68, 0x6F, 0x73, 0x74, 0x3A, 0x20, 0xFF], path: "x") }
        let large = Array(repeating: UInt8(ascii: "#"), count: ConfigurationFile.maxSize + 1)
        #expect(throws: ConfigurationError.self) { try ConfigurationFile.parse(large, path: "x") }
    }

    @Test func deepNestingIsRefusedNotACrash() {
        let depth = 100_000
        #expect(refusal("host: " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "\n") != nil)
        #expect(refusal(String(repeating: "- ", count: depth) + "x\n") != nil)
    }

    @Test func aliasesDoNotExpand() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1..<30 {
            text += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        #expect(refusal(text) != nil)
    }
}
