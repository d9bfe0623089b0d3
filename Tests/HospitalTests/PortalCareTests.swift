import ChunkChain
import ChunkChainTesting
import Foundation
import GRDB
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

/// A `multipart/form-data` body as a browser sends it: fields in order, then the file.
func multipartForm(boundary: String, fields: [(String, String)], file: (name: String, type: String, bytes: [UInt8])?) -> ByteBuffer {
    var body = ByteBuffer()
    for (name, value) in fields {
        body.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n")
    }
    if let file {
        body.writeString(
            "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(file.name)\"\r\nContent-Type: \(file.type)\r\n\r\n"
        )
        body.writeBytes(file.bytes)
        body.writeString("\r\n")
    }
    body.writeString("--\(boundary)--\r\n")
    return body
}

@Suite struct PortalCareTests {
    struct People {
        let doctor: Browser
        let patient: Browser
        let doctorId: Int64
    }

    func app(_ fixture: HospitalFixture) throws -> some ApplicationProtocol {
        try buildHospitalApplication(
            configuration: .init(port: 0, portal: .init(timeZone: TimeZone(identifier: "Europe/London")!)), services: fixture.services)
    }

    /// A doctor and a patient, both signed in to the portal.
    func people(_ fixture: HospitalFixture, _ client: some TestClientProtocol) async throws -> People {
        let doctor = try await fixture.accounts.createStaff(
            .init(
                role: .doctor, name: "Dr Carl Heart", email: "heart@example.org", password: "a long doctor password",
                specialization: "Cardiology"))
        let doctorBrowser = Browser()
        let signedIn = try await doctorBrowser.post(client, "/login", ["email": "heart@example.org", "password": "a long doctor password"])
        #expect(signedIn.status == .seeOther)
        let patient = Browser()
        #expect(try await patient.register(client, fixture, portalPatient()).status == .seeOther)
        return People(doctor: doctorBrowser, patient: patient, doctorId: doctor.id!)
    }

    @Test func aPatientBooksWithSymptomsTheDoctorSeesThemAndCompletesAWalkIn() async throws {
        let fixture = try HospitalFixture()
        try await app(fixture).test(.router) { client in
            let people = try await people(fixture, client)
            // The doctor publishes a slot in the current minute, in London time (the fixture's clock is UTC, winter).
            let now = Date(timeIntervalSince1970: TimeInterval(fixture.clock.now))
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "Europe/London")!
            let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: now)
            let date = String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
            let time = String(format: "%02d:%02d", parts.hour!, parts.minute!)
            let published = try await people.doctor.post(
                client, "/calendar/slots", ["date": date, "time": time, "minutes": "30", "repeat": "once"])
            #expect(published.status == .seeOther && published.headers[.location] == "/calendar?date=\(date)&done=published&count=1")
            let slot = try #require(try await fixture.services.scheduling.openSlots(doctorId: people.doctorId).first)
            #expect(slot.slot.startsAt == fixture.clock.now - fixture.clock.now % 60)

            let doctorPage = try await people.patient.get(client, "/doctors/\(people.doctorId)")
            #expect(doctorPage.text.contains("/slots/\(slot.slot.id!)/book"))
            let empty = try await people.patient.post(client, "/slots/\(slot.slot.id!)/book", ["reason": "  "])
            #expect(empty.status == .badRequest && empty.text.contains("Tell the doctor why you come."))
            let booked = try await people.patient.post(client, "/slots/\(slot.slot.id!)/book", ["reason": "Chest <pain>\nsince Monday"])
            #expect(booked.status == .seeOther && booked.headers[.location] == "/appointments?done=booked")
            let appointments = try await people.patient.get(client, "/appointments?done=booked")
            #expect(appointments.text.contains("Your appointment is booked.") && appointments.text.contains("Dr Carl Heart"))
            #expect(appointments.text.contains("Chest &lt;pain&gt;"))

