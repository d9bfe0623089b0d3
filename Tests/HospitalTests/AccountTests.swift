import ChunkChain
import Crypto
import Foundation
import GRDB
import Hummingbird
import HummingbirdTesting
import NIOCore
import TestSupport
import Testing

@testable import Hospital
@testable import HospitalAPI
@testable import HospitalCore
@testable import HospitalPortal
@testable import HospitalSQLite

/// A patient registration that passes every rule.
func patient(_ email: String = "ada@example.org", password: String = "correct horse battery") -> [String: String] {
    ["name": "Ada Patient", "email": email, "password": password, "dateOfBirth": "1985-04-12", "phone": "+44 20 7946 0000"]
}

func json(_ object: Any) -> ByteBuffer { ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object)) }

func decode(_ response: TestResponse) throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any] ?? [:]
}

/// The error object of a JSON error answer.
func errorOf(_ response: TestResponse) throws -> (code: String, field: String?) {
    let error = try #require(try decode(response)["error"] as? [String: Any])
    return (try #require(error["code"] as? String), error["field"] as? String)
}

/// Signs up through the API at `path` and opens the account with the e-mailed link: the activation's answer
/// (201 with the account), or the sign-up's when it was refused.
func registerThroughAPI(
    _ client: some TestClientProtocol, _ fixture: HospitalFixture, _ body: [String: String], path: String = "/api/patients"
) async throws -> TestResponse {
    let signedUp = try await client.execute(uri: path, method: .post, body: json(body))
    guard signedUp.status == .accepted else { return signedUp }
    await fixture.services.mailQueue().deliverSecrets()
    let email = try #require(body["email"]).lowercased()
    let token = try #require(fixture.activationToken(to: email), "no link was mailed to \(email)")
    return try await client.execute(
        uri: "/api/registrations/activation", method: .post, body: json(["token": token, "password": try #require(body["password"])]))
}

extension HTTPFields {
    static func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)"] }
}

@Suite struct AccountTests {
    @Test func aPatientRegistersLogsInSeesThemselvesAndLogsOut() async throws {
        let fixture = try HospitalFixture()
        try await fixture.app().test(.router) { client in
            do {
                let response = try await registerThroughAPI(client, fixture, patient())
                #expect(response.status == .created)
                let user = try decode(response)
                #expect(user["role"] as? String == "patient" && user["email"] as? String == "ada@example.org")
                #expect(user["passwordHash"] == nil && user["password"] == nil)
            }
            let token = try await fixture.login(client, "ADA@example.org", "correct horse battery")
            #expect(token.count >= 43)
            do {
                let response = try await client.execute(uri: "/api/me", method: .get, headers: .bearer(token))
                #expect(response.status == .ok)
                #expect(try decode(response)["name"] as? String == "Ada Patient")
            }
            do {
                let response = try await client.execute(uri: "/api/sessions/current", method: .delete, headers: .bearer(token))
                #expect(response.status == .noContent)
            }
            do {
                let response = try await client.execute(uri: "/api/me", method: .get, headers: .bearer(token))
                #expect(response.status == .unauthorized)
                #expect(try errorOf(response).code == "unauthenticated")
            }
        }
        // The database holds the token's SHA-256 only.
        let stored = try await fixture.database.writer.read { db in try Data.fetchAll(db, sql: "SELECT tokenHash FROM session") }
        #expect(stored.allSatisfy { $0.count == 32 })
    }

    /// Each bad registration gets 400 `invalid_field` naming the field (or 409 for a taken address).
    @Test(arguments: [
        ("name", "   ", "name"),
        ("email", "not-an-address", "email"),
        ("email", "a@b", "email"),
        ("password", "short", "password"),
        ("password", "password123", "password"),
        ("password", "ada@example.org", "password"),
        ("dateOfBirth", "1985-02-30", "dateOfBirth"),
        ("dateOfBirth", "2999-01-01", "dateOfBirth"),
        ("dateOfBirth", "12/04/1985", "dateOfBirth"),
        ("phone", "call me", "phone"),
    ])
    func badRegistrationsNameTheField(_ key: String, _ value: String, _ field: String) async throws {
        let fixture = try HospitalFixture()
        let body = patient().merging([key: value]) { $1 }
        try await fixture.app().test(.router) { client in
            do {
                let response = try await client.execute(uri: "/api/patients", method: .post, body: json(body))
                #expect(response.status == .badRequest)
                #expect(try errorOf(response) == ("invalid_field", field))
            }
        }
    }

    /// Posts a registration body to a fresh hospital and returns the answer.
    func register(_ body: ByteBuffer, after earlier: [ByteBuffer] = []) async throws -> TestResponse {
        let fixture = try HospitalFixture()
        return try await fixture.app().test(.router) { client in
            for body in earlier { _ = try await client.execute(uri: "/api/patients", method: .post, body: body) }
            return try await client.execute(uri: "/api/patients", method: .post, body: body)
        }
    }

    @Test func aMissingFieldIsNamed() async throws {
        var missing = patient()
        missing["phone"] = nil
        let response = try await register(json(missing))
        #expect(response.status == .badRequest)
        #expect(try errorOf(response) == ("invalid_field", "phone"))
    }

    @Test func aFieldOfTheWrongTypeIsNamed() async throws {
        var typed: [String: Any] = patient()
        typed["name"] = 42
        let response = try await register(json(typed))
        #expect(response.status == .badRequest)
        #expect(try errorOf(response) == ("invalid_field", "name"))
    }

    /// N18: a name given twice is refused, whichever value a proxy would have kept.
    @Test func aFieldGivenTwiceIsRefused() async throws {
        let response = try await register(
            ByteBuffer(
                string: #"{"name":"Ada","email":"ada@example.org","email":"eve@example.org","password":"correct horse battery","#
                    + #""dateOfBirth":"1985-04-12","phone":"+41 44 000 00 00"}"#))
        #expect(response.status == .badRequest)
        #expect(try errorOf(response) == ("invalid_field", "email"))
    }

    @Test func aBodyThatIsNotJSONIsMalformed() async throws {
        let response = try await register(ByteBuffer(string: "{not json"))
        #expect(response.status == .badRequest)
        #expect(try errorOf(response).code == "malformed_body")
    }

    @Test func aBodyBeyondTheLimitIsTooLarge() async throws {
        #expect(try await register(ByteBuffer(repeating: 0x20, count: 70_000)).status == .contentTooLarge)
    }

    /// N20: a sign-up answers the same whether or not the address has an account; the owner of a taken one is
    /// told, nothing of theirs changes, and only a new address gets a link.
    @Test func aSignUpAnswersTheSameWhetherOrNotTheAddressHasAnAccount() async throws {
        let portal = PortalConfiguration(baseURL: URL(string: "https://portal.example.org")!, timeZone: TimeZone(identifier: "UTC")!)
        let fixture = try HospitalFixture(portal: portal)
        try await buildHospitalApplication(configuration: .init(port: 0, portal: portal), services: fixture.services).test(.router) {
            client in
            #expect(try await registerThroughAPI(client, fixture, patient()).status == .created)
            let taken = try await client.execute(
                uri: "/api/patients", method: .post, body: json(patient("Ada@Example.org", password: "another long passphrase")))
            let free = try await client.execute(uri: "/api/patients", method: .post, body: json(patient("new@example.org")))
            #expect(taken.status == .accepted && free.status == .accepted)
            #expect(taken.body == free.body)
            var (takenHeaders, freeHeaders) = (taken.headers, free.headers)
            (takenHeaders[.date], freeHeaders[.date]) = (nil, nil)
            #expect(takenHeaders == freeHeaders)

            // Another try within the hour answers the same, and tells her nothing new: her mailbox is not a target.
            let again = try await client.execute(uri: "/api/patients", method: .post, body: json(patient("ada@example.org")))
            #expect(again.status == .accepted && again.body == free.body)
            await fixture.services.mailQueue().deliverSecrets()
            #expect(fixture.sender.mails.filter { $0.id.hasPrefix("attempt-") }.count == 1)
            let ada = try #require(fixture.sender.mails.last { $0.toAddress == "ada@example.org" })
            #expect(ada.subject == "Someone tried to register with your address")
            #expect(ada.body.contains("https://portal.example.org/password/forgot") && !ada.body.contains("token"))
            #expect(fixture.activationToken(to: "new@example.org") != nil)
            // Nothing of Ada's changed: her password still signs in, the stranger's does not.
            _ = try await fixture.login(client, "ada@example.org", "correct horse battery")
            await #expect(throws: FixtureError.self) { try await fixture.login(client, "ada@example.org", "another long passphrase") }
            let requested = try await fixture.ledgerEntries().filter { $0.action == .accountRequested }.map(\.outcome.rawValue)
            #expect(requested == ["success", "denied", "success", "denied"])
        }
    }

    /// N20: the link opens the account once, within a day, with the password chosen at sign-up; five wrong
    /// passwords or a newer sign-up for the address make it stop working; before it, nobody signs in.
    @Test func aSignUpLinkOpensTheAccountOnceWithThePasswordChosen() async throws {
        let fixture = try HospitalFixture()
        try await fixture.app().test(.router) { client in
            func signUp(_ body: [String: String] = patient()) async throws -> String {
                #expect(try await client.execute(uri: "/api/patients", method: .post, body: json(body)).status == .accepted)
                await fixture.services.mailQueue().deliverSecrets()
                return try #require(fixture.activationToken(to: "ada@example.org"))
            }
            func activate(_ token: String, _ password: String = "correct horse battery") async throws -> TestResponse {
                try await client.execute(
                    uri: "/api/registrations/activation", method: .post, body: json(["token": token, "password": password]))
            }
            let first = try await signUp()
            await #expect(throws: FixtureError.self) { try await fixture.login(client, "ada@example.org", "correct horse battery") }
            // A newer sign-up replaces the first: its link goes dead.
            let second = try await signUp()
            #expect(try errorOf(try await activate(first)).code == "activation_invalid")
            let wrong = try await activate(second, "not the password at all")
            #expect(wrong.status == .unauthorized)
            #expect(try errorOf(wrong).code == "bad_credentials")
            let opened = try await activate(second)
            #expect(opened.status == .created)
            #expect(try decode(opened)["email"] as? String == "ada@example.org")
            #expect(try errorOf(try await activate(second)).code == "activation_invalid", "once")
            _ = try await fixture.login(client, "ada@example.org", "correct horse battery")
        }
    }

    @Test func aSignUpLinkStopsAfterFiveWrongPasswordsOrADay() async throws {
        let fixture = try HospitalFixture(portal: PortalConfiguration(timeZone: TimeZone(identifier: "UTC")!))
        try await fixture.app().test(.router) { client in
            func link(_ email: String) async throws -> String {
                #expect(try await client.execute(uri: "/api/patients", method: .post, body: json(patient(email))).status == .accepted)
                await fixture.services.mailQueue().deliverSecrets()
                return try #require(fixture.activationToken(to: email))
            }
            func activate(_ token: String, _ password: String = "correct horse battery") async throws -> TestResponse {
                try await client.execute(
                    uri: "/api/registrations/activation", method: .post, body: json(["token": token, "password": password]))
            }
            let guessed = try await link("bob@example.org")
            for _ in 0..<5 { #expect(try await activate(guessed, "a wrong guess here").status == .unauthorized) }
            #expect(try errorOf(try await activate(guessed)).code == "activation_invalid")
            let late = try await link("cy@example.org")
            fixture.clock.advance(by: Accounts.activationLifetime)
            #expect(try errorOf(try await activate(late)).code == "activation_invalid")
            let mail = try #require(fixture.sender.mails.last { $0.toAddress == "cy@example.org" })
            // In words and the site's zone, never a machine timestamp.
            #expect(mail.subject == "Open your account" && mail.body.contains("Jan 2027 at") && mail.body.contains("(GMT)"), "\(mail.body)")
        }
    }

    @Test func anUnknownPathIsNotFoundAsJSON() async throws {
        let fixture = try HospitalFixture()
        try await fixture.app().test(.router) { client in
            let response = try await client.execute(uri: "/api/nothing-here", method: .get)
            #expect(response.status == .notFound)
            #expect(try errorOf(response).code == "not_found")
        }
    }

    @Test func wrongPasswordAndUnknownAddressLookAlikeThenThrottle() async throws {
        let fixture = try HospitalFixture()
        try await fixture.app().test(.router) { client in
            do {
                let response = try await registerThroughAPI(client, fixture, patient())
                #expect(response.status == .created)
            }
            for email in ["ada@example.org", "nobody@example.org"] {
                do {
                    let response = try await client.execute(
                        uri: "/api/sessions", method: .post, body: json(["email": email, "password": "wrong password"]))
                    #expect(response.status == .unauthorized)
                    #expect(try errorOf(response).code == "bad_credentials")
                }
            }
            for _ in 0..<4 {
                do {
                    let response = try await client.execute(
                        uri: "/api/sessions", method: .post, body: json(["email": "ada@example.org", "password": "wrong password"])
                    )
                    #expect(response.status == .unauthorized)
                }
            }
            // Five failures for this account: even the right password waits now.
            do {
                let response = try await client.execute(
                    uri: "/api/sessions", method: .post, body: json(["email": "ada@example.org", "password": "correct horse battery"])
                )
                #expect(response.status == .tooManyRequests)
                #expect(try errorOf(response).code == "throttled")
                #expect(Int(response.headers[.retryAfter] ?? "") ?? 0 > 0)
            }
            fixture.clock.advance(by: 15 * 60)
            _ = try await fixture.login(client, "ada@example.org", "correct horse battery")
        }
    }

    @Test func tokensExpireWhenIdleAndAtTheirAbsoluteAge() async throws {
        let fixture = try HospitalFixture(sessions: .init())
        _ = try await fixture.accounts.registerPatient(
            .init(name: "Ada", email: "ada@example.org", password: "correct horse battery", dateOfBirth: "1985-04-12", phone: "0123456"))
        let idle = try await fixture.accounts.login(email: "ada@example.org", password: "correct horse battery", client: "t")
        fixture.clock.advance(by: 29 * 60)
        _ = try await fixture.accounts.authenticate(token: idle.token)
        fixture.clock.advance(by: 29 * 60)
        _ = try await fixture.accounts.authenticate(token: idle.token)  // used within 30 minutes each time
        fixture.clock.advance(by: 30 * 60)
        await #expect(throws: HospitalError.unauthenticated) { try await fixture.accounts.authenticate(token: idle.token) }

        let busy = try await fixture.accounts.login(email: "ada@example.org", password: "correct horse battery", client: "t")
        for _ in 0..<25 {  // 25 × 29 minutes: past 12 hours
            fixture.clock.advance(by: 29 * 60)
            _ = try? await fixture.accounts.authenticate(token: busy.token)
        }
        await #expect(throws: HospitalError.unauthenticated) { try await fixture.accounts.authenticate(token: busy.token) }
    }

    @Test func onlyAnAdminCreatesStaffAndADoctorNeedsASpecialization() async throws {
        let fixture = try HospitalFixture()
        _ = try await fixture.accounts.createStaff(
            .init(role: .admin, name: "Root", email: "admin@example.org", password: "admin password 1"))
        try await fixture.app().test(.router) { client in
            let doctor: [String: Any] = [
                "role": "doctor", "name": "Dr Who", "email": "who@example.org", "password": "tardis blue box",
                "specialization": "Cardiology",
            ]
            do {
                let response = try await client.execute(uri: "/api/staff", method: .post, body: json(doctor))
                #expect(response.status == .unauthorized)
            }
            do {
                let response = try await registerThroughAPI(client, fixture, patient())
                #expect(response.status == .created)
            }
            let patientToken = try await fixture.login(client, "ada@example.org", "correct horse battery")
            do {
                let response = try await client.execute(
                    uri: "/api/staff", method: .post, headers: .bearer(patientToken), body: json(doctor))
                #expect(response.status == .forbidden)
                #expect(try errorOf(response).code == "forbidden")
            }
            let admin = try await fixture.login(client, "admin@example.org", "admin password 1")
            var noSpecialization = doctor
            noSpecialization["specialization"] = nil
            do {
                let response = try await client.execute(
                    uri: "/api/staff", method: .post, headers: .bearer(admin), body: json(noSpecialization))
                #expect(try errorOf(response) == ("invalid_field", "specialization"))
            }
            do {
                let response = try await client.execute(uri: "/api/staff", method: .post, headers: .bearer(admin), body: json(doctor))
                #expect(response.status == .created)
                #expect(try decode(response)["specialization"] as? String == "Cardiology")
            }
            do {
                let response = try await client.execute(uri: "/api/me", method: .get, headers: [.authorization: "Bearer not-a-token"])
                #expect(response.status == .unauthorized)
            }
        }
    }
}

@Suite struct PasswordHasherTests {
    @Test func phcStringsCarryTheirParametersAndVerify() async throws {
        let hasher = PasswordHasher(parameters: .testing, random: { [UInt8](repeating: 1, count: $0) })
        let phc = try await hasher.hash("correct horse battery")
        #expect(phc.hasPrefix("$scrypt$ln=4,r=1,p=1$"))
        #expect(try await hasher.verify("correct horse battery", against: phc))
        #expect(try await !hasher.verify("correct horse batterz", against: phc))
        #expect(try await !hasher.verify("correct horse battery", against: "$scrypt$ln=4$garbage"))
        #expect(!hasher.needsRehash(phc))
        let stronger = PasswordHasher(
            parameters: .init(logN: 5, blockSize: 1, parallelism: 1), random: { [UInt8](repeating: 1, count: $0) })
        #expect(stronger.needsRehash(phc), "raised parameters replace old hashes at the next login")
        #expect(try await stronger.verify("correct horse battery", against: phc), "old hashes still verify")
    }

    /// RFC 7914's test vector 2 (N = 1024, r = 8, p = 16, "password" / "NaCl"), first 32 bytes.
    @Test func matchesRFC7914() async throws {
        let hasher = PasswordHasher(parameters: .testing, random: { _ in [] })
        let derived = try await hasher.derive(
            "password", salt: Array("NaCl".utf8), parameters: .init(logN: 10, blockSize: 8, parallelism: 16), gate: hasher.loginGate)
        #expect(derived.map { String(format: "%02x", $0) }.joined() == "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162")
    }

    @Test func theGateTurnsAwayCallersBeyondItsQueue() async throws {
        let gate = ComputeGate(permits: 1, queueLimit: 1)
        let (started, release) = (AsyncStream<Void>.makeStream(), AsyncStream<Void>.makeStream())
        async let first: Void = gate.run {
            started.continuation.yield()
            for await _ in release.stream { break }
        }
        for await _ in started.stream { break }  // the first caller holds the permit
        async let second: Void = gate.run {}
        while await gate.queued < 1 { await Task.yield() }  // the second waits in the queue
        await #expect(throws: HospitalError.busy) { try await gate.run {} }
        release.continuation.yield()
        _ = try await (first, second)
    }
}

@Suite struct ForwardedClientTests {
    @Test func theClientIsTheLastHopNoTrustedProxyAdded() {
        let trusted: Set<String> = ["127.0.0.1", "10.0.0.2"]
        #expect(ForwardedClientMiddleware.client(["203.0.113.7"], trusted: trusted) == "203.0.113.7")
        #expect(
            ForwardedClientMiddleware.client(["198.51.100.1, 203.0.113.7, 10.0.0.2"], trusted: trusted) == "203.0.113.7",
            "the client's own X-Forwarded-For claim is not believed; the proxy chain is skipped")
        #expect(ForwardedClientMiddleware.client(["198.51.100.1", "203.0.113.7"], trusted: trusted) == "203.0.113.7", "repeated headers")
        #expect(ForwardedClientMiddleware.client([], trusted: trusted) == nil)
        #expect(ForwardedClientMiddleware.client(["10.0.0.2, "], trusted: trusted) == nil)
    }
}

@Suite struct SessionClockTests {
    func lastUsed(_ fixture: HospitalFixture, token: String) async throws -> Int64? {
        try await fixture.storage.read { try await $0.sessions.session(tokenHash: Accounts.tokenHash(token), kind: .api)?.lastUsedAt }
    }

    @Test func aSessionsIdleClockMovesEveryTenthOfTheTimeoutAndExpiresOnTime() async throws {
        let fixture = try HospitalFixture(sessions: .init(idle: .seconds(600), absolute: .seconds(7 * 86400)))
        _ = try await fixture.accounts.registerPatient(
            .init(
                name: "Ada Patient", email: "ada@example.org", password: "correct horse battery", dateOfBirth: "1985-04-12",
                phone: "+44 20 7946 0000"))
        let token = try await fixture.accounts.login(email: "ada@example.org", password: "correct horse battery", client: "t").token
        let start = fixture.clock.now
        fixture.clock.advance(by: 59)
        _ = try await fixture.accounts.authenticate(token: token)
        #expect(try await lastUsed(fixture, token: token) == start, "a read only, under a tenth of the timeout")
        fixture.clock.advance(by: 1)
        _ = try await fixture.accounts.authenticate(token: token)
        #expect(try await lastUsed(fixture, token: token) == start + 60)
        fixture.clock.advance(by: 599)
        _ = try await fixture.accounts.authenticate(token: token)
        fixture.clock.advance(by: 600)
        await #expect(throws: HospitalError.unauthenticated) { _ = try await fixture.accounts.authenticate(token: token) }
        #expect(try await lastUsed(fixture, token: token) == nil, "an expired session is removed")
    }

    @Test func manyRequestsOnOneSessionAtOnceAllPass() async throws {
        let fixture = try HospitalFixture()
        let cast = try await Cast(fixture)
        try await fixture.app().test(.router) { client in
            try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<64 {
                    group.addTask {
                        fixture.clock.advance(by: 1)
                        return try await client.execute(uri: "/api/me", method: .get, headers: cast.ada.headers).status
                    }
                }
                for try await status in group { #expect(status == .ok) }
            }
        }
    }
}
