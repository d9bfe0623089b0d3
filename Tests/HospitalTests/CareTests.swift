import ChunkChain
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

/// The people of a test: an admin, two doctors, two patients, each logged in.
struct Cast {
    struct Person {
        var id: Int64
        var token: String
        var headers: HTTPFields { .bearer(token) }
    }

    let admin: Person
    let cardiologist: Person
    let dermatologist: Person
    let ada: Person
    let bob: Person

    init(_ fixture: HospitalFixture) async throws {
        let accounts = fixture.accounts
        let password = "correct horse battery"
        func staff(_ role: Role, _ name: String, _ email: String, _ specialization: String?) async throws -> Person {
            let user = try await accounts.createStaff(
                .init(role: role, name: name, email: email, password: password, specialization: specialization))
            return Person(id: user.id!, token: try await accounts.login(email: email, password: password, client: "test").token)
        }
        func patient(_ name: String, _ email: String) async throws -> Person {
            let user = try await accounts.registerPatient(
                .init(name: name, email: email, password: password, dateOfBirth: "1985-04-12", phone: "+44 20 7946 0000"))
            return Person(id: user.id!, token: try await accounts.login(email: email, password: password, client: "test").token)
        }
        admin = try await staff(.admin, "Ann Admin", "admin@example.org", nil)
        cardiologist = try await staff(.doctor, "Carl Heart", "carl@example.org", "Interventional Cardiology")
        dermatologist = try await staff(.doctor, "Dora Skin", "dora@example.org", "Dermatology")
        ada = try await patient("Ada Patient", "ada@example.org")
        bob = try await patient("Bob Patient", "bob@example.org")
    }
}

/// An RFC 3339 time `seconds` after the fixture clock's now.
func time(_ fixture: HospitalFixture, plus seconds: Int64) -> String {
    ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(fixture.clock.now + seconds)))
}

func decodeList(_ response: TestResponse) throws -> [[String: Any]] {
    try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [[String: Any]] ?? []
}

/// Publishes a slot an hour ahead, books it for `patient`, moves the clock past its start and completes it.
/// - Returns: The slot id.
@discardableResult
func completedCheckup(
    _ client: some TestClientProtocol, _ fixture: HospitalFixture, doctor: Cast.Person, patient: Cast.Person
) async throws -> Int64 {
    let slot = try await bookedAppointment(client, fixture, doctor: doctor, patient: patient, startingIn: 3600)
    fixture.clock.advance(by: 3600)
    let completed = try await client.execute(uri: "/api/slots/\(slot)/completion", method: .post, headers: doctor.headers)
    #expect(completed.status == .ok)
    return slot
}

/// The patient books a slot the doctor published (an appointment that is not yet a checkup).
@discardableResult
func bookedAppointment(
    _ client: some TestClientProtocol, _ fixture: HospitalFixture, doctor: Cast.Person, patient: Cast.Person, startingIn: Int64 = 7200
) async throws -> Int64 {
    let published = try await client.execute(
        uri: "/api/slots", method: .post, headers: doctor.headers,
        body: json(["startsAt": time(fixture, plus: startingIn), "durationMinutes": 20]))
    #expect(published.status == .created)
    let slot = try #require(try decode(published)["id"] as? Int64)
    let booked = try await client.execute(uri: "/api/slots/\(slot)/booking", method: .post, headers: patient.headers)
    #expect(booked.status == .ok)
    return slot
}

@Suite struct CareTests {
    @Test func doctorsAreFoundByAnyPartOfTheirSpecializationWhateverTheCase() async throws {
        let fixture = try HospitalFixture()
        _ = try await Cast(fixture)
        try await fixture.app().test(.router) { client in
            let cardio = try decodeList(try await client.execute(uri: "/api/doctors?specialization=CARDIO", method: .get))
            #expect(cardio.map { $0["name"] as? String } == ["Carl Heart"])
            #expect(cardio.first?["email"] == nil)
            let all = try decodeList(try await client.execute(uri: "/api/doctors", method: .get))
            #expect(all.count == 2)
            // LIKE wildcards are literal.
            let wildcard = try decodeList(try await client.execute(uri: "/api/doctors?specialization=%25", method: .get))
            #expect(wildcard.isEmpty)
        }
    }