            let calendarPage = try await people.doctor.get(client, "/calendar")
            #expect(calendarPage.text.contains("Ada Patient") && calendarPage.text.contains("Chest &lt;pain&gt;\nsince Monday"))
            #expect(calendarPage.text.contains("<td>41</td>"), "the patient's age (born 1985-04-12, now 2027-01-15)")
            let completed = try await people.doctor.post(client, "/calendar/slots/\(slot.slot.id!)/complete", [:])
            #expect(completed.status == .seeOther)
            #expect(try await people.doctor.get(client, "/calendar").text.contains("/calendar/slots/\(slot.slot.id!)/report"))
            // A second booking of the taken slot is refused on the page, not with a crash.
            let other = Browser()
            _ = try await other.register(client, fixture, portalPatient("bob@example.org", name: "Bob"))
            #expect(try await other.get(client, "/slots/\(slot.slot.id!)/book").status == .notFound)
        }
    }

    @Test func aDoctorCancelsABookedAppointmentFromTheCalendarAndThePatientIsMailed() async throws {
        let fixture = try HospitalFixture()
        try await app(fixture).test(.router) { client in
            let people = try await people(fixture, client)
            _ = try await people.doctor.post(
                client, "/calendar/slots", ["date": "2027-03-22", "time": "09:30", "minutes": "15", "repeat": "once"])
            let slot = try #require(try await fixture.services.scheduling.openSlots(doctorId: people.doctorId).first?.slot.id)
            #expect(
                !(try await people.doctor.get(client, "/calendar?date=2027-03-22").text.contains("/calendar/slots/\(slot)/cancel")),
                "open: withdraw")
            #expect(try await people.patient.post(client, "/slots/\(slot)/book", ["reason": "Palpitations"]).status == .seeOther)
            #expect(
                try await people.doctor.get(client, "/calendar?date=2027-03-22").text.contains("action=\"/calendar/slots/\(slot)/cancel\""))
            #expect(try await people.patient.post(client, "/calendar/slots/\(slot)/cancel", [:]).status == .forbidden)
            let cancelled = try await people.doctor.post(client, "/calendar/slots/\(slot)/cancel", [:])
            #expect(cancelled.headers[.location] == "/calendar?done=appointment_cancelled")
            #expect(
                try await people.doctor.get(client, "/calendar?done=appointment_cancelled").text.contains(
                    "The appointment is cancelled; the patient gets an e-mail."))
            #expect(try await people.patient.get(client, "/appointments").text.contains("Palpitations") == false)
            try await fixture.services.mailQueue().deliverDue()
            #expect(
                fixture.sender.mails.filter { !$0.id.hasPrefix("activate-") }.map(\.subject) == [
                    "Your appointment with Dr Carl Heart is booked", "Dr Carl Heart cancelled your appointment",
                ])
        }
    }

    @Test func onlyTheRightRoleReachesEachPage() async throws {
        let fixture = try HospitalFixture()
        try await app(fixture).test(.router) { client in
            let people = try await people(fixture, client)
            #expect(try await people.patient.get(client, "/calendar").status == .forbidden)
            #expect(try await people.doctor.get(client, "/appointments").status == .forbidden)
            #expect(try await people.patient.post(client, "/calendar/slots", ["date": "2030-01-01", "time": "09:00"]).status == .forbidden)
            #expect(try await Browser().get(client, "/calendar").status == .seeOther)
        }
    }

    @Test func aDoctorPublishesRepeatingSlotsAndBadDatesAreRefusedOnThePage() async throws {
        let fixture = try HospitalFixture()
        try await app(fixture).test(.router) { client in
            let people = try await people(fixture, client)
            let weekly = try await people.doctor.post(
                client, "/calendar/slots", ["date": "2027-03-22", "time": "09:30", "minutes": "15", "repeat": "weekly4"])
            #expect(weekly.headers[.location] == "/calendar?date=2027-03-22&done=published&count=4")
            let starts = try await fixture.services.scheduling.openSlots(doctorId: people.doctorId).map(\.slot.startsAt)
            // 09:30 in London: GMT before 28 March 2027, BST after.
            #expect(
                starts.map { Date(timeIntervalSince1970: TimeInterval($0)).formatted(.iso8601) } == [
                    "2027-03-22T09:30:00Z", "2027-03-29T08:30:00Z", "2027-04-05T08:30:00Z", "2027-04-12T08:30:00Z",
                ])
            // The week of 22 March shows its Monday's slot only; the day view of the 29th, that day's.
            let week = try await people.doctor.get(client, "/calendar?date=2027-03-24")
            #expect(week.text.contains("Monday, 22 March 2027") && week.text.contains("Sunday, 28 March 2027"))
            #expect(week.text.components(separatedBy: "/withdraw\"").count - 1 == 1)
            #expect(week.text.contains("href=\"/calendar?view=week&amp;date=2027-03-29\""), "the next week")
            let day = try await people.doctor.get(client, "/calendar?view=day&date=2027-03-29")
            #expect(day.text.contains("Monday, 29 March 2027") && !day.text.contains("Tuesday, 30 March"))
            #expect(day.text.components(separatedBy: "/withdraw\"").count - 1 == 1)
            let empty = try await people.doctor.get(client, "/calendar?view=day&date=2027-03-30")
            #expect(empty.text.contains("No slots on this day."))
            #expect(try await people.doctor.get(client, "/calendar?date=9999999-99-99").status == .ok, "a bad date is this week")
            for fields in [
                ["date": "2027-02-30", "time": "09:00", "minutes": "15", "repeat": "once"],
                ["date": "tomorrow", "time": "09:00", "minutes": "15", "repeat": "once"],
                ["date": "2027-03-22", "time": "25:00", "minutes": "15", "repeat": "once"],
                ["date": "2027-03-22", "time": "10:00", "minutes": "7", "repeat": "once"],
            ] {
                let refused = try await people.doctor.post(client, "/calendar/slots", fields)
                #expect(refused.status == .badRequest && refused.text.contains("Give a date and a start time."), "\(fields)")
            }
            let overlap = try await people.doctor.post(
                client, "/calendar/slots", ["date": "2027-03-22", "time": "09:35", "minutes": "15", "repeat": "once"])
            #expect(overlap.status == .conflict && overlap.text.contains("overlaps"))
        }
    }

    @Test func aReportUploadedFromTheFormStreamsIntoAChainAndDownloadsIdentical() async throws {
        let fixture = try HospitalFixture(maxReportSize: 1 << 20)
        try await app(fixture).test(.router) { client in
            let people = try await people(fixture, client)
            let slot = try await fixture.services.scheduling.publish(
                doctorId: people.doctorId, startsAt: fixture.clock.now - fixture.clock.now % 60, durationMinutes: 15)
            _ = try await people.patient.post(client, "/slots/\(slot.slot.id!)/book", ["reason": "check"])
            _ = try await people.doctor.post(client, "/calendar/slots/\(slot.slot.id!)/complete", [:])
            let token = try await people.doctor.formToken(client)
            let boundary = "----chainvault\(UUID().uuidString)"
            var pdf = Array("%PDF-1.7\r\n".utf8)
            pdf += (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }  // \r, \n and "--" inside
            pdf += Array("\r\n--\(boundary.dropLast())x\r\n%%EOF".utf8)
            let headers: HTTPFields = [.contentType: "multipart/form-data; boundary=\(boundary)", .origin: "http://localhost"]
            let uri = "/calendar/slots/\(slot.slot.id!)/report"

            let empty = try await people.doctor.send(
                client, uri, method: .post, headers: headers,
                body: multipartForm(
                    boundary: boundary, fields: [("form_token", token), ("title", "")], file: ("x.pdf", "application/pdf", [])))
            #expect(empty.status == .badRequest && empty.text.contains("The file is empty."))
            let forged = try await people.doctor.send(
                client, uri, method: .post, headers: headers,
                body: multipartForm(boundary: boundary, fields: [("form_token", "forged")], file: ("x.pdf", "application/pdf", pdf)))
            #expect(forged.status == .forbidden)
            let tooLarge = try await people.doctor.send(
                client, uri, method: .post, headers: headers,
                body: multipartForm(
                    boundary: boundary, fields: [("form_token", token)],
                    file: ("big.bin", "application/octet-stream", [UInt8](repeating: 1, count: (1 << 20) + 1))))
            #expect(tooLarge.status == .contentTooLarge)
            #expect(try await fixture.services.reports.list(for: Identity(userId: people.doctorId, role: .doctor, name: "")).isEmpty)

            let stored = try await people.doctor.send(
                client, uri, method: .post, headers: headers,
                body: multipartForm(
                    boundary: boundary, fields: [("form_token", token), ("title", "")],
                    file: ("C:\\scans\\Blood test.pdf", "application/pdf", pdf)))
            #expect(stored.status == .seeOther && stored.headers[.location] == "/calendar?done=uploaded")

            let list = try await people.patient.get(client, "/reports")
            #expect(list.text.contains("Blood test.pdf") && list.text.contains("Dr Carl Heart"))
            #expect(list.text.contains("Verified intact Fri, 15 Jan 2027"), "the upload is the first recorded verification")
            let id = try #require(
                try await fixture.services.reports.list(for: Identity(userId: people.doctorId, role: .doctor, name: "")).first?.report.id)
            let download = try await people.patient.get(client, "/reports/\(id)/download")
            #expect(download.status == .ok && Array(download.body.readableBytesView) == pdf)
            #expect(download.headers[.contentType] == "application/pdf")
            #expect(download.headers[.contentDisposition] == "attachment; filename=\"Blood test.pdf\"; filename*=UTF-8''Blood%20test.pdf")
            // Another patient sees neither the report nor its download.
            let other = Browser()
            _ = try await other.register(client, fixture, portalPatient("eve@example.org", name: "Eve"))
            #expect(!(try await other.get(client, "/reports").text.contains("Blood test")))
            #expect(try await other.get(client, "/reports/\(id)/download").status == .notFound)
        }
    }

    @Test func malformedMultipartBodiesAreRefusedAsBadForms() async throws {
        let fixture = try HospitalFixture()
        try await app(fixture).test(.router) { client in
            let people = try await people(fixture, client)
            let slot = try await fixture.services.scheduling.publish(
                doctorId: people.doctorId, startsAt: fixture.clock.now - fixture.clock.now % 60, durationMinutes: 15)
            _ = try await people.patient.post(client, "/slots/\(slot.slot.id!)/book", ["reason": "check"])
            _ = try await people.doctor.post(client, "/calendar/slots/\(slot.slot.id!)/complete", [:])
            let uri = "/calendar/slots/\(slot.slot.id!)/report"
            let token = try await people.doctor.formToken(client)
            let cases: [(String, ByteBuffer)] = [
                // A file that ends before its first byte, after a valid token (FuzzPortal: was a 500).
                (
                    "multipart/form-data; boundary=b",
                    ByteBuffer(
                        string: "--b\r\nContent-Disposition: form-data; name=\"form_token\"\r\n\r\n\(token)\r\n"
                            + "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"r.pdf\"\r\n\r\n")
                ),
                ("multipart/form-data", ByteBuffer(string: "x")),
                ("multipart/form-data; boundary=\(String(repeating: "b", count: 71))", ByteBuffer(string: "x")),
                ("multipart/form-data; boundary=b", ByteBuffer(string: "--b\r\nbad header\r\n\r\n")),
                (
                    "multipart/form-data; boundary=b",
                    ByteBuffer(string: "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated")
                ),
                (
                    "multipart/form-data; boundary=b",
                    ByteBuffer(
                        string: String(repeating: "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n", count: 20) + "--b--")
                ),
            ]
            for (type, body) in cases {
                let response = try await people.doctor.send(
                    client, uri, method: .post, headers: [.contentType: type, .origin: "http://localhost"], body: body)
                #expect([.badRequest, .contentTooLarge, .forbidden].contains(response.status), "\(type) \(response.status)")
            }
        }
    }
}

