import ChunkChain
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import TestSupport
import Testing
import Transparency

@testable import Hospital
@testable import HospitalAPI
@testable import HospitalCore
@testable import HospitalPortal
@testable import HospitalSQLite

/// Break the glass: the patient found by name and date of birth (never by a report id), a written reason,
/// one `emergency` ledger entry, the patient e-mailed at once with the reason and the entry's proof,
/// downloads audited, an hour's access, a daily limit, the admins' review.
@Suite struct EmergencyAccessTests {
    /// A fixture whose server signs the ledger (checkpoint file in a fresh folder).
    static func signingFixture() async throws -> (HospitalFixture, NoteSigner) {
        let database = try HospitalDatabase.inMemory()
        let folder = temporaryPath("emergency")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let signer = try NoteSigner(generatingFor: "hospital.example/audit")
        let notary = try await AuditNotary(
            signer: signer, log: CheckpointLog(path: folder + "/checkpoints"), storage: SQLiteHospitalStorage(database), copies: nil,
            logger: Logger(label: "test"))
        return (try HospitalFixture(database: database, notary: notary), signer)
    }

    func open(
        _ client: some TestClientProtocol, _ scene: ConsentScene, reason: String, name: String = "Ada Patient", born: String = "1985-04-12",
        as doctor: Cast.Person? = nil
    ) async throws -> TestResponse {
        try await client.execute(
            uri: "/api/emergency-accesses", method: .post, headers: (doctor ?? scene.cast.dermatologist).headers,
            body: json(["name": name, "dateOfBirth": born, "reason": reason]))
    }

