import BucketStore
import Crypto
import Foundation
import HTTPTypes
import Hex
import Hummingbird
import HummingbirdTesting
import NIOCore
import Operations
import S3Protocol
import TestSupport

@testable import S3Gateway

/// Signs requests as an S3 SDK would, for host `localhost` (the live test client's authority).
struct Signer {
    var key: AccessKey = LiveGateway.root
    var region = "us-east-1"
    var now = LiveGateway.now

    var amzDate: String { S3Time.amzDate(now) }
    var scope: String { "\(amzDate.prefix(8))/\(region)/s3/aws4_request" }

    /// Headers for a header-signed request. `payloadHash` nil sends no x-amz-content-sha256 (as curl does).
    func headers(
        _ method: HTTPRequest.Method,
        _ target: String,
        headers extra: HTTPFields = [:],
        payloadHash: String? = SigV4.emptyPayloadHash,
        signedPayloadHash: String? = nil
    ) -> HTTPFields {
        var fields = extra
        fields[HTTPField.Name("x-amz-date")!] = amzDate
        if let payloadHash { fields[HTTPField.Name("x-amz-content-sha256")!] = payloadHash }
        var pairs: [(name: String, value: String)] = [("host", "localhost")]
        for field in fields { pairs.append((field.name.canonicalName, field.value)) }
        let split = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        fields[.authorization] = try! SigV4Signer(accessKeyId: key.accessKeyId, secretAccessKey: key.secretKey, region: region)
            .authorization(
                method: method.rawValue,
                path: String(split[0]),
                query: split.count > 1 ? String(split[1]) : "",
                headers: pairs,
                payloadHash: signedPayloadHash ?? payloadHash ?? SigV4.emptyPayloadHash,
                date: now
            )
        return fields
    }

    /// A presigned URL target (path and query) valid for `expires` seconds.
    func presign(_ method: HTTPRequest.Method, _ path: String, expires: Int = 600) -> String {
        let credential = URIEncoding.encode("\(key.accessKeyId)/\(scope)")
        let query =
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=\(credential)&X-Amz-Date=\(amzDate)&X-Amz-Expires=\(expires)&X-Amz-SignedHeaders=host"
        let canonical = SigV4.canonicalRequest(
            method: method.rawValue,
            canonicalURI: path,
            canonicalQuery: SigV4.canonicalQuery(try! QueryParameters(raw: query[...])),
            canonicalHeaders: "host:localhost\n",
            signedHeaders: ["host"],
            payloadHash: SigV4.unsignedPayload
        )
        let signingKey = SigV4.signingKey(secret: key.secretKey, date: String(amzDate.prefix(8)), region: region, service: "s3")
        let signature = SigV4.signature(
            stringToSign: SigV4.stringToSign(amzDate: amzDate, scope: scope, canonicalRequest: canonical),
            signingKey: signingKey
        )
        return "\(path)?\(query)&X-Amz-Signature=\(signature)"
    }
}

func sha256Hex(_ bytes: [UInt8]) -> String { Hex.encode(SHA256.hash(data: bytes)) }

extension TestClientProtocol {
    /// Sends a signed request and returns the response.
    @discardableResult
    func s3(
        _ method: HTTPRequest.Method,
        _ target: String,
        body: [UInt8]? = nil,
        headers: HTTPFields = [:],
        signer: Signer = Signer()
    ) async throws -> TestResponse {
        var headers = headers
        let payload = body.map(sha256Hex) ?? SigV4.emptyPayloadHash
        if let body { headers[.contentLength] = String(body.count) }
        let signed = signer.headers(method, target, headers: headers, payloadHash: payload)
        return try await execute(uri: target, method: method, headers: signed, body: body.map { ByteBuffer(bytes: $0) })
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }

    /// The `<Code>` of an S3 error body.
    var errorCode: String? {
        guard let start = text.range(of: "<Code>"), let end = text.range(of: "</Code>") else { return nil }
        return String(text[start.upperBound..<end.lowerBound])
    }
}