@Suite struct ReportVerificationRecordTests {
    @Test func aRecordedVerificationMarksReportsIntactOrDamaged() async throws {
        let fixture = try HospitalFixture()
        let doctor = try await fixture.accounts.createStaff(
            .init(role: .doctor, name: "Dr A", email: "a@example.org", password: "a long doctor password", specialization: "Cardiology"))
        let patient = try await fixture.accounts.registerPatient(
            .init(name: "Ada", email: "ada@example.org", password: "correct horse battery", dateOfBirth: "1985-04-12", phone: "0123456789"))
        let slot = try await fixture.services.scheduling.publish(
            doctorId: doctor.id!, startsAt: fixture.clock.now - fixture.clock.now % 60, durationMinutes: 15)
        _ = try await fixture.services.scheduling.book(slotId: slot.slot.id!, patientId: patient.id!)
        _ = try await fixture.services.scheduling.complete(slotId: slot.slot.id!, doctorId: doctor.id!)
        let listing = try await fixture.services.reports.upload(
            .init(patientId: patient.id!, title: "ECG", contentType: "application/pdf", declaredLength: nil),
            body: [ByteBuffer(string: "%PDF")].async, by: Identity(userId: doctor.id!, role: .doctor, name: "Dr A"))
        #expect(listing.report.verifiedAt == fixture.clock.now && listing.report.damagedAt == nil)
        try await Report.recordVerification(
            [listing.report.head: false, "A:" + String(repeating: "0", count: 64): true], at: 5, in: fixture.storage)
        let damaged = try await fixture.services.reports.report(
            listing.report.id!, for: Identity(userId: patient.id!, role: .patient, name: ""))
        #expect(damaged.report.damagedAt == 5 && damaged.report.verifiedAt == fixture.clock.now)
        try await Report.recordVerification([listing.report.head: true], at: 9, in: fixture.storage)
        let repaired = try await fixture.services.reports.report(
            listing.report.id!, for: Identity(userId: patient.id!, role: .patient, name: ""))
        #expect(repaired.report.damagedAt == nil && repaired.report.verifiedAt == 9)
    }
}

