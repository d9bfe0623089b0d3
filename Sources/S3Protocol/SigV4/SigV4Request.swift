/// The parts of an HTTP request that SigV4 covers, exactly as received.
public struct SigV4Request: Sendable {
    /// The HTTP method, uppercase.
    public var method: String
    /// The path as sent on the wire, without the query: never decoded or normalised.
    public var rawPath: String
    /// The query as sent, without the leading `?`.
    public var rawQuery: String
    /// Every header field in the order received, including `host`.
    public var headers: [(name: String, value: String)]

    public init(method: String, rawPath: String, rawQuery: String, headers: [(name: String, value: String)]) {
        self.method = method
        self.rawPath = rawPath
        self.rawQuery = rawQuery
        self.headers = headers
    }

    /// The first value of a header, by case-insensitive name.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name }?.value
    }
}

/// A verified SigV4 request: who signed it and what the signature says about the body.
public struct SigV4Authorization: Sendable {
    /// How the body relates to the signature.
    public enum Payload: Sendable {
        /// The body is not covered (`UNSIGNED-PAYLOAD`, or curl's empty-payload hash on a request with a body).
        case unsigned
        /// The body must hash to this lowercase hex SHA-256 (`XAmzContentSHA256Mismatch` otherwise).
        case sha256(String)
        /// The signature did not match the empty payload: it must match the body's SHA-256, checked once the body is read.
        case signedBodyHash(PendingSignature)
        /// `aws-chunked` with per-chunk signatures chained from the seed signature.
        case streamingSigned(StreamingSignatureContext, trailer: Bool)
        /// `aws-chunked` without signatures, with a checksum trailer.
        case streamingUnsignedTrailer
    }

    /// The access key id that signed the request.
    public let accessKeyId: String
    /// What the signature says about the body.
    public let payload: Payload
}

/// A signature still to be checked against the SHA-256 of the body.
public struct PendingSignature: Sendable {
    let signingKey: SymmetricKeyBox
    let amzDate: String
    let scope: String
    let canonicalPrefixes: [String]
    let signature: String

    /// SignatureDoesNotMatch for a body whose SHA-256 was `payloadHash`, with what the server signed.
    public func mismatch(payloadHash: String) -> S3Error {
        SigV4.mismatch(canonicalRequest: (canonicalPrefixes.first ?? "") + payloadHash, amzDate: amzDate, scope: scope)
    }

    /// Whether the signature matches a body whose SHA-256 is `payloadHash` (lowercase hex).
    public func matches(payloadHash: String) -> Bool {
        canonicalPrefixes.contains { prefix in
            let stringToSign = SigV4.stringToSign(amzDate: amzDate, scope: scope, canonicalRequest: prefix + payloadHash)
            return SigV4.constantTimeEquals(SigV4.signature(stringToSign: stringToSign, signingKey: signingKey.key), signature)
        }
    }
}

/// What is needed to verify the chunk signatures of an `aws-chunked` body.
public struct StreamingSignatureContext: Sendable {
    let signingKey: SymmetricKeyBox
    /// The request's `X-Amz-Date`.
    public let amzDate: String
    /// The credential scope `date/region/service/aws4_request`.
    public let scope: String
    /// The request signature, which the first chunk signature chains from.
    public let seedSignature: String
}

extension SigV4 {
    /// SignatureDoesNotMatch carrying, as its diagnostic for the operator's debug log (never sent), the
    /// canonical request and string to sign the server computed.
    static func mismatch(canonicalRequest: String, amzDate: String, scope: String) -> S3Error {
        var error = S3Error(.signatureDoesNotMatch)
        error.diagnostic = """
            canonical request:
            \(canonicalRequest)
            string to sign:
            \(stringToSign(amzDate: amzDate, scope: scope, canonicalRequest: canonicalRequest))
            """
        return error
    }
}

extension SigV4Request {
    /// `parsed` when the caller has it, else the request's query parsed.
    static func query(_ parsed: QueryParameters?, of request: SigV4Request) throws(S3Error) -> QueryParameters {
        if let parsed { return parsed }
        return try QueryParameters(raw: request.rawQuery[...])
    }
}
