public import Crypto
import Hex

/// AWS Signature Version 4: canonical request, string to sign, signing key and signature.
///
/// Pure functions over strings; ``SigV4Verifier`` uses them to check requests and clients
/// (tests, the chain's S3 client) use them to sign.
public enum SigV4 {
    /// The only algorithm ChainVault accepts.
    public static let algorithm = "AWS4-HMAC-SHA256"
    /// `x-amz-content-sha256` value for a body the signature does not cover.
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// SHA-256 of the empty string, the payload hash of a request without a body.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// Lowercase hex SHA-256 of the UTF-8 bytes of `text`.
    public static func sha256Hex(_ text: String) -> String {
        Hex.encode(SHA256.hash(data: Array(text.utf8)))
    }

    /// Derives the signing key `HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request")`.
    public static func signingKey(secret: String, date: String, region: String, service: String) -> SymmetricKey {
        var key = SymmetricKey(data: Array(("AWS4" + secret).utf8))
        for part in [date, region, service, "aws4_request"] {
            key = SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key))
        }
        return key
    }

    /// Hex HMAC-SHA256 of `stringToSign` under `signingKey`.
    public static func signature(stringToSign: String, signingKey: SymmetricKey) -> String {
        Hex.encode(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: signingKey))
    }

    /// The canonical query string: pairs re-encoded, sorted by name then value, `X-Amz-Signature` left out.
    public static func canonicalQuery(_ query: QueryParameters) -> String {
        query.pairs
            .filter { $0.name != "X-Amz-Signature" }
            .map { (URIEncoding.encode($0.name), URIEncoding.encode($0.value)) }
            .sorted { $0.0 == $1.0 ? $0.1.utf8.lexicographicallyPrecedes($1.1.utf8) : $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// Trims a header value and folds each run of spaces and tabs into one space.
    static func canonicalHeaderValue(_ value: String) -> String {
        var out = ""
        var pendingSpace = false
        for character in value {
            if character == " " || character == "\t" || character == "\n" || character == "\r" {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(" ") }
                pendingSpace = false
                out.append(character)
            }
        }
        return out
    }

    /// The canonical headers block: one `name:value\n` line per signed header, repeated values joined by commas.
    /// - Returns: nil when a signed header is missing from the request.
    public static func canonicalHeaders(signedHeaders: [String], headers: [(name: String, value: String)]) -> String? {
        var block = ""
        for name in signedHeaders {
            let values = headers.filter { $0.name.lowercased() == name }.map { canonicalHeaderValue($0.value) }
            guard !values.isEmpty else { return nil }
            block += name + ":" + values.joined(separator: ",") + "\n"
        }
        return block
    }

    /// Assembles the canonical request.
    public static func canonicalRequest(
        method: String,
        canonicalURI: String,
        canonicalQuery: String,
        canonicalHeaders: String,
        signedHeaders: [String],
        payloadHash: String
    ) -> String {
        [method, canonicalURI, canonicalQuery, canonicalHeaders, signedHeaders.joined(separator: ";"), payloadHash]
            .joined(separator: "\n")
    }

    /// Assembles the string to sign for a canonical request.
    public static func stringToSign(amzDate: String, scope: String, canonicalRequest: String) -> String {
        [algorithm, amzDate, scope, sha256Hex(canonicalRequest)].joined(separator: "\n")
    }

    /// Compares two signatures in time that depends only on their length.
    public static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }
}
