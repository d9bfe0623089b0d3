public import S3Protocol

/// The bucket and key a request addresses, taken from the raw request path and decoded once.
///
/// Path style: `/bucket/key`. Virtual-host style: `bucket.<domain>/key` when a domain is configured.
/// The key is never normalised: `a//b` and `a/./b` are keys as they stand (and the store decides
/// whether they can be files).
public struct S3Address: Sendable, Equatable {
    public var bucket: String?
    public var key: String?
    /// The raw path, without the query.
    public var rawPath: String
    /// The raw query, without `?`.
    public var rawQuery: String
    /// Whether the bucket came from the Host header (`bucket.<domain>`).
    public var isVirtualHost = false

    /// The path as S3 signs it in Signature Version 2: `/bucket/key`, also for virtual-host requests.
    public var resourcePath: String {
        guard isVirtualHost, let bucket else { return rawPath }
        return "/" + bucket + rawPath
    }

    /// Splits a raw request target (`/bucket/key?query`) into bucket, key and query.
    /// - Parameters:
    ///   - target: The request target as sent.
    ///   - host: The `Host` header (authority), for virtual-host addressing.
    ///   - domain: The configured base domain; nil disables virtual-host addressing.
    /// - Throws: ``S3Error`` `InvalidURI`-like `InvalidArgument` when the path is not absolute or badly encoded.
    public static func parse(target: String, host: String?, domain: String?) throws(S3Error) -> S3Address {
        let rawPath: Substring
        let rawQuery: Substring
        // Byte searches for ASCII separators: every cut is on a character boundary, without grapheme breaking.
        if let question = target.utf8.firstIndex(of: UInt8(ascii: "?")) {
            rawPath = target[..<question]
            rawQuery = target[target.utf8.index(after: question)...]
        } else {
            rawPath = target[...]
            rawQuery = ""
        }
        guard rawPath.hasPrefix("/") else { throw S3Error(.invalidArgument, "The request path must start with '/'.") }
        guard let path = URIEncoding.decode(rawPath) else {
            throw S3Error(.invalidArgument, "The request path holds a malformed percent-encoding.")
        }
        var address = S3Address(bucket: nil, key: nil, rawPath: String(rawPath), rawQuery: String(rawQuery))
        if let domain, let host, case let hostName = String(host.prefix { $0 != ":" }).lowercased(), hostName.hasSuffix("." + domain) {
            address.bucket = String(hostName.dropLast(domain.count + 1))
            address.isVirtualHost = true
            let key = path.dropFirst()
            address.key = key.isEmpty ? nil : String(key)
            return address
        }
        let rest = path.dropFirst()
        guard !rest.isEmpty else { return address }
        if let slash = rest.utf8.firstIndex(of: UInt8(ascii: "/")) {
            address.bucket = String(rest[..<slash])
            let key = rest[rest.utf8.index(after: slash)...]
            address.key = key.isEmpty ? nil : String(key)
        } else {
            address.bucket = String(rest)
        }
        return address
    }
}
