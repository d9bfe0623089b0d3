import Crypto

/// Verifies AWS Signature Version 4 on incoming requests: header auth and presigned URLs.
///
/// The canonical request is built from the path exactly as sent; if that fails, from the path
/// re-encoded by AWS's rules (clients that leave characters such as `(` unescaped on the wire
/// but sign them escaped). The path is never normalised: no dot segments are removed and no
/// slashes merged, as S3 does.
public struct SigV4Verifier: Sendable {
    /// Whether a query carries a SigV4 presigned signature (`X-Amz-Algorithm` or `X-Amz-Signature`).
    public static func isPresigned(_ query: QueryParameters) -> Bool {
        query.contains("X-Amz-Algorithm") || query.contains("X-Amz-Signature")
    }

    /// The region requests must be scoped to.
    public let region: String
    /// The service requests must be scoped to (`s3`).
    public let service: String
    /// The largest difference between request time and server time, in seconds.
    public let maxClockSkew: Int64
    private let cache: SigningKeyCache

    /// What S3 answers, in regions without Signature Version 2, to a V2-signed request.
    static let signatureVersion2 = S3Error(
        .invalidRequest,
        "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
    )

    /// The longest validity of a presigned URL: 7 days.
    public static let maxPresignedExpiry: Int64 = 7 * 24 * 3600

    public init(region: String, service: String = "s3", maxClockSkew: Int64 = 15 * 60, cache: SigningKeyCache = SigningKeyCache()) {
        self.region = region
        self.service = service
        self.maxClockSkew = maxClockSkew
        self.cache = cache
    }

    /// Whether the request carries any SigV4 credentials at all.
    public static func isSigned(_ request: SigV4Request, query: QueryParameters) -> Bool {
        request.header("authorization") != nil || query.contains("X-Amz-Algorithm") || query.contains("X-Amz-Signature")
    }

    /// Verifies the request's signature.
    /// - Parameters:
    ///   - request: The request as received.
    ///   - query: The request's query, when the caller has parsed it already (else parsed from `request`).
    ///   - now: The server's time in seconds since 1970.
    ///   - secretForAccessKey: Looks up the secret of an access key id.
    /// - Returns: The access key id and what the signature says about the body.
    /// - Throws: ``S3Error`` with `AccessDenied` (no credentials, expired URL), `AuthorizationHeaderMalformed`,
    ///   `AuthorizationQueryParametersError`, `InvalidAccessKeyId`, `RequestTimeTooSkewed`, `SignatureDoesNotMatch`,
    ///   `InvalidArgument` (bad query or `x-amz-content-sha256`).
    public func verify(
        _ request: SigV4Request,
        query: QueryParameters? = nil,
        now: Int64,
        secretForAccessKey: (String) -> String?
    ) throws(S3Error) -> SigV4Authorization {
        let query = try SigV4Request.query(query, of: request)
        let authorization = request.header("authorization")
        let parsed: ParsedAuthorization
        if authorization != nil, query.contains("X-Amz-Algorithm") {
            throw S3Error(.invalidArgument, "Only one auth mechanism allowed; use either the Authorization header or query parameters.")
        } else if let authorization {
            parsed = try parseHeader(authorization, request: request)
        } else if Self.isPresigned(query) {
            parsed = try parseQuery(query, now: now)
        } else if SigV2QueryVerifier.isPresigned(query) {
            // The caller should have used SigV2QueryVerifier for this request.
            throw Self.signatureVersion2
        } else {
            throw S3Error(.accessDenied, "Anonymous requests are not allowed; sign the request with an access key.")
        }
        if !parsed.presigned, abs(now - parsed.timestamp) > maxClockSkew {
            throw S3Error(.requestTimeTooSkewed)
        }
        guard let secret = secretForAccessKey(parsed.accessKeyId) else { throw S3Error(.invalidAccessKeyId) }

        let key = cache.signingKey(secret: secret, date: parsed.date, region: parsed.region, service: parsed.service)
        guard let headerBlock = SigV4.canonicalHeaders(signedHeaders: parsed.signedHeaders, headers: request.headers) else {
            throw S3Error(.accessDenied, "A header named in SignedHeaders is missing from the request.")
        }
        let prefixes = canonicalPaths(request.rawPath).map { path in
            SigV4.canonicalRequest(
                method: request.method,
                canonicalURI: path,
                canonicalQuery: SigV4.canonicalQuery(query),
                canonicalHeaders: headerBlock,
                signedHeaders: parsed.signedHeaders,
                payloadHash: ""
            )
        }
        func matches(_ payloadHash: String) -> Bool {
            prefixes.contains { prefix in
                let stringToSign = SigV4.stringToSign(amzDate: parsed.amzDate, scope: parsed.scope, canonicalRequest: prefix + payloadHash)
                return SigV4.constantTimeEquals(SigV4.signature(stringToSign: stringToSign, signingKey: key), parsed.signature)
            }
        }
        /// SignatureDoesNotMatch, with what the server signed for the operator's debug log.
        func mismatch(_ payloadHash: String) -> S3Error {
            SigV4.mismatch(canonicalRequest: (prefixes.first ?? "") + payloadHash, amzDate: parsed.amzDate, scope: parsed.scope)
        }

        let claimed = request.header("x-amz-content-sha256")
        let payload: SigV4Authorization.Payload
        switch claimed {
        case nil where parsed.presigned:
            guard matches(SigV4.unsignedPayload) || matches(SigV4.emptyPayloadHash) else { throw mismatch(SigV4.unsignedPayload) }
            payload = .unsigned
        case nil:
            // curl --aws-sigv4 sends no x-amz-content-sha256 and signs either the empty-payload hash
            // or the body's SHA-256; the latter can only be checked once the body has been read.
            if matches(SigV4.emptyPayloadHash) {
                payload = .unsigned
            } else if !Self.mayHaveBody(request) {
                throw mismatch(SigV4.emptyPayloadHash)
            } else {
                payload = .signedBodyHash(
                    PendingSignature(
                        signingKey: SymmetricKeyBox(key: key),
                        amzDate: parsed.amzDate,
                        scope: parsed.scope,
                        canonicalPrefixes: prefixes,
                        signature: parsed.signature
                    )
                )
            }
        case let value?:
            guard matches(value) else { throw mismatch(value) }
            payload = try Self.payload(claim: value, key: key, parsed: parsed)
        }
        return SigV4Authorization(accessKeyId: parsed.accessKeyId, payload: payload)
    }