    /// Publishes a 30-minute slot of the cardiologist starting in an hour.
    func publishedSlot(_ client: some TestClientProtocol, _ fixture: HospitalFixture, _ cast: Cast) async throws -> Int64 {
        let published = try await client.execute(
            uri: "/api/slots", method: .post, headers: cast.cardiologist.headers,
            body: json(["startsAt": time(fixture, plus: 3600), "durationMinutes": 30]))
        #expect(published.status == .created)
        return try #require(try decode(published)["id"] as? Int64)
    }

    @Test func publishingRefusesThePastTooShortNotATimeOverlapsAndPatients() async throws {
        let fixture = try HospitalFixture()
        let cast = try await Cast(fixture)
        try await fixture.app().test(.router) { client in
            let past = try await client.execute(
                uri: "/api/slots", method: .post, headers: cast.cardiologist.headers,
                body: json(["startsAt": time(fixture, plus: -60), "durationMinutes": 20]))
            #expect(try past.status == .badRequest && (errorOf(past)) == ("invalid_field", "startsAt"))
            let short = try await client.execute(
                uri: "/api/slots", method: .post, headers: cast.cardiologist.headers,
                body: json(["startsAt": time(fixture, plus: 3600), "durationMinutes": 1]))
            #expect((try errorOf(short)) == ("invalid_field", "durationMinutes"))
            let notATime = try await client.execute(
                uri: "/api/slots", method: .post, headers: cast.cardiologist.headers,
                body: json(["startsAt": "tomorrow", "durationMinutes": 20]))
            #expect((try errorOf(notATime)) == ("invalid_field", "startsAt"))
            let byPatient = try await client.execute(
                uri: "/api/slots", method: .post, headers: cast.ada.headers,
                body: json(["startsAt": time(fixture, plus: 3600), "durationMinutes": 20]))
            #expect(byPatient.status == .forbidden)
            _ = try await publishedSlot(client, fixture, cast)
            let overlapping = try await client.execute(
                uri: "/api/slots", method: .post, headers: cast.cardiologist.headers,
                body: json(["startsAt": time(fixture, plus: 3600 + 600), "durationMinutes": 30]))
            #expect(try overlapping.status == .conflict && (errorOf(overlapping)).code == "slot_overlaps")
        }
    }

    @Test func anOpenSlotIsBookedOnceAndEachRefusalIsNamed() async throws {
        let fixture = try HospitalFixture()
        let cast = try await Cast(fixture)
        try await fixture.app().test(.router) { client in
            let slot = try await publishedSlot(client, fixture, cast)
            let open = try decodeList(
                try await client.execute(uri: "/api/doctors/\(cast.cardiologist.id)/slots", method: .get, headers: cast.bob.headers))
            #expect(open.map { $0["id"] as? Int64 } == [slot] && open.first?["patientName"] == nil)
            #expect(try await client.execute(uri: "/api/slots/\(slot)/booking", method: .post, headers: cast.ada.headers).status == .ok)
            let taken = try await client.execute(uri: "/api/slots/\(slot)/booking", method: .post, headers: cast.bob.headers)
            #expect(try taken.status == .conflict && (errorOf(taken)).code == "slot_taken")
            let missing = try await client.execute(uri: "/api/slots/9999/booking", method: .post, headers: cast.bob.headers)
            #expect(missing.status == .notFound)
            let badId = try await client.execute(uri: "/api/slots/abc/booking", method: .post, headers: cast.bob.headers)
            #expect(try badId.status == .badRequest && (errorOf(badId)) == ("invalid_field", "id"))
        }
    }

