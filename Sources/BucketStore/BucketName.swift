/// Validates bucket names by the S3 general-purpose bucket naming rules.
public enum BucketName {
    /// Whether `name` is a valid bucket name: 3 to 63 characters of `a-z 0-9 . -`, starting and ending with a
    /// letter or digit, no `..`, `.-` or `-.`, not an IPv4 address, none of S3's reserved prefixes and suffixes.
    ///
    /// Valid names never start with a dot, so they cannot collide with the store's own dot-folders.
    public static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (3...63).contains(bytes.count) else { return false }
        func isAlphanumeric(_ b: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b)
        }
        guard bytes.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }),
            isAlphanumeric(bytes.first!), isAlphanumeric(bytes.last!)
        else { return false }
        if name.contains("..") || name.contains(".-") || name.contains("-.") { return false }
        for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] where name.hasPrefix(prefix) { return false }
        for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] where name.hasSuffix(suffix) { return false }
        let octets = name.split(separator: ".", omittingEmptySubsequences: false)
        if octets.count == 4, octets.allSatisfy({ UInt8($0) != nil }) { return false }
        return true
    }
}
