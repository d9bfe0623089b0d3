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

/// A fixture with one report by the cardiologist about Ada.
struct ConsentScene {
    let fixture: HospitalFixture
    let cast: Cast
    let reportId: Int64
    let bytes = [UInt8](repeating: 42, count: 9000)

    init(_ client: some TestClientProtocol, _ fixture: HospitalFixture) async throws {
        self.fixture = fixture
        cast = try await Cast(fixture)
        try await completedCheckup(client, fixture, doctor: cast.cardiologist, patient: cast.ada)
        let created = try await upload(client, bytes, for: cast.ada, by: cast.cardiologist, title: "Echo")
        reportId = try #require(try decode(created)["id"] as? Int64)
        // The dermatologist sees Ada too: only so may they ask for her reports.
        try await bookedAppointment(client, fixture, doctor: cast.dermatologist, patient: cast.ada)
    }

    /// The dermatologist asks for the report; returns the request id and the code the patient received.
    func request(_ client: some TestClientProtocol) async throws -> (id: Int64, code: String) {
        let response = try await client.execute(
            uri: "/api/reports/\(reportId)/access-requests", method: .post, headers: cast.dermatologist.headers)
        #expect(response.status == .created)
        let id = try #require(try decode(response)["id"] as? Int64)
        let message = try #require(fixture.sender.messages.last)
        #expect(message.requestId == id)
        return (id, message.code)
    }

    func redeem(_ client: some TestClientProtocol, _ request: Int64, _ code: String) async throws -> TestResponse {
        try await client.execute(
            uri: "/api/access-requests/\(request)/redemption", method: .post, headers: cast.dermatologist.headers,
            body: json(["code": code]))
    }

    func download(_ client: some TestClientProtocol) async throws -> TestResponse {
        try await client.execute(uri: "/api/reports/\(reportId)/content", method: .get, headers: cast.dermatologist.headers)
    }
}

/// A wrong code of the same length as `code`.
func wrong(_ code: String) -> String { String(code.map { $0 == "0" ? "1" : "0" }) }

@Suite struct ConsentTests {
    /// Issue 27, item 4: the patient allows a request in the portal or the API: a grant like a redeemed
    /// code's (same lifetime), the code is spent, and the ledger says it was approved in the portal.
    @Test func thePatientAllowsARequestWithoutHandingOverTheCode() async throws {
        let fixture = try HospitalFixture()
        try await fixture.app().test(.router) { client in
            let scene = try await ConsentScene(client, fixture)
            let cast = scene.cast
            let (request, code) = try await scene.request(client)
            let uri = "/api/access-requests/\(request)/approval"
            // Only the patient whose report it is; the doctor may not allow their own request.
            #expect(try await client.execute(uri: uri, method: .post, headers: cast.dermatologist.headers).status == .forbidden)
            #expect(try await client.execute(uri: uri, method: .post, headers: cast.bob.headers).status == .notFound)
            let allowed = try await client.execute(uri: uri, method: .post, headers: cast.ada.headers)
            #expect(allowed.status == .created)
            let grant = try decode(allowed)
            #expect(grant["doctorId"] as? Int64 == cast.dermatologist.id && grant["reportId"] as? Int64 == scene.reportId)
            let createdText = try #require(grant["createdAt"] as? String)
            let expiresText = try #require(grant["expiresAt"] as? String)
            let created = try #require(ISO8601DateFormatter().date(from: createdText))
            let expires = try #require(ISO8601DateFormatter().date(from: expiresText))
            #expect(expires.timeIntervalSince(created) == 3600, "the lifetime of a redeemed code's grant")
            #expect(try await scene.download(client).status == .ok)
            #expect(try errorOf(try await scene.redeem(client, request, code)).code == "request_used")
            #expect(try errorOf(try await client.execute(uri: uri, method: .post, headers: cast.ada.headers)).code == "request_closed")
            let detail = try await fixture.ledgerEntries().first { $0.action == .grant && $0.actorId == cast.ada.id }?.detail
            #expect(detail?.hasSuffix("approved by the patient in the portal") == true)
        }
    }