    @Test func onlyThePatientWhoBookedCancelsBeforeTheStartAndMayBookAgain() async throws {
        let fixture = try HospitalFixture()
        let cast = try await Cast(fixture)
        try await fixture.app().test(.router) { client in
            let slot = try await publishedSlot(client, fixture, cast)
            #expect(try await client.execute(uri: "/api/slots/\(slot)/booking", method: .post, headers: cast.ada.headers).status == .ok)
            // Bob cannot cancel Ada's booking (404, as if there were none); Ada can, and books again.
            #expect(
                try await client.execute(uri: "/api/slots/\(slot)/booking", method: .delete, headers: cast.bob.headers).status == .notFound)
            #expect(
                try await client.execute(uri: "/api/slots/\(slot)/booking", method: .delete, headers: cast.ada.headers).status == .noContent
            )
            #expect(try await client.execute(uri: "/api/slots/\(slot)/booking", method: .post, headers: cast.ada.headers).status == .ok)
            fixture.clock.advance(by: 3600)
            let lateBooking = try await client.execute(uri: "/api/slots/\(slot)/booking", method: .delete, headers: cast.ada.headers)
            #expect((try errorOf(lateBooking)).code == "slot_in_past")
        }
    }

    /// `serve`'s test-only scheduling offset moves what "now" is to slots, and nothing else: a slot is
    /// published by the real clock (a minute ahead is the future), has started on the scheduling clock
    /// (two minutes ahead) and completes at once; its notice is still due by the real clock.
    @Test(.sqliteSchema) func theSchedulingOffsetMovesOnlyWhetherASlotStarted() async throws {
        let fixture = try HospitalFixture(schedulingOffset: 120)
        let cast = try await Cast(fixture)
        let scheduling = fixture.services.scheduling
        let now = fixture.clock.now
        await #expect(throws: HospitalError.self) {
            _ = try await scheduling.publish(doctorId: cast.cardiologist.id, startsAt: now - now % 60 - 60, durationMinutes: 15)
        }
        let slot = try await scheduling.publish(doctorId: cast.cardiologist.id, startsAt: now + 60, durationMinutes: 15).slot
        _ = try await scheduling.book(slotId: slot.id!, patientId: cast.ada.id, reason: "Chest pain")
        // The booking's e-mail is due now by the real clock, which the mail queue reads.
        let due = try await fixture.database.writer.read { db in
            try Int64.fetchAll(db, sql: "SELECT nextAttemptAt FROM mailQueue WHERE kind = 'booked'")
        }
        #expect(due == [now])
        #expect(try await scheduling.complete(slotId: slot.id!, doctorId: cast.cardiologist.id).slot.status == .completed)
        // Without the offset the same slot has not started.
        let plain = try HospitalFixture()
        let doctors = try await Cast(plain)
        let later = try await plain.services.scheduling.publish(
            doctorId: doctors.cardiologist.id, startsAt: plain.clock.now + 60, durationMinutes: 15
        ).slot
        _ = try await plain.services.scheduling.book(slotId: later.id!, patientId: doctors.ada.id, reason: "Chest pain")
        await #expect(throws: HospitalError.self) {
            _ = try await plain.services.scheduling.complete(slotId: later.id!, doctorId: doctors.cardiologist.id)
        }
    }

    @Test func aCheckupIsCompletedByItsOwnDoctorOnceItStarted() async throws {
        let fixture = try HospitalFixture()
        let cast = try await Cast(fixture)
        try await fixture.app().test(.router) { client in
            let slot = try await publishedSlot(client, fixture, cast)
            #expect(try await client.execute(uri: "/api/slots/\(slot)/booking", method: .post, headers: cast.ada.headers).status == .ok)
            // The doctor's calendar names the patient; completion waits for the slot to start; another doctor gets 404.
            let calendar = try decodeList(try await client.execute(uri: "/api/slots", method: .get, headers: cast.cardiologist.headers))
            #expect(calendar.first?["patientName"] as? String == "Ada Patient" && calendar.first?["status"] as? String == "booked")
            let early = try await client.execute(uri: "/api/slots/\(slot)/completion", method: .post, headers: cast.cardiologist.headers)
            #expect(try early.status == .conflict && (errorOf(early)).code == "checkup_not_started")
            fixture.clock.advance(by: 3600)
            let foreign = try await client.execute(uri: "/api/slots/\(slot)/completion", method: .post, headers: cast.dermatologist.headers)
            #expect(foreign.status == .notFound)
            let done = try await client.execute(uri: "/api/slots/\(slot)/completion", method: .post, headers: cast.cardiologist.headers)
            #expect(try done.status == .ok && (decode(done))["status"] as? String == "completed")
            let mine = try decodeList(try await client.execute(uri: "/api/slots", method: .get, headers: cast.ada.headers))
            #expect(mine.map { $0["doctorName"] as? String } == ["Carl Heart"])
        }
    }

    @Test func ofManyConcurrentBookingsOfOneSlotExactlyOneWins() async throws {
        let fixture = try HospitalFixture()
        let cast = try await Cast(fixture)
        let slot = try await fixture.services.scheduling.publish(
            doctorId: cast.cardiologist.id, startsAt: fixture.clock.now + 3600, durationMinutes: 15)
        var patients = [cast.ada.id, cast.bob.id]
        for index in 0..<14 {
            patients.append(
                try await fixture.accounts.registerPatient(
                    .init(
                        name: "P \(index)", email: "p\(index)@example.org", password: "correct horse battery", dateOfBirth: "1990-01-01",
                        phone: "0123456789")
                ).id!)
        }
        let scheduling = fixture.services.scheduling
        let outcomes = await withTaskGroup(of: String.self) { group in
            for patient in patients {
                group.addTask {
                    do {
                        _ = try await scheduling.book(slotId: slot.slot.id!, patientId: patient)
                        return "booked"
                    } catch let error as HospitalError {
                        return error.code.rawValue
                    } catch {
                        return "\(error)"
                    }
                }
            }
            return await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == "booked" }.count == 1)
        #expect(outcomes.filter { $0 == "slot_taken" }.count == patients.count - 1)
    }

    @Test func aPublishedSlotCannotBeBookedOnceItIsOver() async throws {
        let fixture = try HospitalFixture()
        let cast = try await Cast(fixture)
        let slot = try await fixture.services.scheduling.publish(
            doctorId: cast.cardiologist.id, startsAt: fixture.clock.now + 60, durationMinutes: 15)
        fixture.clock.advance(by: 16 * 60)
        await #expect(throws: HospitalError(.slotInPast, "The slot is over.")) {
            try await fixture.services.scheduling.book(slotId: slot.slot.id!, patientId: cast.ada.id)
        }
    }
}

