/// Strict number parsing for protocol fields.
///
/// Swift's `Int(_:radix:)` also accepts a leading `+` or `-`, which no S3 field allows
/// (`X-Amz-Expires=+600`, an aws-chunked size of `+10`): these accept digits only.
extension FixedWidthInteger {
    /// The value of a non-empty string of decimal digits, or `nil` for anything else
    /// (a sign, a space, an empty string) or a value that does not fit.
    package init?(decimalDigits text: some StringProtocol) {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        self.init(text, radix: 10)
    }

    /// The value of a non-empty string of hexadecimal digits, or `nil` for anything else.
    package init?(hexDigits text: some StringProtocol) {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0.isASCIIHexDigit }) else { return nil }
        self.init(text, radix: 16)
    }
}

extension UInt8 {
    fileprivate var isASCIIHexDigit: Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self)
            || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(self)
    }
}
