import ChunkChain
import Crypto
import Foundation
import GRDB
import Hummingbird
import HummingbirdOTP
import HummingbirdTesting
import NIOCore
import TestSupport
import Testing

@testable import Hospital
@testable import HospitalAPI
@testable import HospitalCore
@testable import HospitalPortal
@testable import HospitalSQLite

/// What an authenticator app does with the key it is given, written apart from the server's code: the
/// base32 key decoded, HMAC-SHA1 of the 30-second step, dynamic truncation to 6 digits (RFC 4226, 6238).
enum AuthenticatorApp {
    static func key(fromBase32 text: String) -> [UInt8] {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var bits = 0
        var value = 0
        var bytes: [UInt8] = []
        for character in text.uppercased() where character != " " && character != "=" {
            value = (value << 5) | alphabet.firstIndex(of: character)!
            bits += 5
            if bits >= 8 {
                bytes.append(UInt8((value >> (bits - 8)) & 0xFF))
                bits -= 8
            }
        }
        return bytes
    }

    static func code(key: [UInt8], at seconds: Int64) -> String {
        var counter = UInt64(seconds / 30).bigEndian
        let message = withUnsafeBytes(of: &counter) { Array($0) }
        let mac = Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: SymmetricKey(data: key)))
        let offset = Int(mac[19] & 0x0F)
        let number =
            (UInt32(mac[offset] & 0x7F) << 24) | (UInt32(mac[offset + 1]) << 16) | (UInt32(mac[offset + 2]) << 8) | UInt32(mac[offset + 3])
        return String(format: "%06d", number % 1_000_000)
    }

    /// The key of an enrollment, read from its `otpauth://` link as an app scanning it would.
    static func key(_ enrollment: SecondFactor.Enrollment) throws -> [UInt8] {
        let secret = try #require(URLComponents(string: enrollment.url)?.queryItems?.first { $0.name == "secret" }?.value)
        #expect(enrollment.secret.replacingOccurrences(of: " ", with: "") == secret, "the typed key is the link's")
        return key(fromBase32: secret)
    }
}

@Suite struct SecondFactorTests {
    @Test func codesAreRFC6238sAndAcceptedOneStepEitherSideOnce() {
        // RFC 6238 Appendix B, SHA-1: at 59 s the 8-digit code is 94287082, so the 6-digit one is 287082.
        let secret = "12345678901234567890"
        #expect(AuthenticatorApp.code(key: Array(secret.utf8), at: 59) == "287082")
        #expect(SecondFactor.matchingStep("287082", secret: secret, now: 59, after: 0) == 1)
        #expect(SecondFactor.matchingStep("287082", secret: secret, now: 89, after: 0) == 1, "one step late still works")
        #expect(SecondFactor.matchingStep("287082", secret: secret, now: 29, after: 0) == 1, "one step early too")
        #expect(SecondFactor.matchingStep("287082", secret: secret, now: 120, after: 0) == nil, "two steps late does not")
        #expect(SecondFactor.matchingStep("287082", secret: secret, now: 59, after: 1) == nil, "a step used once is spent")
        #expect(SecondFactor.matchingStep("287083", secret: secret, now: 59, after: 0) == nil)
    }

    /// The hospital's own TOTP against hummingbird-auth's: the same codes at every step around now for
    /// secrets as the service makes them, and the same base32 key in the authenticator link.
    @Test func codesAndLinksAgreeWithHummingbirdOTP() throws {
        for length in [1, 20, 32, 33] {
            let secret = Accounts.base64URL((0..<length).map { _ in UInt8.random(in: 0...255) })
            let ours = TimeBasedCode(secret: secret)
            let theirs = TOTP(secret: secret)
            for time in stride(from: Int64(1_800_000_000), to: 1_800_000_000 + 40 * 30, by: 30) {
                let expected = String(format: "%06d", theirs.compute(date: Date(timeIntervalSince1970: TimeInterval(time))))
                #expect(ours.code(step: time / 30) == expected)
            }
            let key = { (url: String) in URLComponents(string: url)?.queryItems?.first { $0.name == "secret" }?.value }
            let link = ours.authenticatorURL(label: "St Elsewhere:ada+1@example.org", issuer: "St Elsewhere")
            #expect(key(link) == key(theirs.createAuthenticatorURL(label: "x", issuer: "y")))
            #expect(URLComponents(string: link)?.path == "/St Elsewhere:ada+1@example.org")
            #expect(URLComponents(string: link)?.queryItems?.first { $0.name == "issuer" }?.value == "St Elsewhere")
        }
    }

