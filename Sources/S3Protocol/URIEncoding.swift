/// Percent-encoding exactly as AWS SigV4 and the S3 `encoding-type=url` option define it.
public enum URIEncoding {
    private static let hex: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// Whether `byte` is in AWS's unreserved set: `A-Z a-z 0-9 - _ . ~`.
    @inlinable
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
            UInt8(ascii: "~"):
            true
        default: false
        }
    }

    /// Encodes every byte outside the unreserved set as `%XX` (uppercase hex).
    /// - Parameters:
    ///   - string: The text to encode, as UTF-8.
    ///   - keepingSlash: Leave `/` unencoded (used for paths and S3 keys).
    public static func encode(_ string: String, keepingSlash: Bool = false) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(string.utf8.count)
        for byte in string.utf8 {
            if isUnreserved(byte) || (keepingSlash && byte == UInt8(ascii: "/")) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes `%XX` escapes once. `+` stays `+`.
    /// - Returns: The decoded text, or nil when an escape is malformed or the bytes are not UTF-8.
    public static func decode(_ string: Substring) -> String? {
        guard string.utf8.contains(UInt8(ascii: "%")) else { return String(string) }
        var out: [UInt8] = []
        out.reserveCapacity(string.utf8.count)
        var iterator = string.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                out.append(high << 4 | low)
            } else {
                out.append(byte)
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    /// Decodes `%XX` escapes once. `+` stays `+`.
    public static func decode(_ string: String) -> String? { decode(string[...]) }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
