import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import S3Protocol
import TestSupport
import Testing

@testable import S3Gateway

@Suite struct GatewayAuthTests {
    @Test func anonymousRequestsAreDenied() async throws {
        let gateway = try LiveGateway()
        try await gateway.run { client in
            let response = try await client.execute(uri: "/", method: .get)
            #expect(response.status == .forbidden)
            #expect(response.errorCode == "AccessDenied")
            let requestId = try #require(response.headers[HTTPField.Name("x-amz-request-id")!])
            #expect(response.text.contains("<RequestId>\(requestId)</RequestId>"))
            try await client.s3(.put, "/bkt")
            let put = try await client.execute(uri: "/bkt/key", method: .put, body: ByteBuffer(string: "x"))
            #expect(put.status == .forbidden)
            // A bucket that does not exist is 404 to anyone, for every operation, as S3 answers.
            for method in [HTTPRequest.Method.get, .put, .delete, .head] {
                let missing = try await client.execute(uri: "/no-such-bucket/key", method: method)
                #expect(missing.status == .notFound, "\(method)")
            }
            #expect(try await client.execute(uri: "/no-such-bucket", method: .get).errorCode == "NoSuchBucket")
            #expect(try await client.s3(.delete, "/no-such-bucket/key").errorCode == "NoSuchBucket")
            #expect(try await client.s3(.head, "/bkt/key").status == .notFound)
        }
    }

    /// An anonymous CreateBucket is 403 AccessDenied, as AWS answers, whether or not the bucket exists.
    @Test func anonymousCreateBucketIsAccessDenied() async throws {
        let gateway = try LiveGateway()
        try await gateway.run { client in
            let missing = try await client.execute(uri: "/new-bucket", method: .put)
            #expect(missing.status == .forbidden)
            #expect(missing.errorCode == "AccessDenied")
            try await client.s3(.put, "/bkt")
            #expect(try await client.execute(uri: "/bkt", method: .put).errorCode == "AccessDenied")
            #expect(try await client.s3(.head, "/new-bucket").status == .notFound)
        }
    }

    @Test func badSignatureUnknownKeyMalformedAndSkew() async throws {
        let gateway = try LiveGateway()
        try await gateway.run { client in
            try await client.s3(.put, "/bkt")
            var wrongSecret = Signer()
            wrongSecret.key.secretKey = "not-the-secret-at-all-0000000000000000000"
            let bad = try await client.s3(.put, "/bkt/k", body: Array("data".utf8), signer: wrongSecret)
            #expect(bad.status == .forbidden)
            #expect(bad.errorCode == "SignatureDoesNotMatch")

            var unknown = Signer()
            unknown.key.accessKeyId = "UNKNOWNKEY0000000000"
            let unknownResponse = try await client.s3(.get, "/bkt", signer: unknown)
            #expect(unknownResponse.status == .forbidden)
            #expect(unknownResponse.errorCode == "InvalidAccessKeyId")

            let malformed = try await client.execute(
                uri: "/bkt",
                method: .get,
                headers: [.authorization: "AWS4-HMAC-SHA256 Credential=x", HTTPField.Name("x-amz-date")!: S3Time.amzDate(LiveGateway.now)]
            )
            #expect(malformed.status == .badRequest)
            #expect(malformed.errorCode == "AuthorizationHeaderMalformed")

            var late = Signer()
            late.now = LiveGateway.now - 16 * 60
            let skewed = try await client.s3(.get, "/bkt", signer: late)
            #expect(skewed.status == .forbidden)
            #expect(skewed.errorCode == "RequestTimeTooSkewed")

            // None of the rejected PUTs stored anything.
            let head = try await client.s3(.head, "/bkt/k")
            #expect(head.status == .notFound)
            #expect(head.body.readableBytes == 0)
        }
    }

    @Test func presignedURLs() async throws {
        let gateway = try LiveGateway()
        try await gateway.run { client in
            try await client.s3(.put, "/bkt")
            try await client.s3(.put, "/bkt/report.pdf", body: Array("pdf bytes".utf8))
            let url = Signer().presign(.get, "/bkt/report.pdf")
            let get = try await client.execute(uri: url, method: .get)
            #expect(get.status == .ok)
            #expect(get.text == "pdf bytes")
            let put = try await client.execute(
                uri: Signer().presign(.put, "/bkt/up.txt"), method: .put, headers: [.contentLength: "3"], body: ByteBuffer(string: "abc"))
            #expect(put.status == .ok)
            var old = Signer()
            old.now = LiveGateway.now - 601
            let expired = try await client.execute(uri: old.presign(.get, "/bkt/report.pdf"), method: .get)
            #expect(expired.status == .forbidden)
            #expect(expired.errorCode == "AccessDenied")
            let tampered = try await client.execute(uri: url.replacingOccurrences(of: "report.pdf", with: "up.txt"), method: .get)
            #expect(tampered.errorCode == "SignatureDoesNotMatch")
        }
    }

