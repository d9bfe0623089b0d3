import NIOCore
import Testing

@testable import S3Protocol

/// The worked example of the S3 documentation, "Signature calculation: transferring a payload in
/// multiple chunks": 66560 bytes of 'a' in chunks of 65536 and 1024 bytes.
@Suite struct AWSChunkedDecoderTests {
    static let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    static let seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    static let chunkSignatures = [
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
    ]

    static let request = SigV4Request(
        method: "PUT",
        rawPath: "/examplebucket/chunkObject.txt",
        rawQuery: "",
        headers: [
            ("host", "s3.amazonaws.com"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=\(seed)"
            ),
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
            ("Content-Encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "66560"),
            ("Content-Length", "66824"),
        ]
    )

    static func body(signatures: [String] = chunkSignatures) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes +=
            Array("10000;chunk-signature=\(signatures[0])\r\n".utf8) + [UInt8](repeating: UInt8(ascii: "a"), count: 65536)
            + Array("\r\n".utf8)
        bytes +=
            Array("400;chunk-signature=\(signatures[1])\r\n".utf8) + [UInt8](repeating: UInt8(ascii: "a"), count: 1024) + Array("\r\n".utf8)
        bytes += Array("0;chunk-signature=\(signatures[2])\r\n\r\n".utf8)
        return bytes
    }

    func context() throws -> StreamingSignatureContext {
        let verifier = SigV4Verifier(region: "us-east-1")
        let authorization = try verifier.verify(Self.request, now: S3Time.parseAmzDate("20130524T000000Z")!) {
            $0 == "AKIAIOSFODNN7EXAMPLE" ? Self.secret : nil
        }
        guard case .streamingSigned(let context, trailer: false) = authorization.payload else {
            Issue.record("expected a signed streaming payload")
            throw S3Error(.internalError)
        }
        return context
    }

    /// Feeds `body` in pieces of `step` bytes and returns the decoded bytes.
    func decode(_ body: [UInt8], step: Int, signing: StreamingSignatureContext?) throws(S3Error) -> [UInt8] {
        var decoder = AWSChunkedDecoder(signing: signing)
        var output: [UInt8] = []
        var offset = 0
        while offset < body.count {
            let piece = ByteBuffer(bytes: body[offset..<min(offset + step, body.count)])
            for buffer in try decoder.decode(piece) { output += Array(buffer: buffer) }
            offset += step
        }
        _ = try decoder.finish()
        return output
    }

    @Test(arguments: [1, 7, 1000, 65536, 1 << 20])
    func documentationExampleDecodes(step: Int) throws {
        let output = try decode(Self.body(), step: step, signing: try context())
        #expect(output.count == 66560)
        #expect(output.allSatisfy { $0 == UInt8(ascii: "a") })
    }

    @Test(arguments: [0, 1, 2])
    func aChangedChunkSignatureIsRejected(index: Int) throws {
        var signatures = Self.chunkSignatures
        signatures[index] = String(signatures[index].dropLast()) + (signatures[index].hasSuffix("0") ? "1" : "0")
        let context = try context()
        #expect(throws: S3Error.self) { _ = try decode(Self.body(signatures: signatures), step: 4096, signing: context) }
    }

    @Test func aChangedDataByteIsRejected() throws {
        var body = Self.body()
        body[200] = UInt8(ascii: "b")
        let context = try context()
        #expect(throws: S3Error(.signatureDoesNotMatch, "The signature of chunk ending at byte 65536 does not match.")) {
            _ = try decode(body, step: 4096, signing: context)
        }
    }

    @Test func truncatedBodiesAreIncomplete() throws {
        let body = Self.body()
        let context = try context()
        for cut in [10, 65600, body.count - 2] {
            #expect(throws: S3Error.self) { _ = try decode(Array(body[0..<cut]), step: 4096, signing: context) }
        }
    }

    @Test func unsignedChunksWithTrailer() throws {
        let text = "5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n"
        var decoder = AWSChunkedDecoder(signing: nil)
        let output = try decoder.decode(ByteBuffer(string: text)).map { String(buffer: $0) }.joined()
        #expect(output == "hello world")
        #expect(try decoder.finish() == ["x-amz-checksum-crc32": "DUoRhQ=="])
    }

    @Test(arguments: ["zz\r\nhello\r\n0\r\n\r\n", "5\r\nhelloX\r\n0\r\n\r\n", "5\nhello\r\n0\r\n\r\n", "0\r\n\r\nextra"])
    func malformedEncodings(_ text: String) {
        #expect(throws: S3Error.self) {
            var decoder = AWSChunkedDecoder(signing: nil)
            _ = try decoder.decode(ByteBuffer(string: text))
            _ = try decoder.finish()
        }
    }
}
