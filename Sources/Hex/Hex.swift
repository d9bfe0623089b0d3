/// Lower-case hexadecimal, the one encoding of bytes as text that ChainVault writes (hashes, ids, keys,
/// S3 ETags and upload ids) and reads back.
package enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// Two lower-case digits per byte.
    package static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// The bytes of an even number of hex digits; nil for anything else.
    /// - Parameter lowerCaseOnly: Refuse upper-case digits too: where the text is a name that must have
    ///   one spelling (a folder of reserved keys), not a value a person may have typed.
    package static func decode(_ text: some StringProtocol, lowerCaseOnly: Bool = false) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count.isMultiple(of: 2) else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = value(utf8[index], lowerCaseOnly), let low = value(utf8[index + 1], lowerCaseOnly) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func value(_ digit: UInt8, _ lowerCaseOnly: Bool) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F") where !lowerCaseOnly: digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