    @Test func recoveryCodesAreSixteenBase32CharactersInGroupsAndCompareLoosely() {
        let code = SecondFactor.recoveryCode([0xFF, 0x00, 0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0])
        #expect(code.count == 19 && code.split(separator: "-").map(\.count) == [4, 4, 4, 4])
        #expect(SecondFactor.recoveryHash(code.uppercased().replacingOccurrences(of: "-", with: " ")) == SecondFactor.recoveryHash(code))
    }

    /// A patient with the second step on; returns the app's key and the recovery codes.
    func enroll(_ fixture: HospitalFixture, _ userId: Int64) async throws -> (key: [UInt8], recovery: [String]) {
        let enrollment = try await fixture.accounts.secondFactor.begin(
            userId: userId, label: "ada@example.org", issuer: "St Elsewhere", currentCode: nil)
        #expect(enrollment.url.hasPrefix("otpauth://totp/St%20Elsewhere:ada@example.org?secret="))
        let key = try AuthenticatorApp.key(enrollment)
        #expect(!(try await fixture.accounts.secondFactor.isEnabled(userId: userId)), "not before a code confirms it")
        await #expect(throws: HospitalError.badSecondFactor) {
            _ = try await fixture.accounts.secondFactor.confirm(userId: userId, code: "000000")
        }
        // As people type it, in two groups.
        let code = AuthenticatorApp.code(key: key, at: fixture.clock.now)
        let recovery = try await fixture.accounts.secondFactor.confirm(userId: userId, code: code.prefix(3) + " " + code.dropFirst(3))
        #expect(recovery.count == 10 && Set(recovery).count == 10)
        #expect(try await fixture.accounts.secondFactor.isEnabled(userId: userId))
        return (key, recovery)
    }

    @Test func theAPIAsksForTheCodeRefusesReplaysAndTakesEachRecoveryCodeOnce() async throws {
        let fixture = try HospitalFixture()
        let cast = try await Cast(fixture)
        let (key, recovery) = try await enroll(fixture, cast.ada.id)
        fixture.clock.advance(by: 30)
        try await fixture.app().test(.router) { client in
            func login(_ code: String?) async throws -> TestResponse {
                var body: [String: String] = ["email": "ada@example.org", "password": "correct horse battery"]
                body["code"] = code
                return try await client.execute(uri: "/api/sessions", method: .post, body: json(body))
            }
            let without = try await login(nil)
            #expect(without.status == .unauthorized)
            #expect(try errorOf(without) == ("second_factor_required", "code"))
            let wrong = try await login("123456")
            #expect(try errorOf(wrong).code == "bad_second_factor")
            let code = AuthenticatorApp.code(key: key, at: fixture.clock.now)
            #expect(try await login(code).status == .created)
            #expect(try errorOf(try await login(code)).code == "bad_second_factor", "a code works once")
            #expect(try await login(recovery[3].uppercased()).status == .created)
            #expect(try errorOf(try await login(recovery[3])).code == "bad_second_factor", "a recovery code works once")
            // A wrong password is still just that, whatever the code.
            let badPassword = try await client.execute(
                uri: "/api/sessions", method: .post, body: json(["email": "ada@example.org", "password": "wrong", "code": code]))
            #expect(try errorOf(badPassword).code == "bad_credentials")
        }
        let entries = try await fixture.ledgerEntries()
        let details = entries.filter { $0.action == .login && $0.actorId == cast.ada.id }.map(\.detail)
        #expect(details.suffix(2) == ["with authenticator code", "with recovery code"])
        let actions = entries.map(\.action.rawValue)
        #expect(actions.contains("second_factor_enabled"))
    }

    /// N3: a signed-in session binds a new authenticator only with a code of the one bound now (or, with
    /// none bound, the password), and the owner is e-mailed each time one is bound.
    @Test(.sqliteSchema) func replacingTheAuthenticatorTakesACurrentCodeAndTellsTheOwner() async throws {
        let fixture = try HospitalFixture()
        let cast = try await Cast(fixture)
        let (key, _) = try await enroll(fixture, cast.ada.id)
        fixture.clock.advance(by: 30)
        func begin(_ code: String) async throws -> SecondFactor.Enrollment {
            try await fixture.accounts.beginSecondFactor(
                userId: cast.ada.id, password: "correct horse battery", code: code, client: "test", issuer: "St Elsewhere")
        }
        await #expect(throws: HospitalError.badSecondFactor) { _ = try await begin("") }
        await #expect(throws: HospitalError.badSecondFactor) { _ = try await begin("not-a-code") }
        let pending = try await fixture.database.writer.read { db in
            try Data.fetchOne(db, sql: "SELECT totpPending FROM user WHERE id = ?", arguments: [cast.ada.id])
        }
        #expect(pending == nil, "nothing waits to be bound after a wrong code")
        let enrollment = try await begin(AuthenticatorApp.code(key: key, at: fixture.clock.now))
        let newKey = try AuthenticatorApp.key(enrollment)
        _ = try await fixture.accounts.secondFactor.confirm(
            userId: cast.ada.id, code: AuthenticatorApp.code(key: newKey, at: fixture.clock.now))
        let kinds = try await fixture.database.writer.read { db in
            try String.fetchAll(db, sql: "SELECT kind FROM mailQueue WHERE userId = ?", arguments: [cast.ada.id])
        }
        #expect(kinds.filter { $0 == "second_factor_bound" }.count == 2)
        // Without a second step, the password: a wrong one binds nothing.
        await #expect(throws: HospitalError.badCredentials) {
            _ = try await fixture.accounts.beginSecondFactor(
                userId: cast.bob.id, password: "wrong password", code: "", client: "test", issuer: "St Elsewhere")
        }
    }

    /// N11: forty wrong codes sent at once check five, not more: each attempt is counted before its code
    /// is checked, in the statement that also refuses a challenge out of attempts.
    @Test func parallelGuessesCheckNoMoreCodesThanAllowed() async throws {
        let fixture = try HospitalFixture()
        let cast = try await Cast(fixture)
        _ = try await enroll(fixture, cast.ada.id)
        let secondFactor = fixture.accounts.secondFactor
        let token = try await secondFactor.openChallenge(userId: cast.ada.id, kind: .api, now: fixture.clock.now)
        let checked = await withTaskGroup(of: Bool.self) { group in
            for guess in 0..<40 {
                group.addTask {
                    do {
                        _ = try await secondFactor.attempt(token, code: "no-such-recovery-code-\(guess)", now: fixture.clock.now)
                        return true
                    } catch {
                        return false
                    }
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(checked == SecondFactor.challengeAttempts)
        #expect(try await secondFactor.attemptsLeft(token) == 0)
    }

    @Test(.sqliteSchema) func theSecretIsSealedUnderTheKeyOutsideTheDatabase() async throws {
        let fixture = try HospitalFixture()
        let cast = try await Cast(fixture)
        let (key, _) = try await enroll(fixture, cast.ada.id)
        let sealed = try #require(
            try await fixture.database.writer.read { db in
                try Data.fetchOne(db, sql: "SELECT totpSecret FROM user WHERE id = ?", arguments: [cast.ada.id])
            })
        #expect(sealed.range(of: Data(key)) == nil, "not in clear")
        let other = SecondFactor(storage: fixture.storage, codeKey: SymmetricKey(size: .bits256), clock: { 0 }, random: systemRandom)
        #expect(throws: (any Error).self) { _ = try other.open(sealed, userId: cast.ada.id) }
        #expect(throws: (any Error).self) { _ = try fixture.accounts.secondFactor.open(sealed, userId: cast.bob.id) }
    }

    @Test func staffKeepItPatientsTurnItOffAndAnAdminResetsALostDevice() async throws {
        let fixture = try HospitalFixture()
        let cast = try await Cast(fixture)
        let ada = try await enroll(fixture, cast.ada.id)
        let carl = try await enroll(fixture, cast.cardiologist.id)
        fixture.clock.advance(by: 60)
        await #expect(throws: HospitalError.self) {
            try await fixture.accounts.secondFactor.disable(
                userId: cast.cardiologist.id, code: AuthenticatorApp.code(key: carl.key, at: fixture.clock.now))
        }
        await #expect(throws: HospitalError.badSecondFactor) {
            try await fixture.accounts.secondFactor.disable(userId: cast.ada.id, code: "999999")
        }
        try await fixture.accounts.secondFactor.disable(
            userId: cast.ada.id, code: AuthenticatorApp.code(key: ada.key, at: fixture.clock.now))
        #expect(!(try await fixture.accounts.secondFactor.isEnabled(userId: cast.ada.id)))

        let admin = Identity(userId: cast.admin.id, role: .admin, name: "Ann Admin")
        try await fixture.accounts.secondFactor.reset(userId: cast.cardiologist.id, by: admin)
        #expect(!(try await fixture.accounts.secondFactor.isEnabled(userId: cast.cardiologist.id)))
        await #expect(throws: HospitalError.unauthenticated) { _ = try await fixture.accounts.authenticate(token: cast.cardiologist.token) }
        await #expect(throws: HospitalError.self) { try await fixture.accounts.secondFactor.reset(userId: cast.admin.id, by: admin) }
        let actions = try await fixture.ledgerEntries().map(\.action.rawValue)
        #expect(actions.contains("second_factor_disabled") && actions.contains("second_factor_reset"))
    }

    @Test func thePortalAsksForTheCodeAfterThePasswordAndFiveWrongCodesEndTheAttempt() async throws {
        let fixture = try HospitalFixture()
        let app = try buildHospitalApplication(
            configuration: .init(port: 0, portal: .init(timeZone: TimeZone(identifier: "UTC")!)), services: fixture.services)
        try await app.test(.router) { client in
            let ada = Browser()
            #expect(try await ada.register(client, fixture, portalPatient()).status == .seeOther)
            // Turned on from the profile: the key and link, then a code, then the recovery codes once.
            let profile = try await ada.get(client, "/profile")
            #expect(profile.text.contains("action=\"/profile/two-step\""))
            // N3: binding an authenticator takes the password again; without it nothing is bound.
            let refused = try await ada.post(client, "/profile/two-step", ["password": "not the password"])
            #expect(refused.headers[.location] == "/profile?done=password_wrong")
            let setup = try await ada.post(client, "/profile/two-step", ["password": "correct horse battery"])
            #expect(setup.text.contains("<svg class=\"qr\"") && setup.text.contains("<path fill=\"#000000\" d=\"M4 4h7v1h-7z"))
            let start = try #require(setup.text.range(of: "href=\"otpauth://"))
            let link = String(setup.text[setup.text.index(start.lowerBound, offsetBy: 6)...].prefix { $0 != "\"" })
                .replacingOccurrences(of: "&amp;", with: "&")
            let secret = try #require(URLComponents(string: link)?.queryItems?.first { $0.name == "secret" }?.value)
            let key = AuthenticatorApp.key(fromBase32: secret)
            let wrongSetup = try await ada.post(client, "/profile/two-step/confirm", ["code": "000000"])
            #expect(
                wrongSetup.status == .unauthorized && wrongSetup.text.contains("does not match the key")
                    && wrongSetup.text.contains("otpauth://"))
            let codes = try await ada.post(
                client, "/profile/two-step/confirm", ["code": AuthenticatorApp.code(key: key, at: fixture.clock.now)])
            #expect(codes.status == .ok && codes.text.contains("Your recovery codes"))
            #expect(try await ada.get(client, "/profile").text.contains("Two-step sign-in is on"))
            fixture.clock.advance(by: 30)

            // Signing in: the password, then the code page; wrong codes say how many attempts are left.
            let browser = Browser()
            let step = try await browser.post(
                client, "/login", ["email": "ada@example.org", "password": "correct horse battery", "next": "/reports"])
            #expect(
                step.status == .ok && step.text.contains("Enter your sign-in code")
                    && browser.cookies.keys.allSatisfy { !$0.contains("session") })
            let challenge = try #require(Browser.field("challenge", in: step.text))
            let wrong = try await browser.post(client, "/login/code", ["challenge": challenge, "code": "000000", "next": "/reports"])
            #expect(wrong.status == .unauthorized && wrong.text.contains("4 attempts left"))
            let right = try await browser.post(
                client, "/login/code",
                ["challenge": challenge, "code": AuthenticatorApp.code(key: key, at: fixture.clock.now), "next": "/reports"])
            #expect(right.status == .seeOther && right.headers[.location] == "/reports")
            #expect(try await browser.get(client, "/reports").status == .ok)
            #expect(
                try await browser.post(client, "/login/code", ["challenge": challenge, "code": "123456"]).headers[.location]
                    == "/login?again=1", "a spent challenge")

            // Five wrong codes: back to the password.
            fixture.clock.advance(by: 3600)
            let other = Browser()
            let again = try await other.post(client, "/login", ["email": "ada@example.org", "password": "correct horse battery"])
            let second = try #require(Browser.field("challenge", in: again.text))
            var last: TestResponse?
            for _ in 0..<5 { last = try await other.post(client, "/login/code", ["challenge": second, "code": "000000"]) }
            #expect(last?.status == .seeOther && last?.headers[.location] == "/login?again=1")
            #expect(try await other.get(client, "/login?again=1").text.contains("Please sign in again"))
        }
    }
}

