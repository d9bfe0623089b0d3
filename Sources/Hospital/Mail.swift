import Foundation

/// An e-mail the hospital sends (a one-time code, a password-reset link): a proper RFC 5322 message
/// with MIME headers, the same in the outbox as over SMTP.
public struct Mail: Sendable, Equatable {
    /// Unique for the message: its outbox file name (`<id>.eml`) and the left part of its Message-ID.
    public var id: String
    public var toName: String
    public var toAddress: String
    public var subject: String
    /// Plain text, lines separated by `\n`.
    public var body: String
    /// Seconds since 1970.
    public var date: Int64

    /// Whether the message with this id holds a one-time code or a password-reset link.
    static func carriesSecret(id: String) -> Bool { id.hasPrefix("request-") || id.hasPrefix("reset-") }

    public init(id: String, toName: String, toAddress: String, subject: String, body: String, date: Int64) {
        self.id = id
        self.toName = toName
        self.toAddress = toAddress
        self.subject = subject
        self.body = body
        self.date = date
    }

    /// The whole message, CRLF line ends: `From` when a sender address is configured, `To`, `Subject`
    /// (non-ASCII words RFC 2047-encoded), `Date`, `Message-ID`, MIME 1.0 plain text in UTF-8 (base64
    /// when it is not ASCII).
    public func rendered(from: String?) -> String {
        var headers: [String] = []
        if let from { headers.append("From: <\(from)>") }
        headers.append("To: \(Self.encodedWord(toName)) <\(toAddress)>")
        headers.append("Subject: \(Self.encodedWord(subject, quoted: false))")
        headers.append("Date: \(Self.rfc5322Date(date))")
        headers.append("Message-ID: <\(id)@chainvault>")
        headers.append("MIME-Version: 1.0")
        headers.append("Content-Type: text/plain; charset=utf-8")
        let text = body.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false)
            .joined(separator: "\r\n")
        if text.allSatisfy(\.isASCII) {
            headers.append("Content-Transfer-Encoding: 7bit")
            return headers.joined(separator: "\r\n") + "\r\n\r\n" + text + "\r\n"
        }
        headers.append("Content-Transfer-Encoding: base64")
        let encoded = Data(text.utf8).base64EncodedString(options: [
            .lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed,
        ])
        return headers.joined(separator: "\r\n") + "\r\n\r\n" + encoded + "\r\n"
    }

    /// Text for a header: as it is when plain ASCII without specials, quoted for a display name with
    /// specials, else an RFC 2047 encoded word (`=?UTF-8?B?…?=`); control characters never pass.
    static func encodedWord(_ text: String, quoted: Bool = true) -> String {
        let clean = String(text.unicodeScalars.filter { $0.properties.generalCategory != .control }.map(Character.init))
        if clean.allSatisfy({ $0.isASCII }) {
            let plain = clean.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || $0 == " " }
            if plain || !quoted { return clean }
            return "\"" + clean.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        return "=?UTF-8?B?" + Data(clean.utf8).base64EncodedString() + "?="
    }

    static func rfc5322Date(_ seconds: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }
}
