import Foundation

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

    /// The message as an RFC 5322 e-mail: headers, blank line, plain-text body.
    public var email: String {
        let expiry = Date(timeIntervalSince1970: TimeInterval(expiresAt))
        return """
            To: \(Self.header(patientName)) <\(patientEmail)>\r
            Subject: Access code for your report\r
            Date: \(Self.rfc5322.string(from: Date(timeIntervalSince1970: TimeInterval(issuedAt))))\r
            X-ChainVault-Request: \(requestId)\r
            Content-Type: text/plain; charset=utf-8\r
            \r
            Dear \(patientName),\r
            \r
            Dr. \(doctorName) asks to read your report "\(reportTitle)".\r
            \r
            Your one-time code is \(code). It is valid until \(Self.iso8601.string(from: expiry)).\r
            \r
            Give it to the doctor only if you agree. If you do not, ignore this message or deny\r
            the request in your patient portal; you can revoke access at any time.\r

            """
    }

    /// A display name safe in a header: quoted when it holds anything but letters, digits and spaces.
    static func header(_ name: String) -> String {
        let plain = name.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || $0 == " " } && name.allSatisfy(\.isASCII)
        return plain ? name : "\"" + name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    static var rfc5322: DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter
    }

    static var iso8601: ISO8601DateFormatter { ISO8601DateFormatter() }
}

/// Delivers one-time codes to patients.
public protocol CodeSender: Sendable {
    /// Delivers the message; throws when it could not be handed on (the request is then void).
    func send(_ message: CodeMessage) async throws
}

/// The default sender: one e-mail file per code in an outbox folder (`<data>/.chainvault/outbox/`), for a
/// mail or SMS gateway to pick up. Each file is written under a temporary name, fsynced, and renamed into
/// place, mode 0600: it holds a live code.
public struct OutboxCodeSender: CodeSender {
    public let directory: String

    public init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    public func send(_ message: CodeMessage) async throws {
        let name = "request-\(message.requestId).eml"
        let temporary = "\(directory)/.\(name).tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: nil, attributes: [.posixPermissions: 0o600]),
            let handle = FileHandle(forWritingAtPath: temporary)
        else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: temporary]) }
        do {
            try handle.write(contentsOf: Data(message.email.utf8))
            try handle.synchronize()
            try handle.close()
            guard rename(temporary, "\(directory)/\(name)") == 0 else { throw CocoaError(.fileWriteUnknown) }
        } catch {
            try? handle.close()
            unlink(temporary)
            throw error
        }
    }
}
