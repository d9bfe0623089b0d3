import Foundation
import HTTPTypes
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

@Suite struct PortalAdminTests {
    /// A hospital with an admin, and the portal's doctor registration form for `email`.
    struct Registration {
        let fixture: HospitalFixture
        let doctor = Browser()
        let admin = Browser()

        init() async throws {
            fixture = try HospitalFixture()
            _ = try await fixture.accounts.createStaff(
                .init(role: .admin, name: "Root Admin", email: "root@example.org", password: "an admin password here"))
        }

        /// Runs `body` once Dr New registered through the portal and the admin signed in.
        func run(_ body: @Sendable (any TestClientProtocol, TestResponse) async throws -> Void) async throws {
            try await buildHospitalApplication(configuration: .init(port: 0), services: fixture.services).test(.router) { client in
                let registered = try await doctor.register(
                    client, fixture,
                    ["name": "Dr New", "email": "new@example.org", "password": "a long doctor password", "specialization": "Oncology"],
                    path: "/register/doctor")
                _ = try await admin.post(client, "/login", ["email": "root@example.org", "password": "an admin password here"])
                try await body(client, registered)
            }
        }

        /// Dr New's account id (pending until approved).
        func doctorId() async throws -> Int64 {
            try #require(try await fixture.accounts.list(search: "new@", role: nil, status: nil).first?.id)
        }

        func doctorSignsIn(_ client: some TestClientProtocol) async throws -> TestResponse {
            try await doctor.post(client, "/login", ["email": "new@example.org", "password": "a long doctor password"])
        }
    }

    @Test func aRegisteredDoctorWaitsForApprovalToldOnlyToWhoKnowsThePassword() async throws {
        let scene = try await Registration()
        try await scene.run { client, registered in
            #expect(registered.status == .ok && registered.text.contains("An admin will check your registration"))
            let early = try await scene.doctorSignsIn(client)
            #expect(early.status == .forbidden && early.text.contains("An admin has not approved this account yet."))
            let wrong = try await scene.doctor.post(client, "/login", ["email": "new@example.org", "password": "not the password"])
            #expect(wrong.status == .unauthorized, "the pending state is told only to who knows the password")
            #expect(!(try await client.execute(uri: "/doctors", method: .get).text.contains("Dr New")), "not listed before approval")
        }
    }