    /// Issue 27, N12: any approved doctor finds the patient by name and date of birth — a doctor who has
    /// never seen her included —, and only so; a look-up that finds nobody is recorded and counted.
    @Test func theGlassIsBrokenForAPatientFoundByNameAndDateOfBirth() async throws {
        let fixture = try HospitalFixture()
        try await fixture.app().test(.router) { client in
            let scene = try await ConsentScene(client, fixture)
            let stranger = try await fixture.accounts.createStaff(
                .init(
                    role: .doctor, name: "Eve Emergency", email: "eve@example.org", password: "correct horse battery", specialization: "ER")
            )
            let eve = Cast.Person(
                id: stranger.id!,
                token: try await fixture.accounts.login(email: "eve@example.org", password: "correct horse battery", client: "test").token)
            // Without an appointment the report is "not found" to Eve, and no report id opens it.
            #expect(
                try await client.execute(uri: "/api/reports/\(scene.reportId)/content", method: .get, headers: eve.headers).status
                    == .notFound)
            #expect(
                try await client.execute(
                    uri: "/api/reports/\(scene.reportId)/emergency-access", method: .post, headers: eve.headers,
                    body: json(["reason": "Unconscious in the ER, no papers"])
                ).status == .notFound)
            let nobody = try await open(client, scene, reason: "Unconscious in the ER, no papers", born: "1985-04-13", as: eve)
            #expect(try nobody.status == .notFound && (errorOf(nobody)).code == "not_found")
            // Case and spacing aside, the name as registered.
            let opened = try await open(client, scene, reason: "Unconscious in the ER, no papers", name: "  ada   PATIENT ", as: eve)
            #expect(opened.status == .created)
            let views = try decodeList(opened)
            #expect(views.map { $0["reportId"] as? Int64 } == [scene.reportId] && views.first?["patientName"] as? String == "Ada Patient")
            let download = try await client.execute(uri: "/api/reports/\(scene.reportId)/content", method: .get, headers: eve.headers)
            #expect(download.status == .ok && Array(download.body.readableBytesView) == scene.bytes)
            // The refused look-up is a ledger entry without the name typed; the opening is the patient's.
            let entries = try await AuditLedger.allEntries(for: Identity(userId: 0, role: .admin, name: "admin"), in: fixture.storage)
            let tries = entries.filter { $0.action == .emergency && $0.actorId == eve.id }
            #expect(tries.map(\.outcome) == [.denied, .success])
            #expect(tries.first?.patientId == nil && tries.last?.patientId == scene.cast.ada.id)
            #expect(!tries.contains { $0.detail.contains("1985-04-13") || $0.detail.lowercased().contains("ada") })
            // Ten look-ups that find nobody in a day, then no more.
            for _ in 0..<9 {
                #expect(
                    try await open(client, scene, reason: "Unconscious in the ER, no papers", name: "Nobody Here", as: eve).status
                        == .notFound)
            }
            #expect(
                try await open(client, scene, reason: "Unconscious in the ER, no papers", name: "Bob Patient", as: eve).status
                    == .tooManyRequests)
        }
    }

    @Test(.sqliteSchema) func aReasonIsRequiredAndThePatientIsToldAtOnceWithAProof() async throws {
        let (fixture, signer) = try await Self.signingFixture()
        try await fixture.app().test(.router) { client in
            let scene = try await ConsentScene(client, fixture)
            #expect(try await scene.download(client).status == .forbidden)
            for reason in ["", "too short", String(repeating: "x", count: 301)] {
                let response = try await open(client, scene, reason: reason)
                #expect(response.status == .badRequest)
                #expect(try errorOf(response).field == "reason")
            }
            let opened = try await open(client, scene, reason: "Unconscious in the ER, suspected cardiac arrest")
            #expect(opened.status == .created)
            let view = try #require(try decodeList(opened).first)
            #expect(view["reason"] as? String == "Unconscious in the ER, suspected cardiac arrest")
            // The download works, and says in the ledger that it was under emergency access.
            let download = try await scene.download(client)
            #expect(download.status == .ok)
            #expect(Array(download.body.readableBytesView) == scene.bytes)
            let entries = try await AuditLedger.allEntries(for: Identity(userId: 0, role: .admin, name: "admin"), in: fixture.storage)
            let emergency = try #require(entries.first { $0.action == .emergency })
            #expect(emergency.detail == "Unconscious in the ER, suspected cardiac arrest")
            #expect(emergency.patientId == scene.cast.ada.id && emergency.actorId == scene.cast.dermatologist.id)
            #expect(entries.last { $0.action == .download }?.detail == "emergency access")
            // The patient's e-mail: the reason, and a proof of the entry that checks with the public key alone.
            try await fixture.services.mailQueue().deliverDue()
            let mail = try #require(fixture.sender.mails.last { $0.subject.contains("emergency") })
            #expect(mail.toAddress == "ada@example.org")
            #expect(mail.body.contains("Unconscious in the ER, suspected cardiac arrest"))
            let text = try #require(TlogProof.extract(from: mail.body))
            let proof = try TlogProof(parsing: Array(text.utf8))
            let checkpoint = try proof.checkpoint.verified(by: [try NoteVerifier(signer.verifier.description)])
            let extra = try #require(proof.extra)
            #expect(proof.includes(leafHash: MerkleTree.leafHash(extra), in: checkpoint))
            #expect(AuditEntry.canonicalFields(decoding: extra)?.first == String(emergency.id))
            #expect(AuditEntry.canonicalFields(decoding: extra)?[3] == "emergency")
            // An hour later the report is closed again.
            fixture.clock.advance(by: 3601)
            #expect(try await scene.download(client).status == .forbidden)
        }
    }

    @Test func aDoctorBreaksTheGlassThreeTimesADayAtMost() async throws {
        let fixture = try HospitalFixture()
        try await fixture.app().test(.router) { client in
            let scene = try await ConsentScene(client, fixture)
            for _ in 0..<3 {
                #expect(try await open(client, scene, reason: "Emergency surgery, patient unresponsive").status == .created)
                // Already open: a second one for the same report is refused until it expires.
                #expect(try await open(client, scene, reason: "Emergency surgery, patient unresponsive").status == .conflict)
                fixture.clock.advance(by: 3601)
            }
            let limited = try await open(client, scene, reason: "Emergency surgery, patient unresponsive")
            #expect(limited.status == .tooManyRequests)
            #expect(try errorOf(limited).code == "throttled")
            // A patient cannot.
            let patient = try await open(client, scene, reason: "I am the patient myself here", as: scene.cast.ada)
            #expect(patient.status == .forbidden)
        }
    }

    @Test func adminsReviewEveryEmergencyAccess() async throws {
        let fixture = try HospitalFixture()
        try await fixture.app().test(.router) { client in
            let scene = try await ConsentScene(client, fixture)
            let opened = try #require(try decodeList(try await open(client, scene, reason: "Anaphylaxis, need the allergy history")).first)
            let id = try #require(opened["id"] as? Int64)
            let list = try decodeList(
                try await client.execute(uri: "/api/emergency-accesses?status=unreviewed", method: .get, headers: scene.cast.admin.headers))
            #expect(list.map { $0["id"] as? Int64 } == [id])
            #expect(list.first?["reason"] as? String == "Anaphylaxis, need the allergy history")
            // The patient sees it too; another doctor does not.
            #expect(
                try decodeList(try await client.execute(uri: "/api/emergency-accesses", method: .get, headers: scene.cast.ada.headers))
                    .count == 1)
            #expect(
                try decodeList(
                    try await client.execute(uri: "/api/emergency-accesses", method: .get, headers: scene.cast.cardiologist.headers)
                ).isEmpty)
            let forbidden = try await client.execute(
                uri: "/api/emergency-accesses/\(id)/review", method: .post, headers: scene.cast.dermatologist.headers)
            #expect(forbidden.status == .forbidden)
            let reviewed = try await client.execute(
                uri: "/api/emergency-accesses/\(id)/review", method: .post, headers: scene.cast.admin.headers)
            #expect(reviewed.status == .ok)
            #expect(try decode(reviewed)["reviewedAt"] != nil)
            let again = try await client.execute(
                uri: "/api/emergency-accesses/\(id)/review", method: .post, headers: scene.cast.admin.headers)
            #expect(again.status == .conflict)
            #expect(
                try decodeList(
                    try await client.execute(
                        uri: "/api/emergency-accesses?status=unreviewed", method: .get, headers: scene.cast.admin.headers)
                ).isEmpty)
            let entries = try await AuditLedger.allEntries(for: Identity(userId: 0, role: .admin, name: "admin"), in: fixture.storage)
            #expect(entries.contains { $0.action == .emergencyReviewed && $0.subject == "emergency:\(id)" })
        }
    }
}
