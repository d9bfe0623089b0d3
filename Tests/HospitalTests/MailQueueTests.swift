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

@Suite struct MailQueueTests {
    static let portal = PortalConfiguration(
        siteName: "St Elsewhere", baseURL: URL(string: "https://portal.example.org/")!, timeZone: TimeZone(identifier: "UTC")!)

    func queued(_ fixture: HospitalFixture) async throws -> [QueuedMail] {
        try await fixture.database.writer.read { db in try QueuedMail.fetchAll(db, sql: "SELECT * FROM mailQueue ORDER BY id") }
    }

    @Test func everyNoticeHasItsWordsInTheCatalogue() {
        let strings = Catalogues.shipped.strings("en")
        for kind in Notices.Kind.allCases {
            #expect(strings["mail_\(kind.rawValue)_subject"] != nil && strings["mail_\(kind.rawValue)_body"] != nil, "\(kind)")
        }
    }

    @Test func wordsAreFilledInOnePassSoATypedNameStaysAsTyped() {
        #expect(Catalogues.fill("Dear {name}, see {link}.", with: ["name": "{link}", "link": "/x"]) == "Dear {link}, see /x.")
        #expect(Catalogues.fill("{unknown} {name", with: ["name": "n"]) == "{unknown} {name")
    }

    @Test(.sqliteSchema) func bookingsAndReportsQueueTheirMailInTheirOwnTransactionAndTheQueueHandsItOn() async throws {
        let fixture = try HospitalFixture(portal: Self.portal)
        try await fixture.app().test(.router) { client in
            let cast = try await Cast(fixture)
            try await fixture.database.writer.write { db in
                try db.execute(sql: "UPDATE user SET timeZone = 'Europe/Berlin' WHERE id = ?", arguments: [cast.ada.id])
            }
            let slot = try await completedCheckup(client, fixture, doctor: cast.cardiologist, patient: cast.ada)
            #expect(try await upload(client, [1, 2, 3], for: cast.ada, by: cast.cardiologist, title: "Echo").status == .created)
            // A booking that fails (the slot is taken) queues nothing.
            let taken = try await client.execute(uri: "/api/slots/\(slot)/booking", method: .post, headers: cast.bob.headers)
            #expect(taken.status == .conflict)
            #expect(try await queued(fixture).map(\.kind) == ["booked", "new_report"])
            #expect(fixture.sender.mails.isEmpty, "nothing goes before the queue runs")

            #expect(try await fixture.services.mailQueue().deliverDue() == 2)
            #expect(try await queued(fixture).isEmpty)
            let booked = try #require(fixture.sender.mails.first)
            let start = try #require(try await fixture.services.scheduling.slot(id: slot)).slot.startsAt
            let berlin = Times.readable(start, zone: TimeZone(identifier: "Europe/Berlin")!)
            #expect(booked.id.hasPrefix("booked-") && booked.toAddress == "ada@example.org" && booked.toName == "Ada Patient")
            #expect(booked.subject == "Your appointment with Carl Heart is booked")
            #expect(booked.body.contains("on \(berlin) (Europe/Berlin) is booked"), "in the patient's own zone")
            #expect(booked.body.contains("https://portal.example.org/appointments") && booked.body.hasSuffix("St Elsewhere"))
            let report = try #require(fixture.sender.mails.last)
            #expect(report.id.hasPrefix("new_report-") && report.subject == "A new report is in your record")
            #expect(report.body.contains("Carl Heart added a report") && !report.body.contains("Echo"), "no title in mail")
            #expect(report.body.contains("https://portal.example.org/reports"))
        }
    }

