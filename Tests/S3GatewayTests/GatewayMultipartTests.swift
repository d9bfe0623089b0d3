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

/// The `<Tag>` value of an XML body.
func xmlValue(_ text: String, _ tag: String) -> String? {
    guard let start = text.range(of: "<\(tag)>"), let end = text.range(of: "</\(tag)>", range: start.upperBound..<text.endIndex) else {
        return nil
    }
    return String(text[start.upperBound..<end.lowerBound])
}

func completeBody(_ parts: [(Int, String)], namespace: Bool = true) -> [UInt8] {
    let xmlns = namespace ? " xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"" : ""
    let items = parts.map { "<Part><PartNumber>\($0.0)</PartNumber><ETag>\($0.1)</ETag></Part>" }.joined()
    return Array("<CompleteMultipartUpload\(xmlns)>\(items)</CompleteMultipartUpload>".utf8)
}

@Suite struct GatewayMultipartTests {
    static let partA = [UInt8](repeating: 0x41, count: 5 * 1024 * 1024)
    static let partB = Array("the last part may be small".utf8)

    @Test func uploadOutOfOrderResendCompleteAndRepeat() async throws {
        let gateway = try LiveGateway()
        try await gateway.run { client in
            try await client.s3(.put, "/mpu")
            let created = try await client.s3(.post, "/mpu/big/file.bin?uploads", headers: [.contentType: "application/x-test"])
            let uploadId = try #require(xmlValue(created.text, "UploadId"))

            // Part 2 first, then a wrong part 1 that is replaced by the right one.
            let etagB = try #require(
                try await client.s3(.put, "/mpu/big/file.bin?partNumber=2&uploadId=\(uploadId)", body: Self.partB).headers[.eTag])
            _ = try await client.s3(.put, "/mpu/big/file.bin?partNumber=1&uploadId=\(uploadId)", body: [1, 2, 3])
            let etagA = try #require(
                try await client.s3(.put, "/mpu/big/file.bin?partNumber=1&uploadId=\(uploadId)", body: Self.partA).headers[.eTag])
            #expect(etagA == "\"\(Hex.encode(Insecure.MD5.hash(data: Self.partA)))\"")

            let parts = try await client.s3(.get, "/mpu/big/file.bin?uploadId=\(uploadId)")
            #expect(parts.text.components(separatedBy: "<Part>").count == 3)
            #expect(parts.text.contains("<Size>\(Self.partA.count)</Size>"))
            let uploads = try await client.s3(.get, "/mpu?uploads")
            #expect(xmlValue(uploads.text, "UploadId") == uploadId)

            // A bucket with an upload in flight is not empty.
            #expect(try await client.s3(.delete, "/mpu").errorCode == "BucketNotEmpty")

