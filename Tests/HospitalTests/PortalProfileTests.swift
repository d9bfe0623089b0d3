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

@Suite struct PortalProfileTests {
    func app(_ fixture: HospitalFixture) throws -> some ApplicationProtocol {
        try buildHospitalApplication(
            configuration: .init(port: 0, portal: .init(timeZone: TimeZone(identifier: "UTC")!)), services: fixture.services)
    }

    @Test func timesAreShownInThePersonsZone() async throws {
        let fixture = try HospitalFixture()
        let doctor = try await fixture.accounts.createStaff(
            .init(
                role: .doctor, name: "Dr Zone", email: "zone@example.org", password: "a long doctor password", specialization: "Cardiology")
        )
        // 2027-01-15 08:00 UTC (the fixture's clock is 2027-01-15 08:00:00 UTC).
        let start = fixture.clock.now + 3600
        _ = try await fixture.services.scheduling.publish(doctorId: doctor.id!, startsAt: start, durationMinutes: 30)
        try await app(fixture).test(.router) { client in
            let ada = Browser()
            _ = try await ada.register(client, fixture, portalPatient())
            let page = try await ada.get(client, "/doctors/\(doctor.id!)").text
            #expect(page.contains("15 Jan 2027 at 9:00"), "\(page)")
            let saved = try await ada.post(client, "/profile", ["phone": "+44 20 7946 0001", "time_zone": "Asia/Tehran"])
            #expect(saved.headers[.location] == "/profile?done=saved")
            #expect(try await ada.get(client, "/doctors/\(doctor.id!)").text.contains("15 Jan 2027 at 12:30"), "Tehran is UTC+3:30")
            let bad = try await ada.post(client, "/profile", ["phone": "+44", "time_zone": "Mars/Olympus"])
            #expect(bad.status == .badRequest)
        }
    }

    /// Issue 27, item 6: a doctor changes their specialization and public description; the public page and
    /// the API show them, and the change is a ledger entry.
    @Test func aDoctorEditsWhatTheirPublicPageSays() async throws {
        let fixture = try HospitalFixture()
        let doctor = try await fixture.accounts.createStaff(
            .init(
                role: .doctor, name: "Dr Carla Heart", email: "carla@example.org", password: "a long doctor password",
                specialization: "Cardiology")
        )
        try await app(fixture).test(.router) { client in
            let carla = Browser()
            _ = try await carla.post(client, "/login", ["email": "carla@example.org", "password": "a long doctor password"])
            let profile = try await carla.get(client, "/profile")
            #expect(profile.text.contains("name=\"specialization\"") && profile.text.contains("name=\"about\""))
            let about = "FMH cardiology, 15 years.\nSpeaks English, Deutsch, Français.\nClinic: +41 44 000 00 00"
            let saved = try await carla.post(
                client, "/profile", ["specialization": "Paediatric Cardiology", "about": about, "time_zone": ""])
            #expect(saved.headers[.location] == "/profile?done=saved")
            let page = try await Browser().get(client, "/doctors/\(doctor.id!)").text
            #expect(page.contains("Paediatric Cardiology") && page.contains("Speaks English, Deutsch, Français."))
            let details = try decode(try await client.execute(uri: "/api/doctors/\(doctor.id!)", method: .get))
            #expect(details["about"] as? String == about && details["specialization"] as? String == "Paediatric Cardiology")
            let bad = try await carla.post(
                client, "/profile", ["specialization": "Cardiology", "about": String(repeating: "x", count: 601), "time_zone": ""])
            #expect(bad.status == .badRequest)
            // A patient's form cannot set a doctor's fields.
            let ada = Browser()
            _ = try await ada.register(client, fixture, portalPatient())
            _ = try await ada.post(client, "/profile", ["specialization": "Fake", "about": "x", "time_zone": ""])
        }
        let entries = try await fixture.ledgerEntries().filter { $0.action == .profileChanged && $0.actorId == doctor.id! }.map(\.detail)
        #expect(entries == ["specialization, about"])
        let patients = try await fixture.storage.read {
            try await $0.accounts.users(containing: "", role: .patient, status: nil, limit: 100)
        }
        #expect(!patients.isEmpty && patients.allSatisfy { $0.specialization == nil && $0.about == nil })
    }