/// The set-up page's QR code (issue 27, item 8): libqrencode's modules, drawn as one SVG path.
@Suite struct QRCodeTests {
    @Test func theKeysLinkIsAQRCodeWithItsFinderPatterns() throws {
        let link = "otpauth://totp/St%20Elsewhere:ada@example.org?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=St%20Elsewhere"
        let code = try #require(QRCode(link))
        let width = code.modules.count
        #expect(width >= 21 && (width - 17) % 4 == 0, "a QR code's width is 17 + 4 × its version")
        #expect(code.size == width + 2 * QRCode.quietZone)
        // The three 7 × 7 finder patterns: a dark ring, a light ring, a dark 3 × 3 centre.
        for (top, left) in [(0, 0), (0, width - 7), (width - 7, 0)] {
            for row in 0..<7 {
                for column in 0..<7 {
                    let ring = min(row, column, 6 - row, 6 - column)
                    #expect(code.modules[top + row][left + column] == (ring != 1), "finder at \(top),\(left): \(row),\(column)")
                }
            }
        }
        // The path draws exactly the dark modules.
        let dark = code.modules.joined().filter { $0 }.count
        let drawn = code.path.split(separator: "M").map { square -> Int in Int(square.split(separator: "h")[1].prefix { $0.isNumber })! }
        #expect(drawn.reduce(0, +) == dark)
        #expect(QRCode(String(repeating: "x", count: 4000)) == nil, "too long for any QR code")
    }
}
