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

/// A report by Dr Ann Author on Ada after a completed checkup, and Dr Sam Second with a booked
/// appointment with Ada (so that he may ask for it).
struct ConsentCast {
    let patient: User
    let report: ReportListing

    init(_ fixture: HospitalFixture, title: String, bytes: String) async throws {
        let accounts = fixture.accounts
        let author = try await accounts.createStaff(
            .init(
                role: .doctor, name: "Dr Ann Author", email: "ann@example.org", password: "a long doctor password",
                specialization: "Cardiology"))
        let second = try await accounts.createStaff(
            .init(
                role: .doctor, name: "Dr Sam Second", email: "sam@example.org", password: "a long doctor password",
                specialization: "Neurology"))
        patient = try await accounts.registerPatient(
            .init(
                name: "Ada Patient", email: "ada@example.org", password: "correct horse battery", dateOfBirth: "1985-04-12",
                phone: "+44 20 7946 0000"))
        let scheduling = fixture.services.scheduling
        let now = fixture.clock.now - fixture.clock.now % 60
        let first = try await scheduling.publish(doctorId: author.id!, startsAt: now, durationMinutes: 15)
        _ = try await scheduling.book(slotId: first.slot.id!, patientId: patient.id!, reason: "check")
        _ = try await scheduling.complete(slotId: first.slot.id!, doctorId: author.id!)
        report = try await fixture.services.reports.upload(
            .init(patientId: patient.id!, title: title, contentType: "application/pdf", declaredLength: nil),
            body: [ByteBuffer(string: bytes)].async, by: Identity(userId: author.id!, role: .doctor, name: "Dr Ann Author"))
        let later = try await scheduling.publish(doctorId: second.id!, startsAt: now + 3600, durationMinutes: 15)
        _ = try await scheduling.book(slotId: later.slot.id!, patientId: patient.id!, reason: "follow-up")
    }
}

@Suite struct PortalConsentTests {
    /// A report of Dr Ann Author's about Ada, Dr Sam Second with an appointment with Ada, and Dr Olga
    /// Outside without one: each signed in to the portal in their own browser.
    struct Scene {
        let fixture: HospitalFixture
        let cast: ConsentCast
        let doctor = Browser()
        let ada = Browser()
        let stranger = Browser()
        var reportId: Int64 { cast.report.report.id! }

        init() async throws {
            fixture = try HospitalFixture()
            cast = try await ConsentCast(fixture, title: "ECG <12 lead>", bytes: "%PDF report bytes")
            _ = try await fixture.accounts.createStaff(
                .init(
                    role: .doctor, name: "Dr Olga Outside", email: "olga@example.org", password: "a long doctor password",
                    specialization: "Dermatology"))
        }

        /// Runs `body` against the portal once the three have signed in.
        func run(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
            try await buildHospitalApplication(configuration: .init(port: 0), services: fixture.services).test(.router) { client in
                _ = try await doctor.post(client, "/login", ["email": "sam@example.org", "password": "a long doctor password"])
                _ = try await ada.post(client, "/login", ["email": "ada@example.org", "password": "correct horse battery"])
                _ = try await stranger.post(client, "/login", ["email": "olga@example.org", "password": "a long doctor password"])
                try await body(client)
            }
        }

        /// The doctor asks for the report: the code page's path (without its query).
        func ask(_ client: some TestClientProtocol) async throws -> String {
            let asked = try await doctor.post(client, "/access/reports/\(reportId)/request", [:])
            let codePage = try #require(asked.headers[.location])
            #expect(codePage.hasPrefix("/access/requests/"))
            return String(codePage.prefix { $0 != "?" })
        }
    }

