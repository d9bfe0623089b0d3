import Crypto

/// Time-based one-time passwords as every authenticator app computes them: RFC 6238 over RFC 4226's
/// HOTP with HMAC-SHA-1, 6 digits, 30-second steps, the key being the secret's UTF-8 bytes; and the
/// `otpauth://totp/` link the apps scan (Google Authenticator's key URI format). Crypto does the HMAC;
/// this is the truncation and the link, so the domain does not link a web framework for them.
struct TimeBasedCode: Sendable {
    /// Seconds per step.
    static let step: Int64 = 30
    let key: [UInt8]

    init(secret: String) { key = Array(secret.utf8) }

    /// The code of step `counter` (time / 30), six digits with leading zeros (RFC 4226 §5.3's dynamic
    /// truncation).
    func code(step counter: Int64) -> String {
        let message = withUnsafeBytes(of: UInt64(bitPattern: counter).bigEndian) { Array($0) }
        let mac = Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: SymmetricKey(data: key)))
        let offset = Int(mac[mac.count - 1] & 0x0F)
        let value = mac[offset..<(offset + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } & 0x7FFF_FFFF
        let digits = String(value % 1_000_000)
        return String(repeating: "0", count: 6 - digits.count) + digits
    }

    /// `otpauth://totp/LABEL?secret=BASE32&issuer=ISSUER`: the label percent-encoded as a path segment
    /// (`:` and `@` kept), the issuer as a query value, the key in RFC 4648 base32 without padding.
    func authenticatorURL(label: String, issuer: String) -> String {
        "otpauth://totp/\(Self.percentEncoded(label, keeping: ":@"))?secret=\(Base32.encode(key))"
            + "&issuer=\(Self.percentEncoded(issuer, keeping: ""))"
    }

    /// `text` with every byte but RFC 3986's unreserved characters and `keeping` as `%XX`.
    static func percentEncoded(_ text: String, keeping: String) -> String {
        let kept = Set(keeping.utf8)
        var encoded = ""
        for byte in text.utf8 {
            let unreserved =
                (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || "-._~".utf8.contains(byte)
            if unreserved || kept.contains(byte) {
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                encoded += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 0x0F, radix: 16, uppercase: true)
            }
        }
        return encoded
    }
}

/// RFC 4648 base32 without padding: the authenticator link's key and, lower-cased, the recovery codes.
enum Base32 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")

    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var bits = 0
        var value = 0
        var characters: [Character] = []
        for byte in bytes {
            value = (value << 8 | Int(byte)) & 0xFFFF
            bits += 8
            while bits >= 5 {
                characters.append(alphabet[(value >> (bits - 5)) & 31])
                bits -= 5
            }
        }
        if bits > 0 { characters.append(alphabet[(value << (5 - bits)) & 31]) }
        return String(characters)
    }
}