    @Test(.sqliteSchema) func aMailServerThatIsDownDelaysTheMailNeverTheBookingAndGivesUpAfterThreeDays() async throws {
        let fixture = try HospitalFixture()
        let queue = fixture.services.mailQueue()
        try await fixture.app().test(.router) { client in
            let cast = try await Cast(fixture)
            fixture.sender.fail(true)
            try await bookedAppointment(client, fixture, doctor: cast.cardiologist, patient: cast.ada, startingIn: 5 * 86400)
            #expect(try await queue.deliverDue() == 1)
            let waiting = try #require(try await queued(fixture).first)
            #expect(waiting.attempts == 1 && waiting.nextAttemptAt == fixture.clock.now + 30)
            #expect(try await queue.deliverDue() == 0, "not before its time")
            fixture.clock.advance(by: 30)
            #expect(try await queue.deliverDue() == 1)
            #expect(try await queued(fixture).first?.nextAttemptAt == fixture.clock.now + 60, "the wait doubles")
            fixture.sender.fail(false)
            fixture.clock.advance(by: 60)
            #expect(try await queue.deliverDue() == 1)
            #expect(try await queued(fixture).isEmpty && fixture.sender.mails.count == 1)

            // Three days of refusals: the message is dropped (and logged without its address).
            fixture.sender.fail(true)
            try await bookedAppointment(client, fixture, doctor: cast.dermatologist, patient: cast.bob, startingIn: 5 * 86400)
            for _ in 0..<100 {
                try await queue.deliverDue()
                fixture.clock.advance(by: 3600)
            }
            #expect(try await queued(fixture).isEmpty && fixture.sender.mails.count == 1)
        }
    }

    @Test(.timeLimit(.minutes(1))) func theQueueDeliversAsSoonAsItsTransactionCommitsWithoutWaitingForItsRound() async throws {
        let fixture = try HospitalFixture()
        let queue = fixture.services.mailQueue(interval: .seconds(3600))
        let running = Task { try await queue.run() }
        defer { running.cancel() }
        try await fixture.app().test(.router) { client in
            let cast = try await Cast(fixture)
            try await bookedAppointment(client, fixture, doctor: cast.cardiologist, patient: cast.ada)
            var deliveries = fixture.sender.deliveries.makeAsyncIterator()
            // The queue's round is an hour: only the commit can have woken it (the sign-ups' links went before).
            var first = await deliveries.next()
            while first?.id.hasPrefix("activate-") == true { first = await deliveries.next() }
            #expect(first?.id.split(separator: "-").first == "booked")
            #expect(fixture.sender.mails.filter { !$0.id.hasPrefix("activate-") }.count == 1)
        }
    }

