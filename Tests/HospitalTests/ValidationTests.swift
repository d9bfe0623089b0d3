import Testing

@testable import Hospital
@testable import HospitalAPI
@testable import HospitalCore
@testable import HospitalPortal
@testable import HospitalSQLite

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

    /// A letter with 5 000 combining marks is one character of 10 001 bytes (N19): bounded by bytes and by
    /// the scalars of one character; ordinary names of every script, emoji included, still pass.
    @Test func namesAreBoundedByCharactersBytesAndMarks() throws {
        let zalgo = "a" + String(repeating: "\u{0301}", count: 5_000)
        #expect(zalgo.count == 1)
        #expect(throws: HospitalError.self) { try Validation.name(zalgo) }
        #expect(throws: HospitalError.self) { try Validation.title(zalgo) }
        #expect(throws: HospitalError.self) { try Validation.reason(zalgo) }
        #expect(throws: HospitalError.self) { try Validation.specialization(zalgo) }
        #expect(throws: HospitalError.self) { try Validation.name("a" + String(repeating: "\u{0301}", count: 17)) }
        #expect(try Validation.name("Ada 👨‍👩‍👧‍👦 Lovelace") == "Ada 👨‍👩‍👧‍👦 Lovelace")
        #expect(try Validation.name(String(repeating: "é", count: 200)).count == 200)
        #expect(throws: HospitalError.self) { try Validation.name(String(repeating: "é", count: 201)) }
    }

    @Test(arguments: ["ada@example.org", "Ada.Lovelace+tag@Mail.Example.ORG", "o'brien@ex-ample.co.uk", "a_b!#$%&*=?^`{|}~-@x.io"])
    func addressesInTheWHATWGSyntaxAreAccepted(_ address: String) throws {
        #expect(try Validation.email(address) == address.lowercased())
    }

    /// N10: `x>,root,<y@ex.org` put `root` in every mail's `To:` line.
    @Test(arguments: [
        "x>,root,<y@ex.org", "a<b@ex.org", "a,b@ex.org", "\"a b\"@ex.org", "a b@ex.org", "a@b@ex.org", "ada@example",
        "ada@-example.org", "ada@example-.org", "ada@exa_mple.org", "ada@.example.org", "ada@example..org", "ada@example.org.",
        "@example.org", "ada@", "ada@ex\u{0}ample.org", "ada@exämple.org", "ada@" + String(repeating: "a", count: 64) + ".org",
    ])
    func addressesOutsideTheSyntaxAreRefused(_ address: String) {
        #expect(throws: HospitalError.self) { try Validation.email(address) }
    }

    @Test func aNameGivenTwiceInOneObjectIsFound() {
        #expect(DuplicateJSONKeys.first(in: Array(#"{"role":"patient","role":"admin"}"#.utf8)) == "role")
        #expect(DuplicateJSONKeys.first(in: Array(#"{"a":1,"\u0061":2}"#.utf8)) == "a")
        #expect(DuplicateJSONKeys.first(in: Array(#"{"a":{"b":1,"c":[{"b":2,"b":3}]}}"#.utf8)) == "b")
        #expect(DuplicateJSONKeys.first(in: Array(#"{"a":"a","b":["a","a"],"c":{"a":1},"d":"\"a\""}"#.utf8)) == nil)
        #expect(DuplicateJSONKeys.first(in: Array(#"[{"a":1},{"a":2}]"#.utf8)) == nil)
        // Deep nesting is a stack, not recursion.
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(DuplicateJSONKeys.first(in: Array(deep.utf8)) == nil)
    }
}
