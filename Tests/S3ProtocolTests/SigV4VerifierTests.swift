import Foundation
import Testing

@testable import S3Protocol

/// S3-specific signing cases, signed by botocore 1.43 (S3SigV4Auth / S3SigV4QueryAuth) for this suite.
@Suite struct SigV4VerifierTests {
    static let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    static let now = S3Time.parseAmzDate("20261124T132535Z")!
    let verifier = SigV4Verifier(region: "us-east-1")

    /// The S3 error code `body` throws, or nil.
    func errorCode(_ body: () throws(S3Error) -> Void) -> S3ErrorCode? {
        do {
            try body()
            return nil
        } catch {
            return error.code
        }
    }

    func verify(_ request: SigV4Request, now: Int64 = Self.now) throws(S3Error) -> SigV4Authorization {
        try verifier.verify(request, now: now) { $0 == "AKIDEXAMPLE" ? Self.secret : nil }
    }

    static let putRequest = SigV4Request(
        method: "PUT",
        rawPath: "/reports/a%20b%2Bc.txt",
        rawQuery: "",
        headers: [
            ("host", "127.0.0.1:9000"),
            ("Content-Type", "text/plain"),
            ("X-Amz-Date", "20261124T132535Z"),
            ("X-Amz-Content-SHA256", "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/s3/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature=b423c0a4f860a546bd2dc4302ef32e6fd6d7050a1d8bed86213b1ad71bcacb2d"
            ),
        ]
    )

    @Test func botocorePutWithPayloadHash() throws {
        let authorization = try verify(Self.putRequest)
        guard case .sha256(let hash) = authorization.payload else {
            Issue.record("expected a signed payload hash")
            return
        }
        #expect(hash == SigV4.sha256Hex("hello"))
    }

    @Test func botocoreListWithEncodedQuery() throws {
        let request = SigV4Request(
            method: "GET",
            rawPath: "/reports",
            rawQuery: "list-type=2&prefix=a%2Fb&encoding-type=url",
            headers: [
                ("host", "127.0.0.1:9000"),
                ("X-Amz-Date", "20261124T132535Z"),
                ("X-Amz-Content-SHA256", SigV4.emptyPayloadHash),
                (
                    "Authorization",
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=6f9d5648709d518d8ae7611fe0421c0cb0ff63d1bd8987dd47f0f24e44ea37e2"
                ),
            ]
        )
        _ = try verify(request)
    }

    static let presigned = SigV4Request(
        method: "GET",
        rawPath: "/reports/x.txt",
        rawQuery:
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261124%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261124T132535Z&X-Amz-Expires=600&X-Amz-SignedHeaders=host&X-Amz-Signature=e0f2b6c25ba418d2bf184ddbe569c4afbfc0c88f3fd36518869ce0c77692271e",
        headers: [("host", "127.0.0.1:9000")]
    )

    @Test func botocorePresignedURL() throws {
        let authorization = try verify(Self.presigned)
        guard case .unsigned = authorization.payload else {
            Issue.record("a presigned URL does not sign the body")
            return
        }
    }

    @Test func presignedURLExpires() {
        #expect(throws: S3Error(.accessDenied, "Request has expired.")) { try verify(Self.presigned, now: Self.now + 601) }
        #expect(throws: Never.self) { try verify(Self.presigned, now: Self.now + 600) }
    }

    @Test(arguments: ["0", "604801", "-5", "ten"])
    func presignedExpiryOutOfRange(_ expires: String) {
        var request = Self.presigned
        request.rawQuery = request.rawQuery.replacingOccurrences(of: "X-Amz-Expires=600", with: "X-Amz-Expires=\(expires)")
        #expect(errorCode { () throws(S3Error) in _ = try verify(request) } == .accessDenied)
    }

    @Test func clockSkewOverFifteenMinutes() {
        #expect(throws: S3Error(.requestTimeTooSkewed)) { try verify(Self.putRequest, now: Self.now + 15 * 60 + 1) }
        #expect(throws: S3Error(.requestTimeTooSkewed)) { try verify(Self.putRequest, now: Self.now - 15 * 60 - 1) }
        #expect(throws: Never.self) { try verify(Self.putRequest, now: Self.now + 15 * 60) }
    }