@Suite struct ReportVerifierTests {
    /// A report of `size` bytes by a new doctor for a new patient.
    func report(_ fixture: HospitalFixture, _ n: Int, size: Int = 10_000) async throws -> ReportListing {
        let doctor = try await fixture.accounts.createStaff(
            .init(role: .doctor, name: "Dr \(n)", email: "d\(n)@example.org", password: "a long doctor password", specialization: "X"))
        let patient = try await fixture.accounts.registerPatient(
            .init(
                name: "P \(n)", email: "p\(n)@example.org", password: "correct horse battery", dateOfBirth: "1985-04-12",
                phone: "0123456789"))
        let slot = try await fixture.services.scheduling.publish(
            doctorId: doctor.id!, startsAt: fixture.clock.now - fixture.clock.now % 60, durationMinutes: 15)
        _ = try await fixture.services.scheduling.book(slotId: slot.slot.id!, patientId: patient.id!)
        _ = try await fixture.services.scheduling.complete(slotId: slot.slot.id!, doctorId: doctor.id!)
        return try await fixture.services.reports.upload(
            .init(patientId: patient.id!, title: "ECG", contentType: "application/pdf", declaredLength: nil),
            body: [ByteBuffer(bytes: [UInt8](repeating: UInt8(n), count: size))].async,
            by: Identity(userId: doctor.id!, role: .doctor, name: ""))
    }

