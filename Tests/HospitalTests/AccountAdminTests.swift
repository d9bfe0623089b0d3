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

/// What the JSON API offers beside the portal's pages: doctor self-registration and details, a patient's
/// report titles for an appointed doctor, account administration, password reset.
@Suite struct AccountAdminTests {
    /// A doctor's self-registration through the API: the new account's id (pending).
    func registerDoctor(
        _ client: some TestClientProtocol, _ fixture: HospitalFixture, name: String = "Nia Nerve", email: String = "nia@example.org"
    ) async throws -> Int64 {
        let registered = try await registerThroughAPI(
            client, fixture, ["name": name, "email": email, "password": "a long doctor password", "specialization": "Neurology"],
            path: "/api/doctors")
        #expect(registered.status == .created)
        return try #require(try decode(registered)["id"] as? Int64)
    }

    /// The ledger's actions so far.
    func actions(_ fixture: HospitalFixture) async throws -> [String] {
        try await fixture.ledgerEntries().map(\.action.rawValue)
    }

    @Test func aRegisteredDoctorCannotSignInAndIsNotListedUntilApproved() async throws {
        let fixture = try HospitalFixture()
        let cast = try await Cast(fixture)
        try await fixture.app().test(.router) { client in
            let id = try await registerDoctor(client, fixture)
            let early = try await client.execute(
                uri: "/api/sessions", method: .post, body: json(["email": "nia@example.org", "password": "a long doctor password"]))
            #expect(try errorOf(early).code == "account_pending")
            #expect(try await client.execute(uri: "/api/doctors/\(id)", method: .get).status == .notFound, "not listed while pending")
            let approved = try await client.execute(uri: "/api/accounts/\(id)/approval", method: .post, headers: cast.admin.headers)
            #expect(approved.status == .ok)
            #expect(try decode(approved)["status"] as? String == "active")
            _ = try await fixture.login(client, "nia@example.org", "a long doctor password")
            let details = try decode(try await client.execute(uri: "/api/doctors/\(id)", method: .get))
            #expect(details["name"] as? String == "Nia Nerve" && (details["openSlots"] as? [Any])?.isEmpty == true)
        }
        #expect(try await actions(fixture).contains("account_approved"))
    }

    @Test func onlyAdminsListAccountsFilteredByStatusAndRole() async throws {
        let fixture = try HospitalFixture()
        let cast = try await Cast(fixture)
        try await fixture.app().test(.router) { client in
            let id = try await registerDoctor(client, fixture)
            let notAdmin = try await client.execute(uri: "/api/accounts", method: .get, headers: cast.cardiologist.headers)
            #expect(notAdmin.status == .forbidden)
            let pending = try decodeList(
                try await client.execute(uri: "/api/accounts?status=pending", method: .get, headers: cast.admin.headers))
            #expect(pending.map { ($0["user"] as? [String: Any])?["id"] as? Int64 } == [id])
            let badRole = try await client.execute(uri: "/api/accounts?role=king", method: .get, headers: cast.admin.headers)
            #expect(try errorOf(badRole) == ("invalid_field", "role"))
        }
    }

