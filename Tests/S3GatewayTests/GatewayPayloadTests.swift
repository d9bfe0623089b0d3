import Crypto
import Foundation
import HTTPTypes
import Hex
import HummingbirdTesting
import NIOCore
import S3Protocol
import TestSupport
import Testing

@testable import S3Gateway

extension Signer {
    /// An aws-chunked body with chunk signatures chained from `seed`, as SDKs send it.
    func chunkedBody(_ data: [UInt8], chunkSize: Int, seed: String, tamperChunk: Int? = nil) -> [UInt8] {
        let key = SigV4.signingKey(secret: self.key.secretKey, date: String(amzDate.prefix(8)), region: region, service: "s3")
        var previous = seed
        var body: [UInt8] = []
        var chunks = stride(from: 0, to: data.count, by: chunkSize).map { Array(data[$0..<min($0 + chunkSize, data.count)]) }
        chunks.append([])
        for (index, chunk) in chunks.enumerated() {
            let stringToSign = [
                "AWS4-HMAC-SHA256-PAYLOAD", amzDate, scope, previous, SigV4.emptyPayloadHash, Hex.encode(SHA256.hash(data: chunk)),
            ].joined(separator: "\n")
            var signature = SigV4.signature(stringToSign: stringToSign, signingKey: key)
            if index == tamperChunk { signature = String(signature.reversed()) }
            previous = signature
            body += Array("\(String(chunk.count, radix: 16));chunk-signature=\(signature)\r\n".utf8) + chunk + Array("\r\n".utf8)
        }
        return body
    }
}