    @Test func aDoctorWithoutAnAppointmentLearnsNothingOfTheReport() async throws {
        let fixture = try HospitalFixture()
        try await fixture.app().test(.router) { client in
            let cast = try await Cast(fixture)
            try await completedCheckup(client, fixture, doctor: cast.cardiologist, patient: cast.ada)
            let created = try await upload(client, [UInt8](repeating: 1, count: 100), for: cast.ada, by: cast.cardiologist, title: "Echo")
            let reportId = try #require(try decode(created)["id"] as? Int64)
            let asked = try await client.execute(
                uri: "/api/reports/\(reportId)/access-requests", method: .post, headers: cast.dermatologist.headers)
            let missing = try await client.execute(
                uri: "/api/reports/\(reportId + 1000)/access-requests", method: .post, headers: cast.dermatologist.headers)
            #expect(asked.status == .notFound && missing.status == .notFound)
            #expect(String(buffer: asked.body) == String(buffer: missing.body))
            #expect(!String(buffer: asked.body).contains("Echo") && fixture.sender.messages.isEmpty)
        }
    }

    @Test(.sqliteSchema) func aRedeemedCodeGrantsAccessUntilThePatientRevokes() async throws {
        let fixture = try HospitalFixture()
        try await fixture.app().test(.router) { client in
            let scene = try await ConsentScene(client, fixture)
            let cast = scene.cast
            #expect(try await scene.download(client).status == .forbidden)
            let (request, code) = try await scene.request(client)
            let message = try #require(fixture.sender.messages.last)
            #expect(code.count == 8 && code.allSatisfy(\.isNumber))
            #expect(message.patientEmail == "ada@example.org" && message.doctorName == "Dora Skin")
            #expect(!message.mail.body.contains("Echo"), "the code's e-mail never names the report")
            #expect(
                message.expiresAt == fixture.clock.now + 600
                    && message.mail.rendered(from: MailSender(address: "h@example.org")).contains(code))
            // The code is never stored: only its MAC.
            let stored = try await fixture.database.writer.read { db in try Data.fetchOne(db, sql: "SELECT codeMAC FROM accessRequest") }
            #expect(stored?.count == 32 && stored != Data(code.utf8))

            // The patient sees the pending request; another patient does not; only the requester may redeem.
            let pending = try decodeList(
                try await client.execute(uri: "/api/access-requests?status=pending", method: .get, headers: cast.ada.headers))
            #expect(pending.map { $0["doctorName"] as? String } == ["Dora Skin"])
            #expect(try decodeList(try await client.execute(uri: "/api/access-requests", method: .get, headers: cast.bob.headers)).isEmpty)
            let byAuthor = try await client.execute(
                uri: "/api/access-requests/\(request)/redemption", method: .post, headers: cast.cardiologist.headers,
                body: json(["code": code]))
            #expect(byAuthor.status == .notFound)
            let notACode = try await scene.redeem(client, request, "12ab")
            #expect((try errorOf(notACode)) == ("invalid_field", "code"))

            let granted = try await scene.redeem(client, request, code)
            #expect(granted.status == .created)
            let grant = try #require(try decode(granted)["id"] as? Int64)
            let download = try await scene.download(client)
            #expect(download.status == .ok && Array(download.body.readableBytesView) == scene.bytes)
            let listed = try decodeList(try await client.execute(uri: "/api/reports", method: .get, headers: cast.dermatologist.headers))
            #expect(listed.map { $0["id"] as? Int64 } == [scene.reportId])

            // Single use.
            let again = try await scene.redeem(client, request, code)
            #expect(try again.status == .conflict && (errorOf(again)).code == "request_used")
            // Only the patient revokes; Bob gets 404.
            #expect(try await client.execute(uri: "/api/grants/\(grant)", method: .delete, headers: cast.bob.headers).status == .notFound)
            #expect(try await client.execute(uri: "/api/grants/\(grant)", method: .delete, headers: cast.ada.headers).status == .noContent)
            #expect(try await scene.download(client).status == .forbidden)
            let grants = try decodeList(try await client.execute(uri: "/api/grants", method: .get, headers: cast.ada.headers))
            #expect(grants.first?["revokedAt"] is String)
        }
    }

    @Test func fiveWrongCodesVoidTheRequestAndTheRightCodeNoLongerWorks() async throws {
        let fixture = try HospitalFixture()
        try await fixture.app().test(.router) { client in
            let scene = try await ConsentScene(client, fixture)
            let (request, code) = try await scene.request(client)
            for attempt in 1...5 {
                let response = try await scene.redeem(client, request, wrong(code))
                #expect(try response.status == .forbidden && (errorOf(response)) == ("wrong_code", "code"))
                let left = try decodeList(
                    try await client.execute(uri: "/api/access-requests", method: .get, headers: scene.cast.dermatologist.headers))
                #expect(left.first?["attemptsLeft"] as? Int == 5 - attempt)
            }
            let late = try await scene.redeem(client, request, code)
            #expect(try late.status == .conflict && (errorOf(late)).code == "request_void")
            #expect(try await scene.download(client).status == .forbidden)
            // A new request gets a new code, which works.
            let (second, newCode) = try await scene.request(client)
            #expect(try await scene.redeem(client, second, newCode).status == .created)
        }
    }

    @Test func codesExpireAfterTenMinutesAndGrantsAfterTheirLifetime() async throws {
        let fixture = try HospitalFixture(grantLifetime: .seconds(1800))
        try await fixture.app().test(.router) { client in
            let scene = try await ConsentScene(client, fixture)
            let (request, code) = try await scene.request(client)
            fixture.clock.advance(by: 600)
            let expired = try await scene.redeem(client, request, code)
            #expect(try expired.status == .gone && (errorOf(expired)).code == "code_expired")
            let (second, secondCode) = try await scene.request(client)
            fixture.clock.advance(by: 599)
            #expect(try await scene.redeem(client, second, secondCode).status == .created)
            fixture.clock.advance(by: 1799)
            #expect(try await scene.download(client).status == .ok)
            fixture.clock.advance(by: 1)
            #expect(try await scene.download(client).status == .forbidden)
        }
    }

    @Test func aPatientDeniesARequestAndANewRequestVoidsTheOlderOne() async throws {
        let fixture = try HospitalFixture()
        try await fixture.app().test(.router) { client in
            let scene = try await ConsentScene(client, fixture)
            let (first, firstCode) = try await scene.request(client)
            let (second, secondCode) = try await scene.request(client)
            let superseded = try await scene.redeem(client, first, firstCode)
            #expect((try errorOf(superseded)).code == "request_void")
            let byBob = try await client.execute(
                uri: "/api/access-requests/\(second)/denial", method: .post, headers: scene.cast.bob.headers)
            #expect(byBob.status == .notFound)
            let denied = try await client.execute(
                uri: "/api/access-requests/\(second)/denial", method: .post, headers: scene.cast.ada.headers)
            #expect(try denied.status == .ok && (decode(denied))["status"] as? String == "denied")
            let refused = try await scene.redeem(client, second, secondCode)
            #expect((try errorOf(refused)).code == "request_denied")
            // The author needs no request.
            let own = try await client.execute(
                uri: "/api/reports/\(scene.reportId)/access-requests", method: .post, headers: scene.cast.cardiologist.headers)
            #expect(try own.status == .conflict && (errorOf(own)).code == "already_has_access")
        }
    }

    @Test(.sqliteSchema) func aCodeThatCannotBeSentIs503AndItsRequestVoid() async throws {
        let fixture = try HospitalFixture()
        try await fixture.app().test(.router) { client in
            let scene = try await ConsentScene(client, fixture)
            fixture.sender.fail(true)
            let response = try await client.execute(
                uri: "/api/reports/\(scene.reportId)/access-requests", method: .post, headers: scene.cast.dermatologist.headers)
            #expect(try response.status == .serviceUnavailable && (errorOf(response)).code == "code_not_sent")
            let status = try await fixture.database.writer.read { db in try String.fetchOne(db, sql: "SELECT status FROM accessRequest") }
            #expect(status == "void")
        }
    }

    @Test func codesAreUniformDigitsFromTheInjectedRandomSource() throws {
        let database = try HospitalDatabase.inMemory()
        let bytes: [UInt8] = [255, 251, 250, 3, 14, 15, 92, 65, 35, 89, 79, 32, 38, 46, 26, 43]
        let consent = Consent(
            storage: SQLiteHospitalStorage(database), sender: RecordingSender(), macKey: .init(size: .bits256), clock: { 0 },
            random: { Array(bytes.prefix($0)) })
        // 255, 251 and 250 are rejected (they would favour 0 to 5); the rest give their last digit.
        #expect(consent.makeCode() == "34525599")
    }
}

