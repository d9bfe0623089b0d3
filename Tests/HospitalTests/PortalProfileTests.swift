import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import Hospital

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
            _ = try await ada.post(client, "/register", portalPatient())
            let page = try await ada.get(client, "/doctors/\(doctor.id!)").text
            #expect(page.contains("15 Jan 2027 at 9:00"), "\(page)")
            let saved = try await ada.post(client, "/profile", ["phone": "+44 20 7946 0001", "time_zone": "Asia/Tehran"])
            #expect(saved.headers[.location] == "/profile?done=saved")
            #expect(try await ada.get(client, "/doctors/\(doctor.id!)").text.contains("15 Jan 2027 at 12:30"), "Tehran is UTC+3:30")
            let bad = try await ada.post(client, "/profile", ["phone": "+44", "time_zone": "Mars/Olympus"])
            #expect(bad.status == .badRequest)
        }
    }

    @Test func changingThePasswordEndsEverySessionAndKeepsThisBrowserSignedIn() async throws {
        let fixture = try HospitalFixture()
        try await app(fixture).test(.router) { client in
            let laptop = Browser()
            _ = try await laptop.post(client, "/register", portalPatient())
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