@Suite struct GatewayPayloadTests {
    static let data = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }

    func signedChunkedPut(_ client: some TestClientProtocol, _ target: String, tamperChunk: Int? = nil) async throws -> TestResponse {
        let signer = Signer()
        let headers: HTTPFields = [
            .contentEncoding: "aws-chunked",
            HTTPField.Name("x-amz-decoded-content-length")!: String(Self.data.count),
        ]
        let streaming = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
        var signed = signer.headers(.put, target, headers: headers, payloadHash: streaming)
        let seed = String(signed[.authorization]!.split(separator: "=").last!)
        let body = signer.chunkedBody(Self.data, chunkSize: 65536, seed: seed, tamperChunk: tamperChunk)
        signed[.contentLength] = String(body.count)
        return try await client.execute(uri: target, method: .put, headers: signed, body: ByteBuffer(bytes: body))
    }

    @Test func signedAwsChunkedUpload() async throws {
        let gateway = try LiveGateway()
        try await gateway.run { client in
            try await client.s3(.put, "/chunked")
            let ok = try await signedChunkedPut(client, "/chunked/good")
            #expect(ok.status == .ok)
            #expect(ok.headers[.eTag] == "\"\(Hex.encode(Insecure.MD5.hash(data: Self.data)))\"")
            let get = try await client.s3(.get, "/chunked/good")
            #expect(Array(buffer: get.body) == Self.data)
            #expect(get.headers[.contentEncoding] == nil, "aws-chunked is not part of the stored object")

            for chunk in [0, 2, 3] {
                let bad = try await signedChunkedPut(client, "/chunked/bad", tamperChunk: chunk)
                #expect(bad.status == .forbidden, "chunk \(chunk)")
                #expect(bad.errorCode == "SignatureDoesNotMatch")
            }
            #expect(try await client.s3(.head, "/chunked/bad").status == .notFound)
        }
    }

    @Test func unsignedChunksWithChecksumTrailer() async throws {
        let gateway = try LiveGateway()
        try await gateway.run { client in
            try await client.s3(.put, "/trailer")
            var crc = ChecksumAlgorithm.crc32c.makeHasher()
            Array("hello world".utf8).withUnsafeBytes { crc.update($0) }
            for (key, value, status) in [("good", crc.finalize(), HTTPResponse.Status.ok), ("bad", "AAAAAA==", .badRequest)] {
                let body = Array("5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32c:\(value)\r\n\r\n".utf8)
                let headers: HTTPFields = [
                    .contentEncoding: "aws-chunked",
                    .contentLength: String(body.count),
                    HTTPField.Name("x-amz-decoded-content-length")!: "11",
                    HTTPField.Name("x-amz-trailer")!: "x-amz-checksum-crc32c",
                ]
                let signed = Signer().headers(.put, "/trailer/\(key)", headers: headers, payloadHash: "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
                let response = try await client.execute(
                    uri: "/trailer/\(key)", method: .put, headers: signed, body: ByteBuffer(bytes: body))
                #expect(response.status == status)
            }
            let good = try await client.s3(.get, "/trailer/good", headers: [HTTPField.Name("x-amz-checksum-mode")!: "ENABLED"])
            #expect(good.text == "hello world")
            #expect(good.headers[HTTPField.Name("x-amz-checksum-crc32c")!] == crc.finalize())
            #expect(try await client.s3(.head, "/trailer/bad").status == .notFound)
        }
    }

    /// STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER: chunk signatures, then a trailer whose signature chains
    /// from the last chunk's: AWS4-HMAC-SHA256-TRAILER, time, scope, previous signature, SHA-256 of the trailer lines.
    @Test func signedChunksWithSignedTrailer() async throws {
        let gateway = try LiveGateway()
        try await gateway.run { client in
            try await client.s3(.put, "/strailer")
            let data = Array("signed chunks and a signed trailer".utf8)
            var sha = ChecksumAlgorithm.sha256.makeHasher()
            data.withUnsafeBytes { sha.update($0) }
            let signer = Signer()
            let key = SigV4.signingKey(
                secret: signer.key.secretKey, date: String(signer.amzDate.prefix(8)), region: "us-east-1", service: "s3")
            for (name, trailerValue, forgeTrailer, status) in [
                ("good", sha.finalize(), false, HTTPResponse.Status.ok), ("forged", sha.finalize(), true, .forbidden),
                ("mismatch", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", false, .badRequest),
            ] {
                let target = "/strailer/\(name)"
                let headers: HTTPFields = [
                    .contentEncoding: "aws-chunked",
                    HTTPField.Name("x-amz-decoded-content-length")!: String(data.count),
                    HTTPField.Name("x-amz-trailer")!: "x-amz-checksum-sha256",
                ]
                var signed = signer.headers(.put, target, headers: headers, payloadHash: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER")
                let seed = String(signed[.authorization]!.split(separator: "=").last!)
                var body = signer.chunkedBody(data, chunkSize: 16, seed: seed)
                // chunkedBody ends with the final chunk's "\r\n" data terminator: replace it with the trailer.
                body.removeLast(2)
                let lastSignature = String(decoding: body.suffix(66).prefix(64), as: UTF8.self)
                let trailerLine = "x-amz-checksum-sha256:\(trailerValue)"
                let stringToSign = [
                    "AWS4-HMAC-SHA256-TRAILER", signer.amzDate, signer.scope, lastSignature, SigV4.sha256Hex(trailerLine + "\n"),
                ].joined(separator: "\n")
                var trailerSignature = SigV4.signature(stringToSign: stringToSign, signingKey: key)
                if forgeTrailer { trailerSignature = String(trailerSignature.reversed()) }
                body += Array("\(trailerLine)\r\nx-amz-trailer-signature:\(trailerSignature)\r\n\r\n".utf8)
                signed[.contentLength] = String(body.count)
                let response = try await client.execute(uri: target, method: .put, headers: signed, body: ByteBuffer(bytes: body))
                #expect(response.status == status, "\(name)")
            }
            let good = try await client.s3(.get, "/strailer/good", headers: [HTTPField.Name("x-amz-checksum-mode")!: "ENABLED"])
            #expect(Array(buffer: good.body) == data)
            #expect(good.headers[HTTPField.Name("x-amz-checksum-sha256")!] == sha.finalize())
            #expect(try await client.s3(.head, "/strailer/forged").status == .notFound)
            #expect(try await client.s3(.head, "/strailer/mismatch").status == .notFound)
        }
    }

    @Test func signatureVersion2PresignedURLs() async throws {
        let gateway = try LiveGateway()
        try await gateway.run { client in
            try await client.s3(.put, "/v2-b")
            try await client.s3(.put, "/v2-b/a%20b", body: Array("v2 body".utf8))
            func url(_ method: String, _ path: String, expires: Int64, secret: String = LiveGateway.root.secretKey) -> String {
                let stringToSign = "\(method)\n\n\n\(expires)\n\(path)"
                let signature = Data(
                    HMAC<Insecure.SHA1>.authenticationCode(for: Array(stringToSign.utf8), using: SymmetricKey(data: Array(secret.utf8)))
                )
                .base64EncodedString()
                return
                    "\(path)?AWSAccessKeyId=\(LiveGateway.root.accessKeyId)&Expires=\(expires)&Signature=\(URIEncoding.encode(signature))"
            }
            let get = try await client.execute(uri: url("GET", "/v2-b/a%20b", expires: LiveGateway.now + 60), method: .get)
            #expect(get.text == "v2 body")
            let expired = try await client.execute(uri: url("GET", "/v2-b/a%20b", expires: LiveGateway.now - 1), method: .get)
            #expect(expired.errorCode == "AccessDenied")
            let tooLong = try await client.execute(uri: url("GET", "/v2-b/a%20b", expires: LiveGateway.now + 8 * 86400), method: .get)
            #expect(tooLong.errorCode == "AccessDenied")
            let forged = try await client.execute(
                uri: url("GET", "/v2-b/a%20b", expires: LiveGateway.now + 60, secret: "wrong"), method: .get)
            #expect(forged.errorCode == "SignatureDoesNotMatch")
            // V2 is for presigned URLs only: a V2 Authorization header is refused.
            let header = try await client.execute(
                uri: "/v2-b/a%20b", method: .get, headers: [.authorization: "AWS \(LiveGateway.root.accessKeyId):c2lnbmF0dXJl"])
            #expect(header.errorCode == "InvalidRequest")
        }
    }
}
