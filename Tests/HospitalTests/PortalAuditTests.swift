import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import TestSupport
import Testing
import Transparency

@testable import Hospital
@testable import HospitalAPI
@testable import HospitalCore
@testable import HospitalPortal
@testable import HospitalSQLite

/// The portal's side of the signed ledger and of emergency access: the patient's history marks each
/// entry verified and hands out its proof, the doctor breaks the glass with a reason, the admins review.
@Suite struct PortalAuditTests {
    /// Issue 27, N9: an entry's leaf carries the names it is about, so that an insider who swaps two
    /// doctors' names in the user table changes nothing the patient's history shows beside ✓.
    @Test func theNamesBesideAVerifiedEntryAreTheLeafs() async throws {
        let (fixture, _) = try await EmergencyAccessTests.signingFixture()
        let cast = try await ConsentCast(fixture, title: "Holter ECG", bytes: "%PDF holter")
        let ada = Identity(userId: cast.patient.id!, role: .patient, name: "Ada Patient")
        let upload = try #require(try await AuditLedger.allEntries(for: ada, in: fixture.storage).first { $0.action == .upload })
        #expect(upload.leafVersion == 2)
        #expect(upload.names == AuditEntry.Names(actor: "Dr Ann Author", patient: "Ada Patient", report: "Holter ECG"))
        let fields = try #require(AuditEntry.canonicalFields(decoding: upload.canonicalBytes))
        #expect(fields.suffix(3) == ["Dr Ann Author", "Ada Patient", "Holter ECG"])
        try await fixture.database.writer.write { db in
            try db.execute(sql: "UPDATE user SET name = 'Dr Sam Second' WHERE email = 'ann@example.org'")
            try db.execute(sql: "UPDATE report SET title = 'Something else'")
        }
        try await buildHospitalApplication(configuration: .init(port: 0), services: fixture.services).test(.router) { client in
            let browser = Browser()
            _ = try await browser.post(client, "/login", ["email": "ada@example.org", "password": "correct horse battery"])
            let history = try await browser.get(client, "/history").text
            #expect(history.contains("<td>Dr Ann Author</td>") && history.contains("<td>Holter ECG</td>"))
            #expect(!history.contains("Something else"))
        }
    }

    @Test(.sqliteSchema) func aDoctorBreaksTheGlassThePatientSeesItVerifiedAndAnAdminReviewsIt() async throws {
        let (fixture, signer) = try await EmergencyAccessTests.signingFixture()
        let cast = try await ConsentCast(fixture, title: "Holter ECG", bytes: "%PDF holter")
        _ = try await fixture.accounts.createStaff(
            .init(role: .admin, name: "Ida Admin", email: "ida@example.org", password: "a long admin password", specialization: nil))
        let reportId = try #require(cast.report.report.id)

        try await buildHospitalApplication(configuration: .init(port: 0), services: fixture.services).test(.router) { client in
            let doctor = Browser()
            _ = try await doctor.post(client, "/login", ["email": "sam@example.org", "password": "a long doctor password"])
            let ada = Browser()
            _ = try await ada.post(client, "/login", ["email": "ada@example.org", "password": "correct horse battery"])
            let admin = Browser()
            _ = try await admin.post(client, "/login", ["email": "ida@example.org", "password": "a long admin password"])

            // The form warns, and asks for the patient's name and date of birth and the reason (issue 27, N12).
            let access = try await doctor.get(client, "/access")
            #expect(access.text.contains("href=\"/access/emergency\"") && !access.text.contains("/access/reports/\(reportId)/emergency"))
            let form = try await doctor.get(client, "/access/emergency")
            #expect(form.status == .ok && form.text.contains("60 minutes") && form.text.contains("name=\"date_of_birth\""))
            let patient = ["name": "Ada Patient", "date_of_birth": "1985-04-12"]
            let refused = try await doctor.post(client, "/access/emergency", patient.merging(["reason": "hurry"]) { $1 })
            #expect(refused.status == .badRequest && refused.text.contains("aria-invalid=\"true\"") && refused.text.contains("hurry"))
            // The portal's own words next to the field, not only the browser's check (issue 27, item 8).
            #expect(refused.text.contains("novalidate") && refused.text.contains("10 to 300 characters. The patient reads it."))
            let nobody = try await doctor.post(
                client, "/access/emergency",
                ["name": "Ada Patient", "date_of_birth": "1985-04-13", "reason": "Collapsed in the waiting room"])
            #expect(nobody.status == .notFound && nobody.text.contains("No patient has this name and date of birth."))
            let opened = try await doctor.post(
                client, "/access/emergency", patient.merging(["reason": "Collapsed in the waiting room, arrhythmia suspected"]) { $1 })
            #expect(opened.status == .seeOther && opened.headers[.location] == "/access?done=emergency")
            let granted = try await doctor.get(client, "/access?done=emergency")
            #expect(granted.text.contains("emergency access") && granted.text.contains("/reports/\(reportId)/download"))
            #expect(try await doctor.get(client, "/reports/\(reportId)/download").status == .ok)

            // The patient's history: the emergency, verified, with a proof that checks with the public key.
            let history = try await ada.get(client, "/history")
            #expect(history.text.contains("Opened in an emergency") && history.text.contains("class=\"verified\""))
            // The patient is owed the doctor's reason (issue 27, item 8).
            #expect(history.text.contains("reason: “Collapsed in the waiting room, arrhythmia suspected”"))
            #expect(history.text.contains(signer.verifier.description))
            let entry = try #require(
                try await AuditLedger.allEntries(for: Identity(userId: cast.patient.id!, role: .patient, name: ""), in: fixture.storage)
                    .last { $0.action == .emergency })
            #expect(history.text.contains("/history/entries/\(entry.id)/proof"))
            let download = try await ada.get(client, "/history/entries/\(entry.id)/proof")
            #expect(download.status == .ok)
            let proof = try TlogProof(parsing: Array(download.text.utf8))
            let checkpoint = try proof.checkpoint.verified(by: [signer.verifier])
            #expect(proof.includes(leafHash: entry.leafHash, in: checkpoint))
            #expect(try await doctor.get(client, "/history/entries/\(entry.id)/proof").status == .forbidden)

            // The admins' review list.
            let list = try await admin.get(client, "/admin/emergency")
            #expect(list.text.contains("Collapsed in the waiting room, arrhythmia suspected") && list.text.contains("Dr Sam Second"))
            let id = try #require(
                try await fixture.services.emergency.list(for: Identity(userId: 0, role: .admin, name: "")).first?.record.id)
            #expect(list.text.contains("action=\"/admin/emergency/\(id)/review\""))
            let reviewed = try await admin.post(client, "/admin/emergency/\(id)/review", [:])
            #expect(reviewed.status == .seeOther)
            #expect(!(try await admin.get(client, "/admin/emergency").text.contains("Collapsed in the waiting room")))
            let all = try await admin.get(client, "/admin/emergency?status=all")
            #expect(all.text.contains("Collapsed in the waiting room") && !all.text.contains("/admin/emergency/\(id)/review"))
            // The ledger page checks the signed checkpoints.
            #expect(try await admin.get(client, "/admin/audit").text.contains("signed checkpoints"))
        }
    }
}