            // Bad completions change nothing.
            #expect(
                try await client.s3(.post, "/mpu/big/file.bin?uploadId=\(uploadId)", body: completeBody([(2, etagB), (1, etagA)])).errorCode
                    == "InvalidPartOrder")
            #expect(
                try await client.s3(.post, "/mpu/big/file.bin?uploadId=\(uploadId)", body: completeBody([(1, "\"00\""), (2, etagB)]))
                    .errorCode == "InvalidPart")
            #expect(
                try await client.s3(.post, "/mpu/big/file.bin?uploadId=\(uploadId)", body: completeBody([(1, etagA), (3, etagB)])).errorCode
                    == "InvalidPart")
            #expect(try await client.s3(.post, "/mpu/big/file.bin?uploadId=\(uploadId)", body: []).errorCode == "MalformedXML")
            #expect(
                try await client.s3(.post, "/mpu/big/file.bin?uploadId=\(uploadId)", body: Array("<junk".utf8)).errorCode == "MalformedXML")
            #expect(try await client.s3(.head, "/mpu/big/file.bin").status == .notFound)

            let body = completeBody([(1, etagA), (2, etagB)], namespace: false)
            let done = try await client.s3(.post, "/mpu/big/file.bin?uploadId=\(uploadId)", body: body)
            #expect(done.status == .ok)
            let md5s = Array(Insecure.MD5.hash(data: Self.partA)) + Array(Insecure.MD5.hash(data: Self.partB))
            let expected = "\"\(Hex.encode(Insecure.MD5.hash(data: md5s)))-2\""
            #expect(xmlValue(done.text, "ETag") == expected.replacingOccurrences(of: "\"", with: "&quot;"))

            let get = try await client.s3(.get, "/mpu/big/file.bin")
            #expect(Array(buffer: get.body) == Self.partA + Self.partB)
            #expect(get.headers[.eTag] == expected)
            #expect(get.headers[.contentType] == "application/x-test")

            // Completing again with the same parts answers 200 again; the upload is otherwise gone.
            #expect(try await client.s3(.post, "/mpu/big/file.bin?uploadId=\(uploadId)", body: body).status == .ok)
            #expect(try await client.s3(.get, "/mpu/big/file.bin?uploadId=\(uploadId)").errorCode == "NoSuchUpload")
            #expect(!(try await client.s3(.get, "/mpu?uploads").text.contains("<UploadId>")))
        }
    }

    @Test func conditionalCompletion() async throws {
        let gateway = try LiveGateway()
        try await gateway.run { client in
            try await client.s3(.put, "/mpu3")
            try await client.s3(.put, "/mpu3/taken", body: [9])
            for (key, expected) in [("taken", "PreconditionFailed"), ("free", nil)] as [(String, String?)] {
                let uploadId = try #require(xmlValue(try await client.s3(.post, "/mpu3/\(key)?uploads").text, "UploadId"))
                let etag = try #require(
                    try await client.s3(.put, "/mpu3/\(key)?partNumber=1&uploadId=\(uploadId)", body: [1]).headers[.eTag])
                let done = try await client.s3(
                    .post, "/mpu3/\(key)?uploadId=\(uploadId)", body: completeBody([(1, etag)]), headers: [.ifNoneMatch: "*"])
                #expect(done.errorCode == expected, "\(key)")
            }
            #expect(try await client.s3(.get, "/mpu3/taken").body.readableBytesView.elementsEqual([9]))
            #expect(try await client.s3(.get, "/mpu3/free").body.readableBytesView.elementsEqual([1]))
        }
    }

    @Test func smallPartsAbortAndUnknownUploads() async throws {
        let gateway = try LiveGateway()
        try await gateway.run { client in
            try await client.s3(.put, "/mpu2")
            let uploadId = try #require(xmlValue(try await client.s3(.post, "/mpu2/k?uploads").text, "UploadId"))
            let e1 = try #require(try await client.s3(.put, "/mpu2/k?partNumber=1&uploadId=\(uploadId)", body: [1]).headers[.eTag])
            let e2 = try #require(try await client.s3(.put, "/mpu2/k?partNumber=2&uploadId=\(uploadId)", body: [2]).headers[.eTag])
            #expect(
                try await client.s3(.post, "/mpu2/k?uploadId=\(uploadId)", body: completeBody([(1, e1), (2, e2)])).errorCode
                    == "EntityTooSmall")
            #expect(try await client.s3(.put, "/mpu2/k?partNumber=0&uploadId=\(uploadId)", body: [1]).errorCode == "InvalidArgument")
            #expect(try await client.s3(.put, "/mpu2/k?partNumber=10001&uploadId=\(uploadId)", body: [1]).errorCode == "InvalidArgument")
            #expect(try await client.s3(.delete, "/mpu2/k?uploadId=\(uploadId)").status == .noContent)
            #expect(try await client.s3(.put, "/mpu2/k?partNumber=1&uploadId=\(uploadId)", body: [1]).errorCode == "NoSuchUpload")
            #expect(try await client.s3(.delete, "/mpu2/k?uploadId=\(uploadId)").errorCode == "NoSuchUpload")
            #expect(try await client.s3(.get, "/mpu2/k?uploadId=../../etc").errorCode == "NoSuchUpload")
            #expect(try await client.s3(.delete, "/mpu2").status == .noContent)
        }
    }

    @Test func uploadPartCopyWithRange() async throws {
        let gateway = try LiveGateway()
        try await gateway.run { client in
            try await client.s3(.put, "/src-b")
            try await client.s3(.put, "/src-b/source", body: Self.partA + Self.partB)
            let uploadId = try #require(xmlValue(try await client.s3(.post, "/src-b/copy?uploads").text, "UploadId"))
            let first = try await client.s3(
                .put,
                "/src-b/copy?partNumber=1&uploadId=\(uploadId)",
                headers: [
                    HTTPField.Name("x-amz-copy-source")!: "/src-b/source",
                    HTTPField.Name("x-amz-copy-source-range")!: "bytes=0-\(Self.partA.count - 1)",
                ]
            )
            let e1 = try #require(xmlValue(first.text, "ETag")).replacingOccurrences(of: "&quot;", with: "\"")
            let second = try await client.s3(
                .put,
                "/src-b/copy?partNumber=2&uploadId=\(uploadId)",
                headers: [
                    HTTPField.Name("x-amz-copy-source")!: "src-b/source",
                    HTTPField.Name("x-amz-copy-source-range")!: "bytes=\(Self.partA.count)-\(Self.partA.count + Self.partB.count - 1)",
                ]
            )
            let e2 = try #require(xmlValue(second.text, "ETag")).replacingOccurrences(of: "&quot;", with: "\"")
            let badRange = try await client.s3(
                .put,
                "/src-b/copy?partNumber=3&uploadId=\(uploadId)",
                headers: [
                    HTTPField.Name("x-amz-copy-source")!: "src-b/source", HTTPField.Name("x-amz-copy-source-range")!: "bytes=5-999999999",
                ]
            )
            #expect(badRange.errorCode == "InvalidArgument")
            #expect(try await client.s3(.post, "/src-b/copy?uploadId=\(uploadId)", body: completeBody([(1, e1), (2, e2)])).status == .ok)
            #expect(Array(buffer: try await client.s3(.get, "/src-b/copy").body) == Self.partA + Self.partB)
        }
    }
}

