import Foundation
import Hex
import Testing

@testable import S3Protocol

@Suite struct ChecksumTests {
    /// The check values of the CRC catalogue for the input "123456789".
    @Test(arguments: [
        (ChecksumAlgorithm.crc32, "cbf43926"),
        (.crc32c, "e3069283"),
        (.crc64nvme, "ae8b14860a799888"),
        (.sha1, "f7c3bc1d808e04732adf679965ccc34ca7ae3441"),
        (.sha256, "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225"),
    ])
    func checkValue(_ algorithm: ChecksumAlgorithm, _ hex: String) {
        var hasher = algorithm.makeHasher()
        Array("123456789".utf8).withUnsafeBytes { hasher.update($0) }
        #expect(Hex.encode(hasher.finalizeBytes()) == hex)
        #expect(hasher.finalizeBytes().count == algorithm.digestLength)
    }

    @Test func incrementalEqualsOneShot() {
        let data = Array((0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        var whole = ChecksumAlgorithm.crc32.makeHasher()
        data.withUnsafeBytes { whole.update($0) }
        var pieces = ChecksumAlgorithm.crc32.makeHasher()
        for chunk in stride(from: 0, to: data.count, by: 777) {
            data[chunk..<min(chunk + 777, data.count)].withUnsafeBytes { pieces.update($0) }
        }
        #expect(whole.finalize() == pieces.finalize())
    }
}

@Suite struct S3TimeTests {
    @Test func amzDateRoundTrip() {
        let seconds = S3Time.parseAmzDate("20150830T123600Z")
        #expect(seconds == 1_440_938_160)
        #expect(S3Time.amzDate(1_440_938_160) == "20150830T123600Z")
        #expect(S3Time.httpDate(1_440_938_160) == "Sun, 30 Aug 2015 12:36:00 GMT")
        #expect(S3Time.iso8601(1_440_938_160) == "2015-08-30T12:36:00.000Z")
        #expect(S3Time.iso8601(milliseconds: 1_440_938_160_042) == "2015-08-30T12:36:00.042Z")
        #expect(S3Time.iso8601(milliseconds: -1) == "1969-12-31T23:59:59.999Z")
        #expect(S3Time.parseHTTPDate("Sun, 30 Aug 2015 12:36:00 GMT") == 1_440_938_160)
        #expect(S3Time.parseISO8601("2015-08-30T12:36:00.000Z") == 1_440_938_160)
        #expect(S3Time.parseISO8601("2015-08-30T12:36:00Z") == 1_440_938_160, "SeaweedFS and MinIO may drop the fraction")
        #expect(S3Time.parseISO8601("2015-08-30T12:36:00.123456Z") == 1_440_938_160)
    }

    @Test(arguments: ["2015-02-30T12:36:00.000Z", "2015-08-30 12:36:00Z", "2015-08-30T12:36:00.Z", "2015-08-30T12:36:00+01:00", ""])
    func invalidListingDates(_ text: String) {
        #expect(S3Time.parseISO8601(text) == nil)
    }

    @Test(arguments: ["20150230T123600Z", "2015083T123600Z", "20150830 123600Z", "20151330T123600Z", "abcdefghijklmnop", ""])
    func invalidAmzDates(_ text: String) {
        #expect(S3Time.parseAmzDate(text) == nil)
    }
}

@Suite struct URIEncodingTests {
    @Test func encodesAllButUnreserved() {
        #expect(URIEncoding.encode("a b+c/d~e_f.g-h*") == "a%20b%2Bc%2Fd~e_f.g-h%2A")
        #expect(URIEncoding.encode("a b+c/d", keepingSlash: true) == "a%20b%2Bc/d")
        #expect(URIEncoding.encode("\u{1234}") == "%E1%88%B4")
    }

    @Test func decodesOnceAndKeepsPlus() {
        #expect(URIEncoding.decode("a%20b+c%252F") == "a b+c%2F")
        #expect(URIEncoding.decode("%zz") == nil)
        #expect(URIEncoding.decode("%E1%88") == nil)
    }
}

@Suite struct S3OperationTests {
    @Test(arguments: [
        ("GET", false, false, "", S3Operation.listBuckets),
        ("PUT", true, false, "", .createBucket),
        ("HEAD", true, false, "", .headBucket),
        ("DELETE", true, false, "", .deleteBucket),
        ("GET", true, false, "location", .getBucketLocation),
        ("GET", true, false, "versioning", .getBucketVersioning),
        ("GET", true, false, "acl", .getBucketAcl),
        ("GET", true, false, "", .listObjects),
        ("GET", true, false, "list-type=2&prefix=a", .listObjectsV2),
        ("GET", true, false, "uploads", .listMultipartUploads),
        ("POST", true, false, "delete", .deleteObjects),
        ("GET", true, false, "policy", .getBucketPolicy),
        ("GET", true, false, "cors", .getBucketCors),
        ("GET", true, false, "lifecycle", .getBucketLifecycleConfiguration),
        ("GET", true, false, "website", .unsupported),
        ("PUT", true, false, "versioning", .unsupported),
        ("PUT", true, true, "", .putObject),
        ("GET", true, true, "", .getObject),
        ("GET", true, true, "response-content-type=text/plain", .getObject),
        ("HEAD", true, true, "", .headObject),
        ("DELETE", true, true, "", .deleteObject),
        ("GET", true, true, "acl", .getObjectAcl),
        ("GET", true, true, "tagging", .getObjectTagging),
        ("POST", true, true, "uploads", .createMultipartUpload),
        ("PUT", true, true, "partNumber=1&uploadId=x", .uploadPart),
        ("POST", true, true, "uploadId=x", .completeMultipartUpload),
        ("DELETE", true, true, "uploadId=x", .abortMultipartUpload),
        ("GET", true, true, "uploadId=x", .listParts),
        ("GET", true, false, "versions&prefix=a", .listObjectVersions),
    ])
    func classify(_ method: String, _ bucket: Bool, _ key: Bool, _ query: String, _ expected: S3Operation) throws {
        let parameters = try QueryParameters(raw: query[...])
        #expect(S3Operation.classify(method: method, hasBucket: bucket, hasKey: key, query: parameters) == expected)
    }

    @Test func copySourceSelectsCopy() throws {
        let none = try QueryParameters(raw: ""[...])
        #expect(S3Operation.classify(method: "PUT", hasBucket: true, hasKey: true, query: none, hasCopySource: true) == .copyObject)
    }

    @Test(arguments: [("POST", false, false), ("PUT", false, false), ("PATCH", true, true), ("POST", true, false)])
    func noOperation(_ method: String, _ bucket: Bool, _ key: Bool) throws {
        #expect(S3Operation.classify(method: method, hasBucket: bucket, hasKey: key, query: try QueryParameters(raw: ""[...])) == nil)
    }
}

@Suite struct WireTests {
    @Test func errorDocument() {
        let document = ErrorDocument(error: S3Error(.noSuchKey, resource: "/b/k"), requestId: "ABC")
        let xml = String(decoding: document.xml(), as: UTF8.self)
        #expect(
            xml
                == "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Resource>/b/k</Resource><RequestId>ABC</RequestId></Error>"
        )
    }

    @Test func errorCodesHaveS3Statuses() {
        #expect(S3ErrorCode.noSuchBucket.httpStatus == 404)
        #expect(S3ErrorCode.signatureDoesNotMatch.httpStatus == 403)
        #expect(S3ErrorCode.bucketAlreadyOwnedByYou.httpStatus == 409)
        #expect(S3ErrorCode.invalidRange.httpStatus == 416)
        #expect(S3ErrorCode.xAmzContentSHA256Mismatch.httpStatus == 400)
        #expect(S3ErrorCode.allCases.allSatisfy { !$0.defaultMessage.isEmpty })
    }

    @Test func createBucketConfigurationWithAndWithoutNamespace() throws {
        let namespaced = Array(
            "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>"
                .utf8
        )
        #expect(try S3XML.decode(CreateBucketConfiguration.self, from: namespaced).locationConstraint == "eu-west-1")
        let plain = Array("<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>".utf8)
        #expect(try S3XML.decode(CreateBucketConfiguration.self, from: plain).locationConstraint == "us-east-1")
        #expect(throws: S3Error(.malformedXML)) { try S3XML.decode(CreateBucketConfiguration.self, from: Array("<oops".utf8)) }
    }

    @Test func listResultShape() {
        let result = ListBucketResultV2(
            name: "b", prefix: "", maxKeys: 1000, keyCount: 1, delimiter: "/", isTruncated: false, continuationToken: nil,
            nextContinuationToken: nil, startAfter: nil, encodingType: nil,
            contents: [ListedObject(key: "k", lastModified: "2015-08-30T12:36:00.000Z", eTag: "\"e\"", size: 3, owner: nil)],
            commonPrefixes: [CommonPrefix(prefix: "p/")]
        )
        let xml = String(decoding: result.xml(), as: UTF8.self)
        #expect(xml.contains("<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name>"))
        #expect(
            xml.contains(
                "<Contents><Key>k</Key><LastModified>2015-08-30T12:36:00.000Z</LastModified><ETag>&quot;e&quot;</ETag><Size>3</Size><StorageClass>STANDARD</StorageClass></Contents>"
            ))
        #expect(xml.contains("<CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes>"))
        #expect(
            String(decoding: LocationConstraint(region: "us-east-1").xml(), as: UTF8.self).hasSuffix(
                "<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"></LocationConstraint>"))
    }
}
