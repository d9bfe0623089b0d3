import ChunkChain
import ChunkChainTesting
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

/// Uploads `bytes` as a report for `patient` by `doctor`.
func upload(
    _ client: some TestClientProtocol, _ bytes: [UInt8], for patient: Cast.Person, by doctor: Cast.Person, title: String = "Blood%20test"
) async throws -> TestResponse {
    var headers = doctor.headers
    headers[.contentType] = "application/pdf"
    return try await client.execute(
        uri: "/api/patients/\(patient.id)/reports?title=\(title)", method: .post, headers: headers, body: ByteBuffer(bytes: bytes))
}

/// A body that sends some bytes and then fails, as a client that goes away mid-upload.
struct CutBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    struct Cut: Error {}
    struct AsyncIterator: AsyncIteratorProtocol {
        var sent = false
        mutating func next() async throws -> ByteBuffer? {
            if sent { throw Cut() }
            sent = true
            return ByteBuffer(bytes: [UInt8](repeating: 1, count: 1000))
        }
    }
    func makeAsyncIterator() -> AsyncIterator { AsyncIterator() }
}

@Suite struct ReportTests {
    @Test func aBodyThatEndsEarlyIsTheClientsErrorAndStoresNothing() async throws {
        let fixture = try HospitalFixture()
        let cast = try await Cast(fixture)
        try await fixture.app().test(.router) { client in
            try await completedCheckup(client, fixture, doctor: cast.cardiologist, patient: cast.ada)
        }
        let doctor = Identity(userId: cast.cardiologist.id, role: .doctor, name: "Carl Heart")
        let upload = Reports.Upload(patientId: cast.ada.id, title: "Scan", contentType: "application/pdf", declaredLength: 5000)
        await #expect(throws: HospitalError.incompleteBody) {
            _ = try await fixture.services.reports.upload(upload, body: CompleteBody(base: CutBody(), declaredLength: 5000), by: doctor)
        }
        let short = ByteBufferSequence(buffers: [ByteBuffer(bytes: [1, 2, 3])])
        await #expect(throws: HospitalError.incompleteBody) {
            _ = try await fixture.services.reports.upload(upload, body: CompleteBody(base: short, declaredLength: 5000), by: doctor)
        }
        #expect(try await fixture.database.writer.read { db in try Report.fetchCount(db) } == 0)
    }

    @Test(.sqliteSchema) func aReportIsAChainOverBothBucketsReadableByItsPatientAndAuthorOnly() async throws {
        let fixture = try HospitalFixture()
        let cast = try await Cast(fixture)
        let bytes = (0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        try await fixture.app().test(.router) { client in
            // No completed checkup yet: refused, nothing stored.
            let early = try await upload(client, bytes, for: cast.ada, by: cast.cardiologist)
            #expect(try early.status == .forbidden && (errorOf(early)) == ("no_completed_checkup", "patientId"))
            #expect(await fixture.store.all().isEmpty)
            try await completedCheckup(client, fixture, doctor: cast.cardiologist, patient: cast.ada)

            let noTitle = try await client.execute(
                uri: "/api/patients/\(cast.ada.id)/reports", method: .post, headers: cast.cardiologist.headers,
                body: ByteBuffer(bytes: bytes))
            #expect((try errorOf(noTitle)) == ("invalid_field", "title"))
            let byPatient = try await upload(client, bytes, for: cast.ada, by: cast.ada)
            #expect(byPatient.status == .forbidden)

            let created = try await upload(client, bytes, for: cast.ada, by: cast.cardiologist)
            #expect(created.status == .created)
            let report = try decode(created)
            let id = try #require(report["id"] as? Int64)
            #expect(report["size"] as? Int == bytes.count && report["title"] as? String == "Blood test")
            #expect(report["sha256"] as? String == SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined())
            #expect(report["contentType"] as? String == "application/pdf")
            // 50 000 bytes in 4 KiB chunks: 13 chunks over both buckets, none holding the report.
            let chunks = await fixture.store.all()
            #expect(chunks.count == 13 && Set(chunks.map(\.bucket)) == [.a, .b])
            let head = try #require(
                try await fixture.database.writer.read { db in try String.fetchOne(db, sql: "SELECT head FROM report") })
            #expect(head.hasPrefix("A:") || head.hasPrefix("B:"))

            for reader in [cast.ada, cast.cardiologist] {
                let download = try await client.execute(uri: "/api/reports/\(id)/content", method: .get, headers: reader.headers)
                #expect(download.status == .ok && Array(download.body.readableBytesView) == bytes)
                #expect(download.headers[.contentType] == "application/pdf")
            }
            // Another patient and an admin: 404, as for a report that does not exist; another doctor: consent needed.
            for stranger in [cast.bob, cast.admin] {
                let refused = try await client.execute(uri: "/api/reports/\(id)/content", method: .get, headers: stranger.headers)
                #expect(refused.status == .notFound)
                #expect(try await client.execute(uri: "/api/reports/\(id)", method: .get, headers: stranger.headers).status == .notFound)
            }
            // A doctor without an appointment with Ada: as if the report did not exist. With one: consent needed.
            let stranger = try await client.execute(uri: "/api/reports/\(id)/content", method: .get, headers: cast.dermatologist.headers)
            #expect(stranger.status == .notFound)
            try await bookedAppointment(client, fixture, doctor: cast.dermatologist, patient: cast.ada)
            let consent = try await client.execute(uri: "/api/reports/\(id)/content", method: .get, headers: cast.dermatologist.headers)
            #expect(try consent.status == .forbidden && (errorOf(consent)).code == "consent_required")
            #expect(!consent.text.contains("/api/"), "no API path in the message")
            #expect(try await client.execute(uri: "/api/reports/999/content", method: .get, headers: cast.ada.headers).status == .notFound)

            let adas = try decodeList(try await client.execute(uri: "/api/reports", method: .get, headers: cast.ada.headers))
            #expect(adas.map { $0["id"] as? Int64 } == [id])
            #expect(try decodeList(try await client.execute(uri: "/api/reports", method: .get, headers: cast.bob.headers)).isEmpty)
            #expect(
                try decodeList(try await client.execute(uri: "/api/reports", method: .get, headers: cast.dermatologist.headers)).isEmpty)
        }
    }

    /// Issue 27, item 7: a doctor with no appointment with the patient is refused an existing report exactly
    /// as a missing one (same status, body and headers, and the same work: a ledger entry either way), on
    /// every ordinary report path of the API and the portal, so report ids cannot be enumerated.
    @Test func aDoctorWithoutAnAppointmentCannotTellAnExistingReportFromAMissingOne() async throws {
        let fixture = try HospitalFixture()
        let cast = try await Cast(fixture)
        try await buildHospitalApplication(configuration: .init(port: 0), services: fixture.services).test(.router) { client in
            try await completedCheckup(client, fixture, doctor: cast.cardiologist, patient: cast.ada)
            let id = try #require(try decode(try await upload(client, [1, 2, 3], for: cast.ada, by: cast.cardiologist))["id"] as? Int64)
            let missing = id + 1000
            let doctor = Browser()
            _ = try await doctor.post(client, "/login", ["email": "dora@example.org", "password": "correct horse battery"])
            func answers(_ report: Int64) async throws -> [(HTTPResponse.Status, String, [String])] {
                var found: [(HTTPResponse.Status, String, [String])] = []
                for (uri, method) in [
                    ("/api/reports/\(report)", HTTPRequest.Method.get), ("/api/reports/\(report)/content", .get),
                    ("/api/reports/\(report)/access-requests", .post),
                ] {
                    let response = try await client.execute(uri: uri, method: method, headers: cast.dermatologist.headers)
                    found.append((response.status, response.text, Self.comparable(response.headers)))
                }
                for response in [
                    try await doctor.get(client, "/reports/\(report)/download"),
                    try await doctor.post(client, "/access/reports/\(report)/request", [:]),
                ] {
                    found.append((response.status, response.text, Self.comparable(response.headers)))
                }
                return found
            }
            let existing = try await answers(id)
            let absent = try await answers(missing)
            for (index, (one, other)) in zip(existing, absent).enumerated() {
                #expect(one.0 == .notFound && one.0 == other.0, "path \(index)")
                #expect(one.1 == other.1, "path \(index): the same body")
                #expect(one.2 == other.2, "path \(index): the same headers")
            }
            // The same work either way: each refused download is a ledger entry.
            let refusals = try await fixture.database.writer.read { db in
                try String.fetchAll(
                    db, sql: "SELECT subject FROM audit WHERE action = 'download' AND outcome = 'denied' AND actorId = ?",
                    arguments: [cast.dermatologist.id])
            }
            #expect(refusals.filter { $0 == "report:\(id)" }.count == refusals.filter { $0 == "report:\(missing)" }.count)
        }
    }

    /// Headers that do not change from one request to the next (no date, request id or cookie).
    static func comparable(_ headers: HTTPFields) -> [String] {
        headers.filter { ![.date, .setCookie].contains($0.name) && $0.name.canonicalName != "x-request-id" }
            .map { "\($0.name.canonicalName): \($0.value)" }.sorted()
    }

    @Test func aReportOverTheLimitIs413AndLeavesNothingBehind() async throws {
        let fixture = try HospitalFixture(maxReportSize: 10_000)
        let cast = try await Cast(fixture)
        try await fixture.app().test(.router) { client in
            try await completedCheckup(client, fixture, doctor: cast.cardiologist, patient: cast.ada)
            let tooLarge = try await upload(client, [UInt8](repeating: 1, count: 10_001), for: cast.ada, by: cast.cardiologist)
            #expect(try tooLarge.status == .contentTooLarge && (errorOf(tooLarge)).code == "too_large")
            #expect(await fixture.store.all().isEmpty)
            #expect(try await fixture.database.writer.read { db in try Report.fetchCount(db) } == 0)
            let exact = try await upload(client, [UInt8](repeating: 1, count: 10_000), for: cast.ada, by: cast.cardiologist)
            #expect(exact.status == .created)
            let badType = try await client.execute(
                uri: "/api/patients/\(cast.ada.id)/reports?title=x", method: .post,
                headers: [.authorization: "Bearer \(cast.cardiologist.token)", .contentType: "not a type"], body: ByteBuffer(bytes: [1]))
            #expect((try errorOf(badType)) == ("invalid_field", "contentType"))
        }
    }

    @Test func aFullDiskIs507AndStoresNoReport() async throws {
        let fixture = try HospitalFixture(chunkSize: 4096, storeCapacity: 10_000)
        let cast = try await Cast(fixture)
        try await fixture.app().test(.router) { client in
            try await completedCheckup(client, fixture, doctor: cast.cardiologist, patient: cast.ada)
            let full = try await upload(client, [UInt8](repeating: 3, count: 20_000), for: cast.ada, by: cast.cardiologist)
            #expect(full.status.code == 507)
            #expect(try errorOf(full).code == "insufficient_storage")
            #expect(try await fixture.database.writer.read { db in try Report.fetchCount(db) } == 0, "no report row")
            let fits = try await upload(client, [UInt8](repeating: 3, count: 1000), for: cast.ada, by: cast.cardiologist)
            #expect(fits.status == .created, "a smaller report still fits")
        }
    }

    @Test(.sqliteSchema) func aTamperedChunkFailsTheDownloadAndTheLedgerSaysSo() async throws {
        let fixture = try HospitalFixture()
        let cast = try await Cast(fixture)
        try await fixture.app().test(.router) { client in
            try await completedCheckup(client, fixture, doctor: cast.cardiologist, patient: cast.ada)
            let created = try await upload(client, [UInt8](repeating: 9, count: 20_000), for: cast.ada, by: cast.cardiologist)
            let id = try #require(try decode(created)["id"] as? Int64)
            for chunk in await fixture.store.all() {
                var bytes = chunk.bytes
                bytes[bytes.count - 1] ^= 1
                await fixture.store.replace(key: chunk.key, bucket: chunk.bucket, with: bytes)
            }
            let response = try? await client.execute(uri: "/api/reports/\(id)/content", method: .get, headers: cast.ada.headers)
            // The status went out before the chain failed: the body is cut short, never the whole announced length.
            #expect((response?.body.readableBytes ?? 0) < 20_000)
        }
        let outcomes = try await fixture.database.writer.read { db in
            try String.fetchAll(db, sql: "SELECT outcome FROM audit WHERE action = 'download' ORDER BY id")
        }
        #expect(outcomes == ["success", "failed"])
    }
}

/// Buffers as a body.
struct ByteBufferSequence: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    var buffers: [ByteBuffer]
    struct AsyncIterator: AsyncIteratorProtocol {
        var buffers: [ByteBuffer]
        mutating func next() async throws -> ByteBuffer? { buffers.isEmpty ? nil : buffers.removeFirst() }
    }
    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(buffers: buffers) }
}

/// Every chain failure has its answer: 507 for a full store, `report_unavailable` for a damaged chain,
/// the server's own failure for a keyring or store it cannot use.
@Suite struct ChainFailureAnswerTests {
    @Test func eachChainErrorMapsToItsAnswer() {
        #expect(HospitalError(ChainError.storeFull("disk")).code.rawValue == "insufficient_storage")
        #expect(HospitalError(ChainError.hashMismatch(index: 1, bucket: .a, key: "k")).code.rawValue == "report_unavailable")
        #expect(HospitalError(ChainError.unknownKeyId("0011")).code.rawValue == "report_unavailable")
        #expect(HospitalError(ChainError.store("reading A:k")).code.rawValue == "internal_error")
        #expect(HospitalError(ChainError.keyring("unreadable")).code.rawValue == "internal_error")
    }
}