    @Test func disablingEndsTheSessionsAndEnablingRestoresTheAccount() async throws {
        let fixture = try HospitalFixture()
        let cast = try await Cast(fixture)
        try await fixture.app().test(.router) { client in
            let id = try await registerDoctor(client, fixture)
            #expect(
                try await client.execute(uri: "/api/accounts/\(id)/approval", method: .post, headers: cast.admin.headers).status == .ok)
            let token = try await fixture.login(client, "nia@example.org", "a long doctor password")
            let disabled = try await client.execute(
                uri: "/api/accounts/\(id)/status", method: .put, headers: cast.admin.headers, body: json(["status": "disabled"]))
            #expect(try decode(disabled)["status"] as? String == "disabled")
            #expect(try await client.execute(uri: "/api/me", method: .get, headers: .bearer(token)).status == .unauthorized)
            let toPending = try await client.execute(
                uri: "/api/accounts/\(id)/status", method: .put, headers: cast.admin.headers, body: json(["status": "pending"]))
            #expect(try errorOf(toPending) == ("invalid_field", "status"))
            let enabled = try await client.execute(
                uri: "/api/accounts/\(id)/status", method: .put, headers: cast.admin.headers, body: json(["status": "active"]))
            #expect(try decode(enabled)["status"] as? String == "active")
            _ = try await fixture.login(client, "nia@example.org", "a long doctor password")
        }
        let actions = try await actions(fixture)
        #expect(actions.contains("account_disabled") && actions.contains("account_enabled"))
    }

    @Test func anAdminClearsAThrottleAndFindsNoSecondFactorToReset() async throws {
        let fixture = try HospitalFixture()
        let cast = try await Cast(fixture)
        try await fixture.app().test(.router) { client in
            let id = try await registerDoctor(client, fixture)
            #expect(
                try await client.execute(uri: "/api/accounts/\(id)/throttle", method: .delete, headers: cast.admin.headers).status
                    == .noContent)
            #expect(
                try await client.execute(uri: "/api/accounts/\(id)/second-factor", method: .delete, headers: cast.admin.headers).status
                    == .notFound, "nothing to reset")
        }
        #expect(try await actions(fixture).contains("throttle_cleared"))
    }

    @Test func aRefusedRegistrationIsGone() async throws {
        let fixture = try HospitalFixture()
        let cast = try await Cast(fixture)
        try await fixture.app().test(.router) { client in
            let id = try await registerDoctor(client, fixture, name: "Rex Refused", email: "rex@example.org")
            #expect(
                try await client.execute(uri: "/api/accounts/\(id)/refusal", method: .post, headers: cast.admin.headers).status
                    == .noContent)
            #expect(
                try await client.execute(uri: "/api/accounts/\(id)/approval", method: .post, headers: cast.admin.headers).status
                    == .notFound)
        }
        #expect(try await actions(fixture).contains("account_refused"))
    }

    @Test(.sqliteSchema) func anAppointedDoctorListsAPatientsReportTitlesAndNobodyElseDoes() async throws {
        let fixture = try HospitalFixture()
        try await fixture.app().test(.router) { client in
            let scene = try await ConsentScene(client, fixture)
            let cast = scene.cast
            let titles = try decodeList(
                try await client.execute(uri: "/api/patients/\(cast.ada.id)/reports", method: .get, headers: cast.dermatologist.headers))
            #expect(titles.map { $0["title"] as? String } == ["Echo"])
            // The author sees none to ask for (their own reports are in /api/reports); no appointment: as if no such patient.
            let author = try decodeList(
                try await client.execute(uri: "/api/patients/\(cast.ada.id)/reports", method: .get, headers: cast.cardiologist.headers))
            #expect(author.isEmpty)
            let stranger = try await client.execute(
                uri: "/api/patients/\(cast.bob.id)/reports", method: .get, headers: cast.dermatologist.headers)
            #expect(stranger.status == .notFound)
            #expect(
                try await client.execute(uri: "/api/patients/\(cast.ada.id)/reports", method: .get, headers: cast.bob.headers).status
                    == .notFound)
            #expect(
                try await client.execute(uri: "/api/patients/\(cast.ada.id)/reports", method: .get, headers: cast.admin.headers).status
                    == .forbidden)
            let own = try decodeList(
                try await client.execute(uri: "/api/patients/\(cast.ada.id)/reports", method: .get, headers: cast.ada.headers))
            #expect(own.map { $0["title"] as? String } == ["Echo"])
            let listed = try await fixture.database.writer.read { db in
                try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM audit WHERE action = 'list_reports' AND actorId = ? AND patientId = ?",
                    arguments: [cast.dermatologist.id, cast.ada.id])
            }
            #expect(listed == 1, "the patient sees that the titles were shown")
        }
    }

    @Test func aPasswordIsResetThroughTheAPIWithTheSameAnswerForUnknownAddresses() async throws {
        let fixture = try HospitalFixture()
        let cast = try await Cast(fixture)
        let portal = PortalConfiguration(baseURL: URL(string: "https://portal.example.org")!)
        try await buildHospitalApplication(configuration: .init(port: 0, portal: portal), services: fixture.services).test(.router) {
            client in
            let unknown = try await client.execute(uri: "/api/password-resets", method: .post, body: json(["email": "nobody@example.org"]))
            let known = try await client.execute(uri: "/api/password-resets", method: .post, body: json(["email": "ada@example.org"]))
            #expect(unknown.status == .accepted && known.status == .accepted && unknown.body == known.body)
            await fixture.services.mailQueue().deliverSecrets()
            let link = try #require(fixture.sender.mails.last?.body.split(separator: "\n").first { $0.hasPrefix("https://") })
            #expect(link.hasPrefix("https://portal.example.org/password/reset?token="))
            let token = String(link.split(separator: "=").last!)
            let done = try await client.execute(
                uri: "/api/password-resets/redemption", method: .post, body: json(["token": token, "password": "a brand new passphrase"]))
            #expect(done.status == .noContent)
            #expect(try await client.execute(uri: "/api/me", method: .get, headers: cast.ada.headers).status == .unauthorized)
            let again = try await client.execute(
                uri: "/api/password-resets/redemption", method: .post, body: json(["token": token, "password": "another passphrase"]))
            #expect(try errorOf(again).code == "reset_invalid")
            _ = try await fixture.login(client, "ada@example.org", "a brand new passphrase")
        }
    }
}
