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

/// Break the glass: a written reason, an `emergency` ledger entry, the patient e-mailed at once with
/// the reason and the entry's proof, downloads audited, an hour's access, a daily limit, the admins'
/// review.
@Suite struct EmergencyAccessTests {
    /// A fixture whose server signs the ledger (checkpoint file in a fresh folder).
    static func signingFixture() async throws -> (HospitalFixture, NoteSigner) {
        let database = try HospitalDatabase.inMemory()
        let folder = temporaryPath("emergency")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let signer = try NoteSigner(generatingFor: "hospital.example/audit")
        let notary = try await AuditNotary(
            signer: signer, log: CheckpointLog(path: folder + "/checkpoints"), database: database, copies: nil,
            logger: Logger(label: "test"))
        return (try HospitalFixture(database: database, notary: notary), signer)
    }

    func open(_ client: some TestClientProtocol, _ scene: ConsentScene, reason: String) async throws -> TestResponse {
        try await client.execute(
            uri: "/api/reports/\(scene.reportId)/emergency-access", method: .post, headers: scene.cast.dermatologist.headers,
            body: json(["reason": reason]))
    }

    @Test func aReasonIsRequiredAndThePatientIsToldAtOnceWithAProof() async throws {
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
            let view = try decode(opened)
            #expect(view["reason"] as? String == "Unconscious in the ER, suspected cardiac arrest")
            // The download works, and says in the ledger that it was under emergency access.
            let download = try await scene.download(client)
            #expect(download.status == .ok)
            #expect(Array(download.body.readableBytesView) == scene.bytes)
            let entries = try await AuditLedger.allEntries(for: Identity(userId: 0, role: .admin, name: "admin"), in: fixture.database)
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
            // The author and a patient cannot.
            let author = try await client.execute(
                uri: "/api/reports/\(scene.reportId)/emergency-access", method: .post, headers: scene.cast.ada.headers,
                body: json(["reason": "I am the patient myself here"]))
            #expect(author.status == .forbidden)
        }
    }

    @Test func adminsReviewEveryEmergencyAccess() async throws {
        let fixture = try HospitalFixture()
        try await fixture.app().test(.router) { client in
            let scene = try await ConsentScene(client, fixture)
            let opened = try decode(try await open(client, scene, reason: "Anaphylaxis, need the allergy history"))
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
            let entries = try await AuditLedger.allEntries(for: Identity(userId: 0, role: .admin, name: "admin"), in: fixture.database)
            #expect(entries.contains { $0.action == .emergencyReviewed && $0.subject == "emergency:\(id)" })
        }
    }
}
