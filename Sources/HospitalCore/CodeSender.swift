import DurableFiles
package import Foundation
import NIOPosix

/// A one-time code on its way to a patient. Its e-mail names the doctor who asks, never the report (mail
/// crosses servers the hospital does not control: the patient sees which report on the linked page), and
/// gives the expiry in the patient's zone, in words.
package struct CodeMessage: Sendable, Equatable {
    package var requestId: Int64
    package var patientName: String
    package var patientEmail: String
    package var patientPhone: String?
    /// The doctor's name as they typed it (the portal adds no honorific anywhere).
    package var doctorName: String
    package var code: String
    /// When the code was issued, seconds since 1970.
    package var issuedAt: Int64
    /// When the code expires, seconds since 1970.
    package var expiresAt: Int64
    /// The zone the expiry is shown in: the patient's, else the site's.
    package var timeZone: TimeZone
    /// The patient's page of requests, where they see which report is asked for and allow or deny it.
    package var link: String
    /// The hospital's name, signing the message.
    package var siteName: String
    /// The proof of the request's ledger entry (``AuditNotary/footer(entry:)``), after the text.
    package var footer: String?

    package init(
        requestId: Int64, patientName: String, patientEmail: String, patientPhone: String? = nil, doctorName: String, code: String,
        issuedAt: Int64, expiresAt: Int64, timeZone: TimeZone, link: String, siteName: String, footer: String? = nil
    ) {
        self.requestId = requestId
        self.patientName = patientName
        self.patientEmail = patientEmail
        self.patientPhone = patientPhone
        self.doctorName = doctorName
        self.code = code
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.timeZone = timeZone
        self.link = link
        self.siteName = siteName
        self.footer = footer
    }

    /// The e-mail of a request's code: `request-<id>` (its outbox file `request-<id>.eml`).
    static func mailId(request: Int64) -> String { "request-\(request)" }

    /// The message as an e-mail to the patient (`request-<id>.eml` in the outbox), in the catalogue's words
    /// (`mail_access_code_subject`, `mail_access_code_body`).
    package var mail: Mail {
        let strings = Catalogues.shipped.strings(Catalogues.fallback)
        let words = [
            "name": patientName, "doctor": doctorName, "code": code, "link": link, "site": siteName,
            "time": "\(Times.readable(expiresAt, zone: timeZone)) (\(timeZone.identifier))",
        ]
        func text(_ key: String) -> String { Catalogues.fill(strings[key] ?? key, with: words) }
        return Mail(
            id: Self.mailId(request: requestId), toName: patientName, toAddress: patientEmail, subject: text("mail_access_code_subject"),
            body: text("mail_access_code_body") + (footer ?? ""), date: issuedAt)
    }
}

/// Delivers the hospital's e-mails: one-time codes to patients, password-reset links.
package protocol CodeSender: Sendable {
    /// Delivers the message; throws when it could not be handed on.
    func deliver(_ mail: Mail) async throws
    /// Delivers a one-time code; throws when it could not be handed on (the request is then void).
    func send(_ message: CodeMessage) async throws
    /// Removes the copies the sender keeps of messages carrying a code or a reset link (``Mail/carriesSecret``)
    /// whose id `isDead` says no longer works. A sender that keeps nothing (SMTP) does nothing.
    func discardSecrets(where isDead: (String) -> Bool) throws
}

extension CodeSender {
    /// A code goes as its e-mail.
    package func send(_ message: CodeMessage) async throws { try await deliver(message.mail) }

    package func discardSecrets(where isDead: (String) -> Bool) throws {}
}

/// The default sender: one e-mail file per message in an outbox folder (`<data>/.chainvault/outbox/`), for a
/// mail or SMS gateway to pick up. Each file is written under a temporary name, fsynced, and renamed into
/// place, mode 0600: it holds a live code.
package struct OutboxCodeSender: CodeSender {
    package let directory: String
    /// The `From` of every message (`--smtp-from` also without SMTP, else ``MailSender/standard(siteName:hostName:)``).
    package let from: MailSender

    package init(directory: String, from: MailSender = MailSender(name: "ChainVault Hospital", address: "chainvault@localhost")) throws {
        self.from = from
        self.directory = directory
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    package func deliver(_ mail: Mail) async throws {
        let name = "\(mail.id).eml"
        let (directory, bytes) = (directory, Array(mail.rendered(from: from).utf8))
        // Blocking writes and syncs: on NIO's thread pool, not Swift's cooperative one. The temporary
        // name starts with a dot, which a gateway picking up *.eml files skips.
        try await NIOThreadPool.singleton.runIfActive {
            try DurableFile.replace("\(directory)/\(name)", bytes: bytes, mode: 0o600, temporaryPath: "\(directory)/.\(name).tmp")
        }
    }

    package func discardSecrets(where isDead: (String) -> Bool) throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) where name.hasSuffix(".eml") {
            let id = String(name.dropLast(4))
            if Mail.carriesSecret(id: id), isDead(id) { unlink("\(directory)/\(name)") }
        }
    }
}