    func marks(_ fixture: HospitalFixture) async throws -> [[Int64?]] {
        try await fixture.database.read { db in
            try Row.fetchAll(db, sql: "SELECT verifiedAt, damagedAt FROM report ORDER BY id").map { [$0[0], $0[1]] }
        }
    }

    @Test(.sqliteSchema) func theServerVerifiesEachReportAgainOnceItsLastVerificationIsOldAndRecordsDamage() async throws {
        let fixture = try HospitalFixture()
        let uploaded = fixture.clock.now
        _ = try await report(fixture, 1)
        let second = try await report(fixture, 2)
        let verifier = fixture.services.reportVerifier(interval: .seconds(86400))
        #expect(try await verifier.verifyDue() == 0, "verified at upload")
        // One chunk (not a head) of one of the two reports is damaged on disk.
        let chunk = try #require(
            await fixture.store.all().first { $0.key != second.report.head.split(separator: ":").last.map(String.init) })
        var bytes = chunk.bytes
        bytes[bytes.count - 1] ^= 0xFF
        await fixture.store.replace(key: chunk.key, bucket: chunk.bucket, with: bytes)
        fixture.clock.advance(by: 86400)
        #expect(try await verifier.verifyDue() == 2)
        let now = fixture.clock.now
        let found = try await marks(fixture)
        #expect(found.filter { $0 == [now, nil] }.count == 1, "one intact, verified again")
        #expect(found.filter { $0 == [uploaded, now] }.count == 1, "one damaged: its last intact verification stays, with the damage")
        #expect(try await verifier.verifyDue() == 0, "nothing due until the interval passes again")
    }
}