    private static func payload(claim: String, key: SymmetricKey, parsed: ParsedAuthorization) throws(S3Error) -> SigV4Authorization.Payload
    {
        let context = StreamingSignatureContext(
            signingKey: SymmetricKeyBox(key: key),
            amzDate: parsed.amzDate,
            scope: parsed.scope,
            seedSignature: parsed.signature
        )
        switch claim {
        case SigV4.unsignedPayload: return .unsigned
        case "STREAMING-AWS4-HMAC-SHA256-PAYLOAD": return .streamingSigned(context, trailer: false)
        case "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER": return .streamingSigned(context, trailer: true)
        case "STREAMING-UNSIGNED-PAYLOAD-TRAILER": return .streamingUnsignedTrailer
        default:
            let bytes = claim.utf8
            guard bytes.count == 64, bytes.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
                throw S3Error(
                    .invalidArgument, "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a STREAMING- value or a lowercase hex SHA-256.")
            }
            return .sha256(claim)
        }
    }

    /// Whether the request announces a body (a non-zero Content-Length or a chunked transfer).
    static func mayHaveBody(_ request: SigV4Request) -> Bool {
        if let length = request.header("content-length") { return length != "0" }
        return request.header("transfer-encoding") != nil
    }

    /// The path as sent, then (if different) the path decoded and re-encoded by AWS's rules.
    private func canonicalPaths(_ rawPath: String) -> [String] {
        let path = rawPath.isEmpty ? "/" : rawPath
        guard let decoded = URIEncoding.decode(path) else { return [path] }
        let reencoded = URIEncoding.encode(decoded, keepingSlash: true)
        return reencoded == path ? [path] : [path, reencoded]
    }

    // MARK: Parsing

    struct ParsedAuthorization {
        var accessKeyId: String
        var date: String
        var region: String
        var service: String
        var signedHeaders: [String]
        var signature: String
        var amzDate: String
        var timestamp: Int64
        var presigned: Bool
        var scope: String { "\(date)/\(region)/\(service)/aws4_request" }
    }

    private func parseHeader(_ header: String, request: SigV4Request) throws(S3Error) -> ParsedAuthorization {
        func malformed(_ message: String) -> S3Error { S3Error(.authorizationHeaderMalformed, message) }
        guard header.hasPrefix(SigV4.algorithm + " ") else {
            if header.hasPrefix("AWS ") { throw Self.signatureVersion2 }
            throw malformed("The authorization header must start with AWS4-HMAC-SHA256.")
        }
        var fields: [String: String] = [:]
        for part in header.dropFirst(SigV4.algorithm.count + 1).split(separator: ",") {
            let trimmed = part.trimmingSpaces()
            guard let equals = trimmed.firstIndex(of: "=") else { throw malformed("The authorization header has a field without '='.") }
            fields[String(trimmed[..<equals])] = String(trimmed[trimmed.index(after: equals)...])
        }
        guard let credential = fields["Credential"], let signedHeaders = fields["SignedHeaders"], let signature = fields["Signature"]
        else {
            throw malformed("The authorization header must hold Credential, SignedHeaders and Signature.")
        }
        guard let amzDate = request.header("x-amz-date") ?? request.header("date"),
            let timestamp = S3Time.parseAmzDate(amzDate) ?? S3Time.parseHTTPDate(amzDate)
        else {
            throw S3Error(.accessDenied, "AWS authentication requires a valid Date or x-amz-date header.")
        }
        return try parseCommon(
            credential: credential,
            signedHeaders: signedHeaders,
            signature: signature,
            amzDate: S3Time.amzDate(timestamp),
            timestamp: timestamp,
            presigned: false,
            error: malformed
        )
    }

    private func parseQuery(_ query: QueryParameters, now: Int64) throws(S3Error) -> ParsedAuthorization {
        func malformed(_ message: String) -> S3Error { S3Error(.authorizationQueryParametersError, message) }
        guard query["X-Amz-Algorithm"] == SigV4.algorithm else {
            throw malformed("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\".")
        }
        guard let credential = query["X-Amz-Credential"], let signedHeaders = query["X-Amz-SignedHeaders"],
            let signature = query["X-Amz-Signature"], let amzDate = query["X-Amz-Date"], let expiresText = query["X-Amz-Expires"]
        else {
            throw malformed(
                "Query-string authentication requires X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders and X-Amz-Signature."
            )
        }
        guard let timestamp = S3Time.parseAmzDate(amzDate) else {
            throw malformed("X-Amz-Date must be in the ISO8601 basic format yyyyMMdd'T'HHmmss'Z'.")
        }
        guard let expires = Int64(decimalDigits: expiresText), expires >= 1, expires <= Self.maxPresignedExpiry else {
            throw S3Error(.accessDenied, "X-Amz-Expires must be between 1 and 604800 seconds (7 days).")
        }
        if timestamp - maxClockSkew > now {
            throw S3Error(.accessDenied, "Request is not valid yet.")
        }
        if now > timestamp + expires {
            throw S3Error(.accessDenied, "Request has expired.")
        }
        return try parseCommon(
            credential: credential,
            signedHeaders: signedHeaders,
            signature: signature,
            amzDate: amzDate,
            timestamp: timestamp,
            presigned: true,
            error: malformed
        )
    }

    private func parseCommon(
        credential: String,
        signedHeaders: String,
        signature: String,
        amzDate: String,
        timestamp: Int64,
        presigned: Bool,
        error: (String) -> S3Error
    ) throws(S3Error) -> ParsedAuthorization {
        let scope = credential.split(separator: "/", omittingEmptySubsequences: false)
        guard scope.count == 5, scope[4] == "aws4_request", !scope[0].isEmpty else {
            throw error("The credential must be ACCESS_KEY/yyyyMMdd/region/service/aws4_request.")
        }
        // "US" is S3's legacy name of us-east-1; s3cmd signs with it by default.
        guard scope[2] == region || (region == "us-east-1" && scope[2] == "US") else {
            throw error("The region '\(scope[2])' is wrong; expecting '\(region)'.")
        }
        guard scope[3] == service else {
            throw error("The service '\(scope[3])' is wrong; expecting '\(service)'.")
        }
        let amzDay = S3Time.amzDate(timestamp).prefix(8)
        guard scope[1] == amzDay else {
            throw error("The credential date '\(scope[1])' does not match the request date '\(amzDay)'.")
        }
        let headers = signedHeaders.split(separator: ";").map { $0.lowercased() }
        guard !headers.isEmpty, headers.contains("host") else {
            throw error("SignedHeaders must include host.")
        }
        guard signature.utf8.count == 64 else {
            throw error("The signature must be 64 lowercase hex digits.")
        }
        return ParsedAuthorization(
            accessKeyId: String(scope[0]),
            date: String(scope[1]),
            region: String(scope[2]),
            service: service,
            signedHeaders: headers,
            signature: signature,
            amzDate: amzDate,
            timestamp: timestamp,
            presigned: presigned
        )
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var result = self
        while result.first == " " { result.removeFirst() }
        while result.last == " " { result.removeLast() }
        return result
    }
}
