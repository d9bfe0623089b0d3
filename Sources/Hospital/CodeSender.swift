import DurableFiles
import Foundation
import NIOPosix

/// A one-time code on its way to a patient.
public struct CodeMessage: Sendable, Equatable {
    public var requestId: Int64
    public var patientName: String
    public var patientEmail: String
    public var patientPhone: String?
    public var doctorName: String
    public var reportTitle: String
    public var code: String
    /// When the code was issued, seconds since 1970.
    public var issuedAt: Int64
    /// When the code expires, seconds since 1970.
    public var expiresAt: Int64
    /// The proof of the request's ledger entry (``AuditNotary/footer(entry:)``), after the text.
    public var footer: String?

    /// The e-mail of a request's code: `request-<id>` (its outbox file `request-<id>.eml`).
    static func mailId(request: Int64) -> String { "request-\(request)" }

    /// The message as an e-mail to the patient (`request-<id>.eml` in the outbox).
    public var mail: Mail {
        let expiry = Date(timeIntervalSince1970: TimeInterval(expiresAt))
        return Mail(
            id: Self.mailId(request: requestId), toName: patientName, toAddress: patientEmail, subject: "Access code for your report",
            body: """
                Dear \(patientName),

                Dr. \(doctorName) asks to read your report "\(reportTitle)".

                Your one-time code is \(code). It is valid until \(ISO8601DateFormatter().string(from: expiry)).

                Give it to the doctor only if you agree. If you do not, ignore this message or deny
                the request in your patient portal; you can revoke access at any time.
                """ + (footer ?? ""), date: issuedAt)
    }
}

/// Delivers the hospital's e-mails: one-time codes to patients, password-reset links.
public protocol CodeSender: Sendable {
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
    public func send(_ message: CodeMessage) async throws { try await deliver(message.mail) }

    public func discardSecrets(where isDead: (String) -> Bool) throws {}
}

/// The default sender: one e-mail file per message in an outbox folder (`<data>/.chainvault/outbox/`), for a
/// mail or SMS gateway to pick up. Each file is written under a temporary name, fsynced, and renamed into
/// place, mode 0600: it holds a live code.
public struct OutboxCodeSender: CodeSender {
    public let directory: String
    /// The `From` address, when one is configured (`--smtp-from` also without SMTP).
    public let from: String?

    public init(directory: String, from: String? = nil) throws {
        self.from = from
        self.directory = directory
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    public func deliver(_ mail: Mail) async throws {
        let name = "\(mail.id).eml"
        let (directory, bytes) = (directory, Array(mail.rendered(from: from).utf8))
        // Blocking writes and syncs: on NIO's thread pool, not Swift's cooperative one. The temporary
        // name starts with a dot, which a gateway picking up *.eml files skips.
        try await NIOThreadPool.singleton.runIfActive {
            try DurableFile.replace("\(directory)/\(name)", bytes: bytes, mode: 0o600, temporaryPath: "\(directory)/.\(name).tmp")
        }
    }

    public func discardSecrets(where isDead: (String) -> Bool) throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) where name.hasSuffix(".eml") {
            let id = String(name.dropLast(4))
            if Mail.carriesSecret(id: id), isDead(id) { unlink("\(directory)/\(name)") }
        }
    }
}
