import Testing

@testable import Hospital

@Suite struct ValidationTests {
    @Test(arguments: ["مهرداد\u{200C}پور", "श्री\u{200D}मान", "Ada Lovelace", "Zoë O'Brien-Ng"])
    func namesOfEveryScriptAreAccepted(_ name: String) throws {
        #expect(try Validation.name(name) == name)
    }

    @Test(arguments: ["Ada\u{0007}", "Ada\nLovelace", "Ada\u{202E}ecalevol", "Ada\u{2066}x\u{2069}", "Ada\u{2028}Lovelace"])
    func controlAndDirectionCharactersAreRefused(_ name: String) {
        #expect(throws: HospitalError.self) { try Validation.name(name) }
    }

    @Test(arguments: ["        ", "aaaaaaaa", "abababab", "  ab  ab  "])
    func lengthWithoutStrengthIsRefused(_ password: String) {
        #expect(throws: HospitalError.self) { try Validation.password(password, email: "ada@example.org") }
    }

    @Test func aPassphraseWithSpacesIsFine() throws {
        try Validation.password("correct horse battery", email: "ada@example.org")
    }
}