    @Test func unknownAccessKey() {
        #expect(throws: S3Error(.invalidAccessKeyId)) {
            try verifier.verify(Self.putRequest, now: Self.now) { _ in nil }
        }
    }

    @Test func anonymousRequest() {
        let request = SigV4Request(method: "GET", rawPath: "/", rawQuery: "", headers: [("host", "h")])
        #expect(errorCode { () throws(S3Error) in _ = try verify(request) } == .accessDenied)
    }

    @Test(arguments: [
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/s3/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/s3/aws4_request, SignedHeaders=host, Signature=\(String(repeating: "0", count: 64))",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/eu-west-1/s3/aws4_request, SignedHeaders=host, Signature=\(String(repeating: "0", count: 64))",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=\(String(repeating: "0", count: 64))",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/s3/aws4_request, SignedHeaders=x-amz-date, Signature=\(String(repeating: "0", count: 64))",
        "garbage",
    ])
    func malformedAuthorizationHeader(_ header: String) {
        var request = Self.putRequest
        request.headers.removeAll { $0.name == "Authorization" }
        request.headers.append(("Authorization", header))
        #expect(errorCode { () throws(S3Error) in _ = try verify(request) } == .authorizationHeaderMalformed)
    }

    @Test func signatureVersion2IsRefused() {
        var header = Self.putRequest
        header.headers.removeAll { $0.name == "Authorization" }
        header.headers.append(("Authorization", "AWS AKIDEXAMPLE:c2lnbmF0dXJl"))
        #expect(throws: SigV4Verifier.signatureVersion2) { try verify(header) }
        let query = SigV4Request(
            method: "GET", rawPath: "/b/k", rawQuery: "AWSAccessKeyId=AKIDEXAMPLE&Signature=abc&Expires=1", headers: [("host", "h")])
        #expect(throws: SigV4Verifier.signatureVersion2) { try verify(query) }
    }

    @Test func payloadHashMustBeHexOrKnownValue() {
        var request = Self.putRequest
        let index = request.headers.firstIndex { $0.name == "X-Amz-Content-SHA256" }!
        request.headers[index].value = "not-a-hash"
        // The signature covers the claimed value, so a changed claim fails the signature first.
        #expect(throws: S3Error(.signatureDoesNotMatch)) { try verify(request) }
    }

    @Test func legacyUSRegionIsUsEast1() throws {
        // s3cmd signs for "US" by default; it is S3's legacy name for us-east-1.
        let key = SigV4.signingKey(secret: Self.secret, date: "20261124", region: "US", service: "s3")
        let headers: [(name: String, value: String)] = [
            ("host", "h"), ("x-amz-date", "20261124T132535Z"), ("x-amz-content-sha256", SigV4.emptyPayloadHash),
        ]
        let canonical = SigV4.canonicalRequest(
            method: "GET",
            canonicalURI: "/",
            canonicalQuery: "",
            canonicalHeaders: SigV4.canonicalHeaders(signedHeaders: ["host", "x-amz-content-sha256", "x-amz-date"], headers: headers)!,
            signedHeaders: ["host", "x-amz-content-sha256", "x-amz-date"],
            payloadHash: SigV4.emptyPayloadHash
        )
        let signature = SigV4.signature(
            stringToSign: SigV4.stringToSign(
                amzDate: "20261124T132535Z", scope: "20261124/US/s3/aws4_request", canonicalRequest: canonical),
            signingKey: key
        )
        let request = SigV4Request(
            method: "GET",
            rawPath: "/",
            rawQuery: "",
            headers: headers + [
                (
                    "authorization",
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/US/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=\(signature)"
                )
            ]
        )
        _ = try verify(request)
    }

    @Test func canonicalHeaderValuesAreTrimmedAndFolded() {
        #expect(SigV4.canonicalHeaderValue("  a   b \t c  ") == "a b c")
        #expect(SigV4.canonicalHeaderValue("\"a   b   c\"") == "\"a b c\"")
    }

    @Test func canonicalQuerySortsAndReencodes() throws {
        let query = try QueryParameters(raw: "b=2&a=%7e&a=1&c&X-Amz-Signature=zz&d=a%20b+c"[...])
        #expect(SigV4.canonicalQuery(query) == "a=1&a=~&b=2&c=&d=a%20b%2Bc")
    }

    @Test func signaturesCompareInConstantTimeShape() {
        #expect(SigV4.constantTimeEquals("abc", "abc"))
        #expect(!SigV4.constantTimeEquals("abc", "abd"))
        #expect(!SigV4.constantTimeEquals("abc", "abcd"))
    }

    @Test func signingKeysAreCachedPerScope() {
        let cache = SigningKeyCache(capacity: 2)
        let a = cache.signingKey(secret: "s", date: "20261124", region: "us-east-1", service: "s3")
        #expect(cache.signingKey(secret: "s", date: "20261124", region: "us-east-1", service: "s3") == a)
        #expect(cache.signingKey(secret: "s", date: "20261125", region: "us-east-1", service: "s3") != a)
        #expect(a == SigV4.signingKey(secret: "s", date: "20261124", region: "us-east-1", service: "s3"))
    }
}