    @Test func curlStyleSignatureOverTheBodyHash() async throws {
        // curl --aws-sigv4 --data-binary sends no x-amz-content-sha256 and signs the body's SHA-256.
        let gateway = try LiveGateway()
        try await gateway.run { client in
            try await client.s3(.put, "/bkt")
            let body = Array("form=data&stays=raw".utf8)
            var headers: HTTPFields = [.contentLength: String(body.count), .contentType: "application/x-www-form-urlencoded"]
            let signed = Signer().headers(.put, "/bkt/form", headers: headers, payloadHash: nil, signedPayloadHash: sha256Hex(body))
            let ok = try await client.execute(uri: "/bkt/form", method: .put, headers: signed, body: ByteBuffer(bytes: body))
            #expect(ok.status == .ok)
            #expect(try await client.s3(.get, "/bkt/form").text == "form=data&stays=raw")

            // The same signature with other bytes is refused and stores nothing.
            headers[.contentLength] = String(body.count)
            let other = Array("form=data&stays=RAW".utf8)
            let forged = try await client.execute(
                uri: "/bkt/forged", method: .put,
                headers: Signer().headers(.put, "/bkt/forged", headers: headers, payloadHash: nil, signedPayloadHash: sha256Hex(body)),
                body: ByteBuffer(bytes: other))
            #expect(forged.errorCode == "SignatureDoesNotMatch")
            #expect(try await client.s3(.head, "/bkt/forged").status == .notFound)

            // curl -T signs the empty-payload hash: the body is then unsigned content, as MinIO accepts.
            let uploaded = try await client.execute(
                uri: "/bkt/t",
                method: .put,
                headers: Signer().headers(.put, "/bkt/t", headers: [.contentLength: "5"], payloadHash: nil),
                body: ByteBuffer(string: "hello")
            )
            #expect(uploaded.status == .ok)
        }
    }

    @Test func keyRights() async throws {
        let gateway = try LiveGateway()
        let reader = try gateway.addKey(readOnly: true, buckets: ["shared"])
        let user = try gateway.addKey()
        try await gateway.run { client in
            try await client.s3(.put, "/shared")
            try await client.s3(.put, "/shared/doc", body: Array("root doc".utf8))
            let readerSigner = Signer(key: reader)
            let userSigner = Signer(key: user)

            #expect(try await client.s3(.get, "/shared/doc", signer: readerSigner).text == "root doc")
            let denied = try await client.s3(.put, "/shared/doc", body: Array("x".utf8), signer: readerSigner)
            #expect(denied.status == .forbidden)
            #expect(try await client.s3(.put, "/readers-own", signer: readerSigner).status == .forbidden)

            // A user owns what it creates and cannot touch root's bucket.
            #expect(try await client.s3(.get, "/shared/doc", signer: userSigner).status == .forbidden)
            #expect(try await client.s3(.put, "/users-own", signer: userSigner).status == .ok)
            #expect(try await client.s3(.put, "/users-own/k", body: [1], signer: userSigner).status == .ok)
            let list = try await client.s3(.get, "/", signer: userSigner)
            #expect(list.text.contains("<Name>users-own</Name>"))
            #expect(!list.text.contains("<Name>shared</Name>"))

            // Bucket names are global.
            let taken = try await client.s3(.put, "/shared", signer: userSigner)
            #expect(taken.status == .conflict)
            #expect(taken.errorCode == "BucketAlreadyExists")
            let again = try await client.s3(.put, "/users-own", signer: userSigner)
            #expect(again.errorCode == "BucketAlreadyOwnedByYou")
            // Root may use every bucket, but lists only its own (an AWS account lists its own buckets).
            #expect(try await client.s3(.get, "/users-own/k").status == .ok)
            let rootList = try await client.s3(.get, "/").text
            #expect(rootList.contains("<Name>shared</Name>") && !rootList.contains("<Name>users-own</Name>"))
            // The reader lists the bucket it was granted; a missing bucket is 404 to it too, also for a write.
            #expect(try await client.s3(.get, "/", signer: readerSigner).text.contains("<Name>shared</Name>"))
            #expect(try await client.s3(.delete, "/gone/k", signer: readerSigner).errorCode == "NoSuchBucket")
        }
    }
}