    @Test func changingThePasswordEndsEverySessionAndKeepsThisBrowserSignedIn() async throws {
        let fixture = try HospitalFixture()
        try await app(fixture).test(.router) { client in
            let laptop = Browser()
            _ = try await laptop.register(client, fixture, portalPatient())
            let phone = Browser()
            _ = try await phone.post(client, "/login", ["email": "ada@example.org", "password": "correct horse battery"])
            let token = try await fixture.login(client, "ada@example.org", "correct horse battery")

            let wrong = try await laptop.post(client, "/profile/password", ["current": "not it at all", "new": "a brand new passphrase"])
            #expect(wrong.status == .unauthorized && wrong.text.contains("The e-mail address or the password is wrong."))
            let weak = try await laptop.post(client, "/profile/password", ["current": "correct horse battery", "new": "short"])
            #expect(weak.status == .badRequest)
            let changed = try await laptop.post(
                client, "/profile/password", ["current": "correct horse battery", "new": "a brand new passphrase"])
            #expect(changed.headers[.location] == "/profile?done=password")
            #expect(try await laptop.get(client, "/dashboard").status == .ok, "this browser got a new session")
            #expect(try await phone.get(client, "/dashboard").status == .seeOther, "the other ended")
            #expect(try await client.execute(uri: "/api/me", method: .get, headers: .bearer(token)).status == .unauthorized)
            let old = try await Browser().post(client, "/login", ["email": "ada@example.org", "password": "correct horse battery"])
            #expect(old.status == .unauthorized)

            #expect(try await laptop.post(client, "/profile/sessions/end", [:]).headers[.location] == "/login?signed_out=1")
            #expect(try await laptop.get(client, "/dashboard").status == .seeOther)
        }
    }
}

@Suite struct DataExportTests {
    /// The files of a ustar archive, by name; checks every header's checksum.
    func files(_ archive: [UInt8]) throws -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        var offset = 0
        while offset + 512 <= archive.count {
            let header = Array(archive[offset..<(offset + 512)])
            if header.allSatisfy({ $0 == 0 }) { break }
            let name = String(decoding: header[0..<100].prefix { $0 != 0 }, as: UTF8.self)
            let size = try #require(Int(String(decoding: header[124..<135], as: UTF8.self), radix: 8))
            let stored = try #require(Int(String(decoding: header[148..<154], as: UTF8.self), radix: 8))
            var blank = header
            blank.replaceSubrange(148..<156, with: Array("        ".utf8))
            #expect(blank.reduce(0) { $0 + Int($1) } == stored, "checksum of \(name)")
            #expect(String(decoding: header[257..<262], as: UTF8.self) == "ustar")
            files[name] = Array(archive[(offset + 512)..<(offset + 512 + size)])
            offset += 512 + (size + 511) / 512 * 512
        }
        return files
    }

    @Test func aPatientDownloadsEveryReportAppointmentAndLedgerEntryInOneArchive() async throws {
        let fixture = try HospitalFixture()
        let cast = try await ConsentCast(fixture, title: "ECG ../../etc/passwd", bytes: "%PDF report bytes")
        try await buildHospitalApplication(configuration: .init(port: 0), services: fixture.services).test(.router) { client in
            let ada = Browser()
            _ = try await ada.post(client, "/login", ["email": "ada@example.org", "password": "correct horse battery"])
            // N13: the export writes a ledger entry, so it is a POST with the form token; a link cannot start it.
            #expect(try await ada.get(client, "/profile/export").status == .methodNotAllowed)
            #expect(try await ada.post(client, "/profile/export", [:], token: "forged").status == .forbidden)
            let response = try await ada.post(client, "/profile/export", [:])
            #expect(response.status == .ok && response.headers[.contentType] == "application/x-tar")
            let archive = Array(response.body.readableBytesView)
            #expect(response.headers[.contentLength] == String(archive.count) && archive.count % 512 == 0)
            let files = try files(archive)
            let report = try #require(files["my-data/reports/\(cast.report.report.id!)-ECG .._.._etc_passwd.pdf"])
            #expect(String(decoding: report, as: UTF8.self) == "%PDF report bytes")
            let appointments = String(decoding: try #require(files["my-data/appointments.json"]), as: UTF8.self)
            #expect(appointments.contains("Dr Sam Second") && appointments.contains("follow-up"))
            let ledger = String(decoding: try #require(files["my-data/ledger.json"]), as: UTF8.self)
            #expect(ledger.contains("data_exported") && ledger.contains("\"download\""))
            #expect(String(decoding: try #require(files["my-data/profile.json"]), as: UTF8.self).contains("1985-04-12"))
            // Doctors have no such archive.
            let doctor = Browser()
            _ = try await doctor.post(client, "/login", ["email": "sam@example.org", "password": "a long doctor password"])
            #expect(try await doctor.post(client, "/profile/export", [:]).status == .forbidden)
        }
    }
}
