/// Signs requests with AWS Signature Version 4 in the `Authorization` header, as an S3 SDK does.
///
/// Pure: the caller gives the time and the payload hash, and gets back the headers to send.
public struct SigV4Signer: Sendable {
    public let accessKeyId: String
    let secretAccessKey: String
    public let region: String
    public let service: String

    public init(accessKeyId: String, secretAccessKey: String, region: String, service: String = "s3") {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.region = region
        self.service = service
    }

    /// The headers to add to a request so that it carries a valid signature.
    ///
    /// - Parameters:
    ///   - method: The HTTP method.
    ///   - path: The request path exactly as sent (already percent-encoded).
    ///   - query: The raw query string as sent, without `?`.
    ///   - headers: Every header to sign; must include `host`.
    ///   - payloadHash: Hex SHA-256 of the body, or ``SigV4/unsignedPayload``.
    ///   - date: Seconds since 1970.
    /// - Returns: `x-amz-date`, `x-amz-content-sha256` and `authorization`.
    public func sign(
        method: String,
        path: String,
        query: String,
        headers: [(name: String, value: String)],
        payloadHash: String,
        date: Int64
    ) throws(S3Error) -> [(name: String, value: String)] {
        let added: [(name: String, value: String)] = [("x-amz-date", S3Time.amzDate(date)), ("x-amz-content-sha256", payloadHash)]
        let authorization = try self.authorization(
            method: method, path: path, query: query, headers: headers + added, payloadHash: payloadHash, date: date)
        return added + [("authorization", authorization)]
    }

    /// The `Authorization` header value over exactly the headers given, every one of them signed; the
    /// caller includes `host` and `x-amz-date`. `payloadHash` is what the canonical request ends with.
    public func authorization(
        method: String,
        path: String,
        query: String,
        headers: [(name: String, value: String)],
        payloadHash: String,
        date: Int64
    ) throws(S3Error) -> String {
        let amzDate = S3Time.amzDate(date)
        let day = String(amzDate.prefix(8))
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let all = headers.map { (name: $0.name.lowercased(), value: $0.value) }
        let signedHeaders = Array(Set(all.map(\.name))).sorted()
        let canonical = SigV4.canonicalRequest(
            method: method,
            canonicalURI: path,
            canonicalQuery: SigV4.canonicalQuery(try QueryParameters(raw: query[...])),
            canonicalHeaders: SigV4.canonicalHeaders(signedHeaders: signedHeaders, headers: all) ?? "",
            signedHeaders: signedHeaders,
            payloadHash: payloadHash
        )
        let signature = SigV4.signature(
            stringToSign: SigV4.stringToSign(amzDate: amzDate, scope: scope, canonicalRequest: canonical),
            signingKey: SigV4.signingKey(secret: secretAccessKey, date: day, region: region, service: service)
        )
        return
            "\(SigV4.algorithm) Credential=\(accessKeyId)/\(scope), SignedHeaders=\(signedHeaders.joined(separator: ";")), Signature=\(signature)"
    }
}

extension SigV4Signer: CustomStringConvertible, CustomDebugStringConvertible {
    /// The access key id and scope; never the secret.
    public var description: String { "SigV4Signer(\(accessKeyId), \(region)/\(service), secret redacted)" }
    public var debugDescription: String { description }
}
