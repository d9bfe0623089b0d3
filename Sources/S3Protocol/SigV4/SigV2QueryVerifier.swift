import Crypto
import Foundation

/// Verifies presigned URLs in the older query form (`AWSAccessKeyId`, `Expires`, `Signature`,
/// HMAC-SHA1), which boto3 and the aws CLI v1 produce by default in us-east-1.
///
/// Only presigned URLs are accepted in this form; header-signed requests must be SigV4.
public struct SigV2QueryVerifier: Sendable {
    /// The query parameters that are part of the signed resource, as S3 defines them.
    static let subresources: Set<String> = [
        "acl", "cors", "delete", "lifecycle", "location", "logging", "notification", "partNumber", "policy",
        "requestPayment", "response-cache-control", "response-content-disposition", "response-content-encoding",
        "response-content-language", "response-content-type", "response-expires", "tagging", "torrent", "uploadId",
        "uploads", "versionId", "versioning", "versions", "website",
    ]

    public init() {}

    /// Whether the query carries a V2 presigned signature.
    public static func isPresigned(_ query: QueryParameters) -> Bool {
        query.contains("AWSAccessKeyId") && query.contains("Signature")
    }

    /// Verifies a V2 presigned request.
    /// - Parameters:
    ///   - bucketPath: The path of the resource as S3 signs it: `/bucket/key` even for virtual-host requests.
    ///   - query: The request's query, when the caller has parsed it already (else parsed from `request`).
    /// - Returns: The access key id; the body is never signed in this form.
    /// - Throws: ``S3Error`` `AccessDenied` (expired, or expiring more than 7 days ahead),
    ///   `AuthorizationQueryParametersError` (missing parameters), `InvalidAccessKeyId`, `SignatureDoesNotMatch`.
    public func verify(
        _ request: SigV4Request,
        bucketPath: String,
        query: QueryParameters? = nil,
        now: Int64,
        secretForAccessKey: (String) -> String?
    ) throws(S3Error) -> SigV4Authorization {
        let query = try SigV4Request.query(query, of: request)
        guard let accessKeyId = query["AWSAccessKeyId"], let signature = query["Signature"], let expiresText = query["Expires"],
            let expires = Int64(decimalDigits: expiresText)
        else {
            throw S3Error(.authorizationQueryParametersError, "Query-string authentication requires AWSAccessKeyId, Expires and Signature.")
        }
        if now > expires { throw S3Error(.accessDenied, "Request has expired.") }
        if expires - now > SigV4Verifier.maxPresignedExpiry {
            throw S3Error(.accessDenied, "Expires must be at most 604800 seconds (7 days) in the future.")
        }
        guard let secret = secretForAccessKey(accessKeyId) else { throw S3Error(.invalidAccessKeyId) }

        var amzHeaders: [String: [String]] = [:]
        for header in request.headers where header.name.lowercased().hasPrefix("x-amz-") {
            amzHeaders[header.name.lowercased(), default: []].append(SigV4.canonicalHeaderValue(header.value))
        }
        let canonicalAmz = amzHeaders.keys.sorted().map { "\($0):\(amzHeaders[$0]!.joined(separator: ","))\n" }.joined()
        let signed = query.pairs.filter { Self.subresources.contains($0.name) }.sorted { $0.name < $1.name }
        let subresources = signed.map { $0.value.isEmpty && !$0.name.hasPrefix("response-") ? $0.name : "\($0.name)=\($0.value)" }
        let suffix = subresources.isEmpty ? "" : "?" + subresources.joined(separator: "&")

        var paths = [bucketPath]
        if let decoded = URIEncoding.decode(bucketPath) {
            for candidate in [URIEncoding.encode(decoded, keepingSlash: true), decoded] where !paths.contains(candidate) {
                paths.append(candidate)
            }
        }
        let key = SymmetricKey(data: Array(secret.utf8))
        for path in paths {
            let stringToSign = [
                request.method, request.header("content-md5") ?? "", request.header("content-type") ?? "", expiresText,
                canonicalAmz + path + suffix,
            ].joined(separator: "\n")
            let expected = Data(HMAC<Insecure.SHA1>.authenticationCode(for: Array(stringToSign.utf8), using: key)).base64EncodedString()
            if SigV4.constantTimeEquals(expected, signature) {
                return SigV4Authorization(accessKeyId: accessKeyId, payload: .unsigned)
            }
        }
        throw S3Error(.signatureDoesNotMatch)
    }
}