    @Test func onlyADoctorWithAnAppointmentSeesTheTitleAndMayAskThePatient() async throws {
        let scene = try await Scene()
        try await scene.run { client in
            let access = try await scene.doctor.get(client, "/access")
            #expect(
                access.text.contains("ECG &lt;12 lead&gt;") && access.text.contains("Dr Ann Author") && access.text.contains("Ada Patient"))
            #expect(!(try await scene.stranger.get(client, "/access").text.contains("ECG")))
            #expect(try await scene.stranger.post(client, "/access/reports/\(scene.reportId)/request", [:]).status == .notFound)
            #expect(try await scene.doctor.get(client, "/reports/\(scene.reportId)/download").status == .forbidden)
            _ = try await scene.ask(client)
            let consent = try await scene.ada.get(client, "/consent")
            #expect(
                consent.text.contains("Dr Sam Second") && consent.text.contains("Neurology") && consent.text.contains("ECG &lt;12 lead&gt;")
            )
            #expect(try await scene.ada.get(client, "/dashboard").text.contains("<span class=\"badge\">1</span>"))
        }
    }

    @Test func fiveWrongCodesCloseTheRequest() async throws {
        let scene = try await Scene()
        try await scene.run { client in
            let path = try await scene.ask(client)
            let code = try #require(scene.fixture.sender.messages.last?.code)
            for attempt in 1...5 {
                let wrong = try await scene.doctor.post(client, path, ["code": code == "00000000" ? "11111111" : "00000000"])
                #expect(wrong.status == .forbidden, "attempt \(attempt)")
                if attempt == 4 { #expect(wrong.text.contains("1 attempts left")) }
            }
            #expect(try await scene.doctor.get(client, path).text.contains("This request is closed"))
            #expect(try await scene.doctor.post(client, path, ["code": code]).status == .conflict)
        }
    }

    @Test func theRightCodeOpensTheReportUntilThePatientRevokesAndTheHistoryShowsItAll() async throws {
        let scene = try await Scene()
        try await scene.run { client in
            let path = try await scene.ask(client)
            let code = try #require(scene.fixture.sender.messages.last?.code)
            let refused = try await scene.doctor.post(client, path, ["code": code == "00000000" ? "11111111" : "00000000"])
            #expect(refused.status == .forbidden)
            let granted = try await scene.doctor.post(client, path, ["code": code])
            #expect(granted.status == .seeOther && granted.headers[.location] == "/access?done=granted")
            let readable = try await scene.doctor.get(client, "/access?done=granted")
            #expect(readable.text.contains("/reports/\(scene.reportId)/download") && readable.text.contains("60 min"))
            let download = try await scene.doctor.get(client, "/reports/\(scene.reportId)/download")
            #expect(download.status == .ok && String(buffer: download.body) == "%PDF report bytes")

            let shared = try await scene.ada.get(client, "/consent")
            let patient = Identity(userId: scene.cast.patient.id!, role: .patient, name: "")
            let grantId = try #require(try await scene.fixture.services.consent.grants(for: patient).first?.record.id)
            #expect(shared.text.contains("/consent/grants/\(grantId)/revoke"))
            #expect(
                try await scene.ada.post(client, "/consent/grants/\(grantId)/revoke", [:]).headers[.location] == "/consent?done=revoked")
            #expect(try await scene.doctor.get(client, "/reports/\(scene.reportId)/download").status == .forbidden)

            let history = try await scene.ada.get(client, "/history")
            for text in [
                "Dr Sam Second", "Report titles listed", "Access requested", "Code entered", "refused", "Access granted",
                "Report downloaded", "Access revoked", "ECG &lt;12 lead&gt;", "you",
            ] {
                #expect(history.text.contains(text), "\(text)")
            }
            #expect(!history.text.contains(code))
            let downloads = try await scene.ada.get(client, "/history?action=download")
            #expect(downloads.text.contains("<td>Report downloaded</td>") && !downloads.text.contains("<td>Access requested</td>"))
        }
    }

    @Test func thePatientDeniesARequestAndTheCodeNoLongerWorks() async throws {
        let fixture = try HospitalFixture()
        let report = try await ConsentCast(fixture, title: "X-ray", bytes: "png").report
        try await buildHospitalApplication(configuration: .init(port: 0), services: fixture.services).test(.router) { client in
            let doctor = Browser()
            _ = try await doctor.post(client, "/login", ["email": "sam@example.org", "password": "a long doctor password"])
            let ada = Browser()
            _ = try await ada.post(client, "/login", ["email": "ada@example.org", "password": "correct horse battery"])
            let asked = try #require(try await doctor.post(client, "/access/reports/\(report.report.id!)/request", [:]).headers[.location])
            let code = try #require(fixture.sender.messages.last?.code)
            let requestId = try #require(fixture.sender.messages.last?.requestId)
            #expect(try await ada.post(client, "/consent/requests/\(requestId)/deny", [:]).headers[.location] == "/consent?done=denied")
            let refused = try await doctor.post(client, String(asked.prefix { $0 != "?" }), ["code": code])
            #expect(refused.status == .conflict && refused.text.contains("This request is closed: denied by the patient."))
            // Another patient cannot deny or revoke what is not theirs.
            let eve = Browser()
            _ = try await eve.register(client, fixture, portalPatient("eve@example.org", name: "Eve"))
            #expect(try await eve.post(client, "/consent/requests/\(requestId)/deny", [:]).status == .notFound)
        }
    }
}

extension Array where Element == ByteBuffer {
    /// The buffers as an async sequence (a test's request body).
    var async: AsyncStream<ByteBuffer> {
        let buffers = self
        return AsyncStream { continuation in
            for buffer in buffers { continuation.yield(buffer) }
            continuation.finish()
        }
    }
}
