import Foundation
import TestSupport
import Testing

@testable import Hospital
@testable import HospitalAPI
@testable import HospitalCore
@testable import HospitalPortal
@testable import HospitalSQLite

@Suite struct CodeSenderTests {
    let message = CodeMessage(
        requestId: 7, patientName: "Ada \"Lovelace\"", patientEmail: "ada@example.org", patientPhone: nil, doctorName: "Dr Dora Skin",
        code: "12345678", issuedAt: 1_800_000_000, expiresAt: 1_800_000_600, timeZone: TimeZone(identifier: "Europe/Zurich")!,
        link: "https://portal.example/consent", siteName: "St. Example")

    /// Issue 27, item 2: the doctor's name once, as typed; the expiry in the patient's zone, in words; no report title.
    @Test func theOutboxHoldsOneOwnerOnlyEmailPerCodeNamingDoctorAndExpiry() async throws {
        let directory = temporaryPath("outbox")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await OutboxCodeSender(directory: directory).send(message)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["request-7.eml"])
        let path = directory + "/request-7.eml"
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasPrefix("From: ChainVault Hospital <chainvault@localhost>\r\nTo: \"Ada \\\"Lovelace\\\"\" <ada@example.org>\r\n"))
        #expect(text.contains("Dr Dora Skin asks to read one of your reports."))
        #expect(!text.contains("Dr. Dr"))
        #expect(text.contains("https://portal.example/consent"))
        // The code on a short line of its own: a quoted-printable body never breaks it.
        #expect(text.contains("\r\nYour one-time code is 12345678.\r\nIt is valid until Fri, 15 Jan 2027 at 9:10 (Europe/Zurich).\r\n"))
        #expect(text.contains("Subject: A doctor asks to read one of your reports\r\n"))
        #expect(text.contains("Date: Fri, 15 Jan 2027 08:00:00 +0000\r\n"))
    }

    @Test func smtpSettingsAreCheckedAtStartUp() throws {
        let tls = try SMTPConfiguration(url: "smtps://mail.example.org", from: "no-reply@hospital.example")
        #expect(tls.security == .implicitTLS && tls.port == 465 && tls.serverName == "mail.example.org")
        let relay = try SMTPConfiguration(url: "smtp://127.0.0.1:25", from: "no-reply@hospital.example")
        #expect(relay.security == .startTLS && relay.port == 25 && relay.isLoopback && relay.serverName == nil)
        #expect(try SMTPConfiguration(url: "smtp://mail.example.org", from: "a@b.c").port == 587)
        for (url, from, user, password) in [
            ("http://mail.example.org", "a@b.c", nil, nil), ("smtp://user:pw@mail.example.org", "a@b.c", nil, nil),
            ("smtp://mail.example.org", "nobody", nil, nil), ("smtp://mail.example.org", "a@b.c\r\nBcc: x@y.z", nil, nil),
            ("smtp://mail.example.org", "a@b.c", "user", nil),
        ] as [(String, String, String?, String?)] {
            #expect(throws: SMTPError.self) { try SMTPConfiguration(url: url, from: from, username: user, password: password) }
        }
    }
}