@Suite struct WalkInTests {
    @Test func aSlotInTheCurrentMinuteCanBeBookedWithAReasonAndCompletedAtOnce() async throws {
        let fixture = try HospitalFixture()
        let cast = try await Cast(fixture)
        fixture.clock.advance(by: 42)  // mid-minute
        let now = fixture.clock.now
        let scheduling = fixture.services.scheduling
        let slot = try await scheduling.publish(doctorId: cast.cardiologist.id, startsAt: now - now % 60, durationMinutes: 15)
        await #expect(throws: HospitalError.self) {
            try await scheduling.publish(doctorId: cast.cardiologist.id, startsAt: now - now % 60 - 60, durationMinutes: 15)
        }
        let booked = try await scheduling.book(slotId: slot.slot.id!, patientId: cast.ada.id, reason: "  Chest pain\r\nsince Monday  ")
        #expect(booked.slot.reason == "Chest pain\nsince Monday")
        #expect(booked.patientDateOfBirth == "1985-04-12")
        let completed = try await scheduling.complete(slotId: slot.slot.id!, doctorId: cast.cardiologist.id)
        #expect(completed.slot.status == .completed)
    }

    @Test func aReasonWithControlCharactersOrTooLongIsRefusedAndCancellingForgetsIt() async throws {
        let fixture = try HospitalFixture()
        let cast = try await Cast(fixture)
        let scheduling = fixture.services.scheduling
        let slot = try await scheduling.publish(doctorId: cast.cardiologist.id, startsAt: fixture.clock.now + 3600, durationMinutes: 15)
        for reason in ["a\u{0}b", "a\u{202E}b", String(repeating: "x", count: 2001)] {
            await #expect(throws: HospitalError.invalid("reason", "A reason has at most 2000 characters and no control characters.")) {
                try await scheduling.book(slotId: slot.slot.id!, patientId: cast.ada.id, reason: reason)
            }
        }
        _ = try await scheduling.book(slotId: slot.slot.id!, patientId: cast.ada.id, reason: "headache")
        try await scheduling.cancel(slotId: slot.slot.id!, patientId: cast.ada.id)
        let reopened = try await scheduling.openSlots(doctorId: cast.cardiologist.id)
        #expect(reopened.first?.slot.reason == nil)
    }
}