@Suite struct GatewayCopyAndDeleteTests {
    @Test func copyObject() async throws {
        let gateway = try LiveGateway()
        let other = try gateway.addKey()
        try await gateway.run { client in
            try await client.s3(.put, "/copy-a")
            try await client.s3(.put, "/copy-b")
            try await client.s3(
                .put, "/copy-a/src", body: Array("source bytes".utf8),
                headers: [.contentType: "text/plain", HTTPField.Name("x-amz-meta-who")!: "src"])
            let copySource = HTTPField.Name("x-amz-copy-source")!

            let same = try await client.s3(.put, "/copy-b/dst%20copy", headers: [copySource: "/copy-a/src"])
            #expect(same.status == .ok)
            #expect(xmlValue(same.text, "ETag")?.contains(md5Hex("source bytes")) == true)
            let copied = try await client.s3(.get, "/copy-b/dst%20copy")
            #expect(copied.text == "source bytes")
            #expect(copied.headers[.contentType] == "text/plain")
            #expect(copied.headers[HTTPField.Name("x-amz-meta-who")!] == "src")

            let replaced = try await client.s3(
                .put,
                "/copy-a/src",
                headers: [
                    copySource: "copy-a/src", HTTPField.Name("x-amz-metadata-directive")!: "REPLACE", .contentType: "application/json",
                ]
            )
            #expect(replaced.status == .ok)
            let afterReplace = try await client.s3(.get, "/copy-a/src")
            #expect(afterReplace.text == "source bytes")
            #expect(afterReplace.headers[.contentType] == "application/json")
            #expect(afterReplace.headers[HTTPField.Name("x-amz-meta-who")!] == nil)

            #expect(try await client.s3(.put, "/copy-a/src", headers: [copySource: "copy-a/src"]).errorCode == "InvalidRequest")
            #expect(try await client.s3(.put, "/copy-a/x", headers: [copySource: "copy-a/missing"]).errorCode == "NoSuchKey")
            #expect(
                try await client.s3(
                    .put, "/copy-a/x", headers: [copySource: "copy-a/src", HTTPField.Name("x-amz-copy-source-if-match")!: "\"nope\""]
                ).errorCode == "PreconditionFailed")
            #expect(
                try await client.s3(
                    .put, "/copy-a/x", headers: [copySource: "copy-a/src", HTTPField.Name("x-amz-copy-source-if-none-match")!: "*"]
                ).errorCode == "PreconditionFailed")
            #expect(try await client.s3(.head, "/copy-a/x").status == .notFound)