@Suite struct AuditTests {
    @Test(.sqliteSchema) func everyActionIsInTheLedgerWhichVerifiesAndBreaksAtTheFirstEditedEntry() async throws {
        let fixture = try HospitalFixture()
        try await fixture.app().test(.router) { client in
            let scene = try await ConsentScene(client, fixture)
            let cast = scene.cast
            _ = try? await fixture.accounts.login(email: "ada@example.org", password: "wrong password!", client: "test")
            let (request, code) = try await scene.request(client)
            _ = try await scene.redeem(client, request, wrong(code))
            let grant = try #require(try decode(try await scene.redeem(client, request, code))["id"] as? Int64)
            _ = try await scene.download(client)
            _ = try await client.execute(uri: "/api/grants/\(grant)", method: .delete, headers: cast.ada.headers)
            _ = try await scene.download(client)

            let actions = try await fixture.database.writer.read { db in
                try Row.fetchAll(db, sql: "SELECT action, outcome FROM audit ORDER BY id").map { "\($0[0] as String):\($0[1] as String)" }
            }
            for expected in [
                "login:success", "login:denied", "upload:success", "access_request:success", "code_issued:success", "redeem:denied",
                "redeem:success", "grant:success", "download:success", "revoke:success", "download:denied",
            ] {
                #expect(actions.contains(expected), "\(expected) in \(actions)")
            }
            #expect(try await AuditLedger.verify(fixture.storage) == .intact(entries: actions.count))

            // Ada sees the entries about her data; Bob none of them; doctors may not list; the admin sees all.
            let adas = try decodeList(try await client.execute(uri: "/api/audit?limit=1000", method: .get, headers: cast.ada.headers))
            #expect(adas.contains { $0["action"] as? String == "download" && $0["actorId"] as? Int64 == cast.dermatologist.id })
            #expect(adas.allSatisfy { $0["patientId"] as? Int64 == cast.ada.id })
            let bobs = try decodeList(try await client.execute(uri: "/api/audit", method: .get, headers: cast.bob.headers))
            #expect(bobs.allSatisfy { $0["patientId"] as? Int64 == cast.bob.id })
            #expect(try await client.execute(uri: "/api/audit", method: .get, headers: cast.cardiologist.headers).status == .forbidden)
            let all = try decodeList(try await client.execute(uri: "/api/audit?limit=1000", method: .get, headers: cast.admin.headers))
            #expect(all.count == actions.count)
            let page = try decodeList(
                try await client.execute(uri: "/api/audit?after=3&limit=2", method: .get, headers: cast.admin.headers))
            #expect(page.map { $0["id"] as? Int64 } == [4, 5])
            let badLimit = try await client.execute(uri: "/api/audit?limit=0", method: .get, headers: cast.admin.headers)
            #expect((try errorOf(badLimit)) == ("invalid_field", "limit"))
            #expect(
                !String(
                    decoding: try await client.execute(uri: "/api/audit?limit=1000", method: .get, headers: cast.admin.headers).body
                        .readableBytesView, as: UTF8.self
                ).contains(code))
        }
        try await fixture.database.writer.write { db in try db.execute(sql: "UPDATE audit SET detail = detail || 'x' WHERE id = 7") }
        #expect(try await AuditLedger.verify(fixture.storage) == .broken(entryId: 7, reason: "its fields do not match its hash (edited)"))
    }

    @Test func aRemovedEntryBreaksTheChainAtTheGap() async throws {
        let database = try HospitalDatabase.inMemory()
        let storage = SQLiteHospitalStorage(database)
        for index in 1...4 { try await AuditLedger.record(actor: 1, .login, subject: "user:\(index)", detail: "", time: 100, in: storage) }
        try await database.writer.write { db in try db.execute(sql: "DELETE FROM audit WHERE id = 2") }
        #expect(try await AuditLedger.verify(storage) == .broken(entryId: 3, reason: "entry 2 is missing (found 3 after 1)"))
        try await database.writer.write { db in
            try db.execute(sql: "UPDATE audit SET id = 2 WHERE id = 3")
        }
        #expect(try await AuditLedger.verify(storage) == .broken(entryId: 2, reason: "its previous-hash does not match entry 1"))
    }
}