    @Test func onlyAnAdminApprovesFromTheAccountsPageAndTheLedgerNamesIt() async throws {
        let scene = try await Registration()
        try await scene.run { client, _ in
            #expect(try await scene.admin.get(client, "/dashboard").text.contains("<span class=\"badge\">1</span>"))
            let id = try await scene.doctorId()
            #expect(try await scene.admin.get(client, "/admin/accounts").text.contains("/admin/accounts/\(id)/approve"))
            let patient = Browser()
            _ = try await patient.register(client, scene.fixture, portalPatient())
            #expect(try await patient.post(client, "/admin/accounts/\(id)/approve", [:]).status == .forbidden, "only admins")
            #expect(
                try await scene.admin.post(client, "/admin/accounts/\(id)/approve", [:]).headers[.location]
                    == "/admin/accounts?done=approved")
            #expect(try await scene.doctorSignsIn(client).status == .seeOther)
            #expect(try await scene.doctor.get(client, "/calendar").status == .ok)
            let ledger = try await scene.admin.get(client, "/admin/audit?action=account_approved")
            #expect(
                ledger.text.contains("Account approved") && ledger.text.contains("Root Admin")
                    && ledger.text.contains("The ledger is intact"))
            #expect(!ledger.text.contains("<td>Account disabled</td>"))
        }
    }

    @Test func disablingEndsTheSessionAtOnceAndEnablingLetsTheDoctorBackIn() async throws {
        let scene = try await Registration()
        try await scene.run { client, _ in
            let id = try await scene.doctorId()
            #expect(try await scene.admin.post(client, "/admin/accounts/\(id)/approve", [:]).status == .seeOther)
            #expect(try await scene.doctorSignsIn(client).status == .seeOther)
            #expect(try await scene.admin.post(client, "/admin/accounts/\(id)/disable", [:]).status == .seeOther)
            #expect(try await scene.doctor.get(client, "/calendar").status == .seeOther)
            let refused = try await scene.doctorSignsIn(client)
            #expect(refused.status == .forbidden && refused.text.contains("This account is disabled."))
            #expect(try await scene.admin.post(client, "/admin/accounts/\(id)/enable", [:]).status == .seeOther)
            #expect(try await scene.doctorSignsIn(client).status == .seeOther)
        }
    }

    @Test func anAdminCannotDisableThemselvesAndARefusedRegistrationIsRemoved() async throws {
        let scene = try await Registration()
        try await scene.run { client, _ in
            let rootId = try #require(try await scene.fixture.accounts.list(search: "root@", role: nil, status: nil).first?.id)
            #expect(try await scene.admin.post(client, "/admin/accounts/\(rootId)/disable", [:]).status == .badRequest)
            let id = try await scene.doctorId()
            #expect(try await scene.admin.post(client, "/admin/accounts/\(id)/refuse", [:]).status == .seeOther)
            #expect(try await scene.fixture.accounts.list(search: "new@", role: nil, status: nil).isEmpty)
        }
    }

    @Test func theLedgerExportIsCSVAuditedAndSafeForSpreadsheets() async throws {
        let fixture = try HospitalFixture()
        _ = try await fixture.accounts.createStaff(
            .init(role: .admin, name: "Root Admin", email: "root@example.org", password: "an admin password here"))
        _ = try await fixture.accounts.registerPatient(
            .init(
                name: "=HYPERLINK(\"x\"), Eve", email: "eve@example.org", password: "correct horse battery", dateOfBirth: "1990-01-01",
                phone: "0123456789"))
        try await buildHospitalApplication(configuration: .init(port: 0), services: fixture.services).test(.router) { client in
            let eve = Browser()
            _ = try await eve.post(client, "/login", ["email": "eve@example.org", "password": "correct horse battery"])
            #expect(try await eve.post(client, "/admin/audit.csv", [:]).status == .forbidden)
            let admin = Browser()
            _ = try await admin.post(client, "/login", ["email": "root@example.org", "password": "an admin password here"])
            // N13: the export writes a ledger entry, so it is a POST with the form token; a link cannot start it.
            #expect(try await admin.get(client, "/admin/audit.csv?action=login").status == .methodNotAllowed)
            #expect(try await admin.post(client, "/admin/audit.csv?action=login", [:], token: "forged").status == .forbidden)
            let csv = try await admin.post(client, "/admin/audit.csv?action=login", [:])
            #expect(csv.headers[.contentType] == "text/csv; charset=utf-8")
            #expect(csv.text.hasPrefix("id,time,actor,action,subject,report,patient,outcome,detail,hash\r\n"))
            #expect(csv.text.contains("\"'=HYPERLINK(\"\"x\"\"), Eve\""))
            let export = try await AuditLedger.search(AuditLedger.Filter(), limit: 1, in: fixture.storage)
            #expect(export.first?.entry.action == .ledgerExported)
        }
    }

    @Test func anAdminClearsAnAccountsSignInThrottle() async throws {
        let fixture = try HospitalFixture()
        _ = try await fixture.accounts.createStaff(
            .init(role: .admin, name: "Root Admin", email: "root@example.org", password: "an admin password here"))
        let ada = try await fixture.accounts.registerPatient(
            .init(name: "Ada", email: "ada@example.org", password: "correct horse battery", dateOfBirth: "1990-01-01", phone: "0123456789"))
        let bob = try await fixture.accounts.registerPatient(
            .init(name: "Bob", email: "bob@example.org", password: "correct horse battery", dateOfBirth: "1990-01-01", phone: "0123456789"))
        for _ in 0..<3 { _ = try? await fixture.accounts.login(email: "ada@example.org", password: "wrong guess!", client: "203.0.113.9") }
        // One read for the list: Ada's counters (her own and her address's) mark her, not Bob.
        #expect(try await fixture.accounts.throttled([ada, bob]) == [ada.id!])
        try await buildHospitalApplication(configuration: .init(port: 0), services: fixture.services).test(.router) { client in
            let admin = Browser()
            _ = try await admin.post(client, "/login", ["email": "root@example.org", "password": "an admin password here"])
            #expect(try await admin.get(client, "/admin/accounts").text.contains("/admin/accounts/\(ada.id!)/clear-throttle"))
            #expect(try await admin.post(client, "/admin/accounts/\(ada.id!)/clear-throttle", [:]).status == .seeOther)
        }
        #expect(try await fixture.accounts.throttled([ada, bob]).isEmpty)
    }
}
