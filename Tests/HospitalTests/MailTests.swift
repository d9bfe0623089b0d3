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

@Suite struct MailTests {
    @Test func aMessageHasEveryHeaderAndEncodesWhatIsNotASCII() throws {
        let mail = Mail(
            id: "reset-7-1800000000", toName: "Zahra Ahmadi‌نژاد", toAddress: "zahra@example.org", subject: "Réinitialiser",
            body: "Bonjour,\nvoilà le lien.", date: 1_800_000_000)
        let text = mail.rendered(from: MailSender(address: "no-reply@hospital.example"))
        let (head, body) = try #require(text.split(separator: "\r\n\r\n", maxSplits: 1).map(String.init).pairs)
        let headers = head.components(separatedBy: "\r\n")
        #expect(headers.contains("From: <no-reply@hospital.example>"))
        #expect(headers.contains("To: =?UTF-8?B?\(Data("Zahra Ahmadi‌نژاد".utf8).base64EncodedString())?= <zahra@example.org>"))
        #expect(headers.contains("Subject: =?UTF-8?B?\(Data("Réinitialiser".utf8).base64EncodedString())?="))
        #expect(headers.contains("Date: Fri, 15 Jan 2027 08:00:00 +0000"))
        #expect(headers.contains("Message-ID: <reset-7-1800000000@chainvault>"))
        #expect(headers.contains("MIME-Version: 1.0") && headers.contains("Content-Type: text/plain; charset=utf-8"))
        #expect(headers.contains("Content-Transfer-Encoding: quoted-printable"))
        #expect(body == "Bonjour,\r\nvoil=C3=A0 le lien.\r\n")
        // No header injection through a name.
        let forged = Mail(id: "x", toName: "Eve\r\nBcc: all@example.org", toAddress: "eve@example.org", subject: "s", body: "b", date: 0)
        #expect(!forged.rendered(from: MailSender(address: "h@example.org")).contains("\r\nBcc:"))
    }

    /// Issue 27, item 3: RFC 5322 requires `From`; without `--smtp-from` it is the site at the host's name.
    @Test func everyMessageHasAFromHeader() {
        let standard = MailSender.standard(siteName: "Hôpital Sud", hostName: "Node_7.Example.ORG")
        #expect(standard == MailSender(name: "Hôpital Sud", address: "chainvault@node7.example.org"))
        #expect(MailSender.standard(siteName: "x", hostName: "").address == "chainvault@localhost")
        let text = Mail(id: "x", toName: "Ada", toAddress: "ada@example.org", subject: "s", body: "b", date: 0).rendered(from: standard)
        #expect(text.hasPrefix("From: =?UTF-8?B?\(Data("Hôpital Sud".utf8).base64EncodedString())?= <chainvault@node7.example.org>\r\n"))
        let plain = Mail(id: "x", toName: "Ada", toAddress: "ada@example.org", subject: "s", body: "b", date: 0)
            .rendered(from: MailSender(name: "St. Example", address: "no-reply@example.org"))
        #expect(plain.hasPrefix("From: \"St. Example\" <no-reply@example.org>\r\n"))
    }

    /// Quoted-printable keeps lines under 77 characters with soft breaks, escapes `=` and a space at a
    /// line's end, and decodes back to the text (Python's email package does, in the interop suite).
    @Test func quotedPrintableWrapsEscapesAndKeepsASCIIReadable() {
        let long = String(repeating: "a", count: 80) + " — é = end "
        let encoded = Mail.quotedPrintable("code 12345678\n" + long)
        let lines = encoded.components(separatedBy: "\r\n")
        #expect(lines[0] == "code 12345678")
        #expect(lines.allSatisfy { $0.count <= 76 })
        #expect(lines[1].hasSuffix("=") && lines[1].count == 76)
        #expect(encoded.hasSuffix("=E2=80=94 =C3=A9 =3D end=20"))
        let bytes = Mail.quotedPrintableDecoded(encoded)
        #expect(String(decoding: bytes, as: UTF8.self) == "code 12345678\r\n" + long)
        let message = Mail(id: "x", toName: "Ada", toAddress: "ada@example.org", subject: "s", body: long, date: 0)
            .rendered(from: MailSender(address: "h@example.org"))
        #expect(Mail.decodedText(message) == long + "\n")
    }

    @Test(.sqliteSchema) func aResetLinkWorksOnceWithinItsLifetimeAndEndsEverySession() async throws {
        let fixture = try HospitalFixture()
        let portal = PortalConfiguration(baseURL: URL(string: "https://portal.example.org")!, timeZone: TimeZone(identifier: "UTC")!)
        try await buildHospitalApplication(configuration: .init(port: 0, portal: portal), services: fixture.services).test(.router) {
            client in
            let ada = Browser(origin: "https://portal.example.org")
            _ = try await ada.register(client, fixture, portalPatient())
            let stranger = Browser(origin: "https://portal.example.org")
            let unknown = try await stranger.post(client, "/password/forgot", ["email": "nobody@example.org"])
            let known = try await stranger.post(client, "/password/forgot", ["email": "ADA@example.org"])
            #expect(unknown.status == .ok && known.status == .ok && unknown.text.contains("If an account has this address"))
            #expect(String(buffer: unknown.body).count == String(buffer: known.body).count, "the same answer either way")
            // N14: the same work either way (a ledger entry each); the link goes after the answer, from the queue.
            let entries = try await fixture.database.writer.read { db in
                try String.fetchAll(db, sql: "SELECT outcome FROM audit WHERE action = 'password_reset_sent' ORDER BY id")
            }
            #expect(entries == ["denied", "success"])
            let resets = { fixture.sender.mails.filter { $0.id.hasPrefix("reset-") } }
            #expect(resets().isEmpty, "nothing is sent before the answer")
            await fixture.services.mailQueue().deliverSecrets()
            let mail = try #require(resets().last)
            #expect(resets().count == 1 && mail.toAddress == "ada@example.org")
            let link = try #require(mail.body.split(separator: "\n").first { $0.hasPrefix("https://") })
            #expect(link.hasPrefix("https://portal.example.org/password/reset?token="), "never the request's Host")
            let token = String(link.split(separator: "=").last!)

            let weak = try await stranger.post(client, "/password/reset", ["token": token, "new": "short"])
            #expect(weak.status == .badRequest)
            let done = try await stranger.post(client, "/password/reset", ["token": token, "new": "a brand new passphrase"])
            #expect(done.headers[.location] == "/login?reset=1")
            #expect(try await ada.get(client, "/dashboard").status == .seeOther, "every session ended")
            let again = try await stranger.post(client, "/password/reset", ["token": token, "new": "another new passphrase"])
            #expect(again.status == .badRequest && again.text.contains("This link does not work any more."))
            #expect(
                try await Browser(origin: "https://portal.example.org").post(
                    client, "/login", ["email": "ada@example.org", "password": "a brand new passphrase"]
                ).status == .seeOther)

            // A second link expires after 30 minutes.
            _ = try await stranger.post(client, "/password/forgot", ["email": "ada@example.org"])
            await fixture.services.mailQueue().deliverSecrets()
            let late = String(
                try #require(
                    fixture.sender.mails.last?.body.split(separator: "\n").first { $0.hasPrefix("https://") }?.split(separator: "=").last))
            fixture.clock.advance(by: 30 * 60)
            #expect(
                try await stranger.post(client, "/password/reset", ["token": late, "new": "too late a passphrase"]).status == .badRequest)
        }
    }
}

extension Array where Element == String {
    /// The two parts of a split in two.
    var pairs: (String, String)? { count == 2 ? (self[0], self[1]) : nil }
}
