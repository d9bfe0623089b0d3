import Foundation

/// An e-mail the hospital sends (a one-time code, a password-reset link): a proper RFC 5322 message
/// with MIME headers, the same in the outbox as over SMTP.
package struct Mail: Sendable, Equatable {
    /// Unique for the message: its outbox file name (`<id>.eml`) and the left part of its Message-ID.
    package var id: String
    package var toName: String
    package var toAddress: String
    package var subject: String
    /// Plain text, lines separated by `\n`.
    package var body: String
    /// Seconds since 1970.
    package var date: Int64

    /// Whether the message with this id holds a one-time code, a password-reset link or a sign-up's link.
    static func carriesSecret(id: String) -> Bool { id.hasPrefix("request-") || id.hasPrefix("reset-") || id.hasPrefix("activate-") }

    package init(id: String, toName: String, toAddress: String, subject: String, body: String, date: Int64) {
        self.id = id
        self.toName = toName
        self.toAddress = toAddress
        self.subject = subject
        self.body = body
        self.date = date
    }

    /// The whole message, CRLF line ends: `From` (RFC 5322 requires it), `To`, `Subject` (non-ASCII words
    /// RFC 2047-encoded), `Date`, `Message-ID`, MIME 1.0 plain text in UTF-8 (quoted-printable when it is
    /// not ASCII).
    package func rendered(from: MailSender) -> String {
        var headers: [String] = []
        headers.append("From: \(from.header)")
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
        // Quoted-printable, not base64: the ASCII lines (a code, a link, an audit proof's hashes) stay
        // readable in the raw message, for an SMS gateway reading the outbox and for people.
        headers.append("Content-Transfer-Encoding: quoted-printable")
        return headers.joined(separator: "\r\n") + "\r\n\r\n" + Self.quotedPrintable(body) + "\r\n"
    }

    /// RFC 2045 §6.7: bytes outside printable ASCII (and `=`, and a space or tab ending a line) as
    /// `=XX`, lines of at most 76 characters with soft breaks (`=` at the end), CRLF line ends.
    static func quotedPrintable(_ text: String) -> String {
        text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false).map { line in
            let bytes = Array(line.utf8)
            var encoded = ""
            var length = 0
            for (index, byte) in bytes.enumerated() {
                let literal = (33...126).contains(byte) && byte != UInt8(ascii: "=") || (byte == 32 || byte == 9) && index < bytes.count - 1
                let token = literal ? String(UnicodeScalar(byte)) : "=" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
                if length + token.count > 75 {
                    encoded += "=\r\n"
                    length = 0
                }
                encoded += token
                length += token.count
            }
            return encoded
        }.joined(separator: "\r\n")
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

extension Mail {
    /// The text of a saved message (an `.eml` file, or what a mail program saves): its body decoded
    /// by its `Content-Transfer-Encoding` — quoted-printable, as ChainVault sends text that is not
    /// ASCII, or base64 —, or `message` as it is when it is neither (a bare proof). For
    /// `chainvault audit check-proof`, which finds a proof in a patient's e-mail.
    package static func decodedText(_ message: String) -> String {
        let text = message.replacingOccurrences(of: "\r\n", with: "\n")
        guard let split = text.range(of: "\n\n") else { return message }
        let headers = text[..<split.lowerBound].lowercased()
        let body = text[split.upperBound...]
        if headers.contains("content-transfer-encoding: quoted-printable") {
            return String(decoding: quotedPrintableDecoded(body), as: UTF8.self)
        }
        if headers.contains("content-transfer-encoding: base64"),
            let decoded = Data(base64Encoded: String(body.filter { !$0.isWhitespace }))
        {
            return String(decoding: decoded, as: UTF8.self)
        }
        return message
    }

    /// The bytes of quoted-printable text: soft line breaks removed, `=XX` as the byte it names (a
    /// malformed escape is kept as it is).
    static func quotedPrintableDecoded(_ text: some StringProtocol) -> [UInt8] {
        var bytes: [UInt8] = []
        var rest = Array(text.replacingOccurrences(of: "=\r\n", with: "").replacingOccurrences(of: "=\n", with: "").utf8)[...]
        while let byte = rest.popFirst() {
            if byte == UInt8(ascii: "="), rest.count >= 2, let value = UInt8(String(decoding: rest.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                rest = rest.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return bytes
    }
}

extension String {
    /// The string with zeros in front up to `width` characters.
    fileprivate func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

/// Who the hospital's messages are from: the `From` header's display name and address.
package struct MailSender: Sendable, Equatable {
    /// The display name, such as the site's name; none for a bare address.
    package var name: String?
    package var address: String

    package init(name: String? = nil, address: String) {
        self.name = name
        self.address = address
    }

    /// The sender when none is configured (`--smtp-from`): the site's name at `chainvault@<host name>`,
    /// the host name cut to the characters a domain may hold (`localhost` when none is left).
    package static func standard(siteName: String, hostName: String) -> MailSender {
        let labels = hostName.lowercased().split(separator: ".").map { label in
            String(label.unicodeScalars.filter { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }.map(Character.init))
        }.filter { !$0.isEmpty && Validation.isLabel($0[...]) }
        return MailSender(name: siteName, address: "chainvault@" + (labels.isEmpty ? "localhost" : labels.joined(separator: ".")))
    }

    /// The header's value: `"Name" <address>` (the name RFC 2047-encoded when not ASCII), or `<address>`.
    var header: String {
        guard let name, !name.isEmpty else { return "<\(address)>" }
        return "\(Mail.encodedWord(name)) <\(address)>"
    }
}