            // Another user may not copy from a bucket it cannot read.
            try await client.s3(.put, "/others", signer: Signer(key: other))
            let denied = try await client.s3(.put, "/others/stolen", headers: [copySource: "copy-a/src"], signer: Signer(key: other))
            #expect(denied.status == .forbidden)
            #expect(try await client.s3(.head, "/others/stolen").status == .notFound)
        }
    }

    @Test func deleteObjects() async throws {
        let gateway = try LiveGateway()
        try await gateway.run { client in
            try await client.s3(.put, "/del")
            for key in ["a", "b", "dir/c"] { try await client.s3(.put, "/del/" + key, body: [1]) }
            let body = Array(
                "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Object><Key>a</Key></Object><Object><Key>dir/c</Key></Object><Object><Key>missing</Key></Object></Delete>"
                    .utf8)
            let result = try await client.s3(.post, "/del?delete", body: body)
            #expect(result.status == .ok)
            #expect(result.text.components(separatedBy: "<Deleted>").count == 4)
            #expect(try await client.s3(.head, "/del/a").status == .notFound)
            #expect(try await client.s3(.head, "/del/b").status == .ok)

            let quiet = Array("<Delete><Quiet>true</Quiet><Object><Key>b</Key></Object></Delete>".utf8)
            let quietResult = try await client.s3(.post, "/del?delete", body: quiet)
            #expect(!quietResult.text.contains("<Deleted>"))
            #expect(try await client.s3(.head, "/del/b").status == .notFound)

            let tooMany = Array(("<Delete>" + String(repeating: "<Object><Key>k</Key></Object>", count: 1001) + "</Delete>").utf8)
            #expect(try await client.s3(.post, "/del?delete", body: tooMany).errorCode == "MalformedXML")
            #expect(try await client.s3(.post, "/del?delete", body: Array("<Delete></Delete>".utf8)).errorCode == "MalformedXML")
            let badMD5 = try await client.s3(
                .post, "/del?delete", body: quiet, headers: [HTTPField.Name("Content-MD5")!: "1B2M2Y8AsgTpgAmY7PhCfg=="])
            #expect(badMD5.errorCode == "BadDigest")
        }
    }

    @Test func probesAndBucketPagination() async throws {
        let gateway = try LiveGateway()
        try await gateway.run { client in
            for name in ["pa", "pb", "pc"].map({ "page-" + $0 }) { try await client.s3(.put, "/" + name) }
            #expect(try await client.s3(.get, "/page-pa?policy").errorCode == "NoSuchBucketPolicy")
            #expect(try await client.s3(.get, "/page-pa?cors").errorCode == "NoSuchCORSConfiguration")
            #expect(try await client.s3(.get, "/page-pa?lifecycle").errorCode == "NoSuchLifecycleConfiguration")
            #expect(try await client.s3(.get, "/page-pa?website").errorCode == "NotImplemented")
            let first = try await client.s3(.get, "/?max-buckets=2")
            #expect(first.text.contains("<Name>page-pa</Name>") && first.text.contains("<Name>page-pb</Name>"))
            let token = try #require(xmlValue(first.text, "ContinuationToken"))
            let second = try await client.s3(.get, "/?max-buckets=2&continuation-token=\(token)")
            #expect(second.text.contains("<Name>page-pc</Name>") && !second.text.contains("page-pa"))
            #expect(xmlValue(second.text, "ContinuationToken") == nil)
        }
    }
}