    @Test(.sqliteSchema) func aDoctorCancelsABookedAppointmentBeforeItStartsAndThePatientIsTold() async throws {
        let fixture = try HospitalFixture(portal: Self.portal)
        try await fixture.app().test(.router) { client in
            let cast = try await Cast(fixture)
            let slot = try await bookedAppointment(client, fixture, doctor: cast.cardiologist, patient: cast.ada)
            let other = try await client.execute(uri: "/api/slots/\(slot)/booking", method: .delete, headers: cast.dermatologist.headers)
            #expect(other.status == .notFound, "another doctor's slot")
            let cancelled = try await client.execute(uri: "/api/slots/\(slot)/booking", method: .delete, headers: cast.cardiologist.headers)
            #expect(cancelled.status == .noContent)
            #expect(try await fixture.services.scheduling.slot(id: slot) == nil, "the slot goes: the doctor cannot be there")
            #expect(try await queued(fixture).map(\.kind) == ["booked", "cancelled_by_doctor"])
            let mail = try #require(try await queued(fixture).last?.mail)
            #expect(mail.toAddress == "ada@example.org" && mail.subject == "Carl Heart cancelled your appointment")
            #expect(mail.body.contains("https://portal.example.org/doctors"))

            // An open slot is withdrawn, not cancelled; one that started stays.
            let open = try await client.execute(
                uri: "/api/slots", method: .post, headers: cast.cardiologist.headers,
                body: json(["startsAt": time(fixture, plus: 86400), "durationMinutes": 20]))
            let openId = try #require(try decode(open)["id"] as? Int64)
            let notBooked = try await client.execute(
                uri: "/api/slots/\(openId)/booking", method: .delete, headers: cast.cardiologist.headers)
            #expect(notBooked.status == .conflict)
            #expect(try errorOf(notBooked).code == "slot_not_booked")
            let started = try await bookedAppointment(client, fixture, doctor: cast.cardiologist, patient: cast.bob, startingIn: 600)
            fixture.clock.advance(by: 600)
            let late = try await client.execute(uri: "/api/slots/\(started)/booking", method: .delete, headers: cast.cardiologist.headers)
            #expect(late.status == .conflict)
            #expect(try errorOf(late).code == "slot_in_past")

            // The patient's own cancellation is confirmed too.
            let mine = try await bookedAppointment(client, fixture, doctor: cast.dermatologist, patient: cast.ada)
            #expect(
                try await client.execute(uri: "/api/slots/\(mine)/booking", method: .delete, headers: cast.ada.headers).status == .noContent
            )
            #expect(try await queued(fixture).last?.subject == "Your appointment with Dora Skin is cancelled")
        }
    }

    @Test(.sqliteSchema) func anApprovedDoctorIsToldByMail() async throws {
        let fixture = try HospitalFixture(portal: Self.portal)
        let cast = try await Cast(fixture)
        let pending = try await fixture.accounts.registerDoctor(
            .init(name: "Nia Nerve", email: "nia@example.org", password: "a long doctor password", specialization: "Neurology"))
        let admin = Identity(userId: cast.admin.id, role: .admin, name: "Ann Admin")
        _ = try await fixture.accounts.decide(pending: pending.id!, approve: true, by: admin)
        let mail = try #require(try await queued(fixture).last?.mail)
        #expect(mail.id.hasPrefix("approved-") && mail.toAddress == "nia@example.org")
        #expect(mail.body.contains("https://portal.example.org/login"))
        // A refusal sends nothing (the account is gone).
        let refused = try await fixture.accounts.registerDoctor(
            .init(name: "Rex Refused", email: "rex@example.org", password: "a long doctor password", specialization: "Neurology"))
        _ = try await fixture.accounts.decide(pending: refused.id!, approve: false, by: admin)
        #expect(try await queued(fixture).count == 1)
    }

    @Test func theOutboxKeepsCodesAndResetLinksOnlyWhileTheyWork() async throws {
        let fixture = try HospitalFixture()
        let directory = temporaryPath("outbox")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let outbox = try OutboxCodeSender(directory: directory)
        let queue = MailQueue(storage: fixture.storage, sender: outbox, doorbell: .init(), clock: fixture.clock.source)
        @Sendable func files() throws -> Set<String> { Set(try FileManager.default.contentsOfDirectory(atPath: directory)) }
        try await fixture.app().test(.router) { client in
            let scene = try await ConsentScene(client, fixture)
            // What the recording sender got goes to the outbox as the real sender would write it.
            let request = try await scene.request(client)
            try await outbox.send(try #require(fixture.sender.messages.last))
            try await fixture.accounts.requestPasswordReset(email: "bob@example.org", client: "test") { "/password/reset?token=\($0)" }
            await fixture.services.mailQueue().deliverSecrets()
            let reset = try #require(fixture.sender.mails.last)
            try await outbox.deliver(reset)
            await queue.round()
            let notices = try files().filter { $0.hasPrefix("booked-") || $0.hasPrefix("new_report-") }
            #expect(notices.count == 3, "two bookings and a report")
            #expect(try files() == notices.union(["request-\(request.id).eml", "\(reset.id).eml"]))

            #expect(try await scene.redeem(client, request.id, request.code).status == .created)
            await queue.round()
            #expect(try files() == notices.union(["\(reset.id).eml"]), "a redeemed code's message is gone")
            fixture.clock.advance(by: Accounts.resetLifetime)
            await queue.round()
            #expect(try files() == notices, "an expired link's message is gone; notices stay for the mail gateway")
        }
    }
}
