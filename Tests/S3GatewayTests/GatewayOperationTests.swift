import BucketStore
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

@Suite struct GatewayBucketTests {
    @Test func bucketLifecycle() async throws {
        let gateway = try LiveGateway()
        try await gateway.run { client in
            #expect(try await client.s3(.put, "/reports").status == .ok)
            let head = try await client.s3(.head, "/reports")
            #expect(head.status == .ok)
            #expect(head.headers[HTTPField.Name("x-amz-bucket-region")!] == "us-east-1")
            #expect(try await client.s3(.get, "/reports?location").text.contains("<LocationConstraint"))
            #expect(try await client.s3(.get, "/").text.contains("<Name>reports</Name>"))
            try await client.s3(.put, "/reports/k", body: [1, 2, 3])
            let notEmpty = try await client.s3(.delete, "/reports")
            #expect(notEmpty.status == .conflict)
            #expect(notEmpty.errorCode == "BucketNotEmpty")
            #expect(try await client.s3(.delete, "/reports/k").status == .noContent)
            #expect(try await client.s3(.delete, "/reports").status == .noContent)
            let gone = try await client.s3(.head, "/reports")
            #expect(gone.status == .notFound)
            #expect(gone.body.readableBytes == 0)
            #expect(try await client.s3(.get, "/reports").errorCode == "NoSuchBucket")
        }
    }

    @Test func createBucketRules() async throws {
        let gateway = try LiveGateway()
        try await gateway.run { client in
            let invalid = try await client.s3(.put, "/Bad_Name")
            #expect(invalid.status == .badRequest)
            #expect(invalid.errorCode == "InvalidBucketName")
            let configuration = Array(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>"
                    .utf8)
            let wrongRegion = try await client.s3(.put, "/eu-bucket", body: configuration)
            #expect(wrongRegion.errorCode == "InvalidLocationConstraint")
            let ours = Array(
                "<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>".utf8)
            #expect(try await client.s3(.put, "/us-bucket", body: ours).status == .ok)
            #expect(try await client.s3(.put, "/xml-bucket", body: Array("<nope".utf8)).errorCode == "MalformedXML")
            #expect(try await client.s3(.get, "/us-bucket?replication").errorCode == "NotImplemented")
            #expect(try await client.s3(.get, "/us-bucket?versioning").status == .ok)
        }
    }

    @Test func listingsV1AndV2() async throws {
        let gateway = try LiveGateway()
        try await gateway.run { client in
            try await client.s3(.put, "/lst")
            for key in ["a b+c.txt", "dir/one", "dir/two", "dir/sub/three", "zz"] {
                try await client.s3(.put, "/lst/" + URIEncoding.encode(key, keepingSlash: true), body: Array(key.utf8))
            }
            let encoded = try await client.s3(.get, "/lst?list-type=2&encoding-type=url")
            #expect(encoded.text.contains("<Key>a%20b%2Bc.txt</Key>"))
            #expect(encoded.text.contains("<KeyCount>5</KeyCount>"))
            #expect(encoded.text.contains("<EncodingType>url</EncodingType>"))

            let delimited = try await client.s3(.get, "/lst?delimiter=%2F&list-type=2")
            #expect(delimited.text.contains("<CommonPrefixes><Prefix>dir/</Prefix></CommonPrefixes>"))
            #expect(!delimited.text.contains("<Key>dir/one</Key>"))

            // Pages of two with continuation tokens.
            var keys: [String] = []
            var token: String?
            repeat {
                let query = "list-type=2&max-keys=2" + (token.map { "&continuation-token=" + URIEncoding.encode($0) } ?? "")
                let page = try await client.s3(.get, "/lst?" + query).text
                keys += page.components(separatedBy: "<Key>").dropFirst().map { String($0.prefix { $0 != "<" }) }
                token = page.range(of: "<NextContinuationToken>").map { start in
                    String(page[start.upperBound...].prefix { $0 != "<" })
                }
            } while token != nil
            #expect(keys == ["a b+c.txt", "dir/one", "dir/sub/three", "dir/two", "zz"])

            let v1 = try await client.s3(.get, "/lst?max-keys=2&marker=dir%2Fone")
            #expect(v1.text.contains("<Marker>dir/one</Marker>"))
            #expect(v1.text.contains("<Key>dir/sub/three</Key><LastModified>"))
            #expect(v1.text.contains("<IsTruncated>true</IsTruncated>"))
            #expect(v1.text.contains("<NextMarker>dir/two</NextMarker>"))

            #expect(try await client.s3(.get, "/lst?max-keys=-1").errorCode == "InvalidArgument")
            #expect(try await client.s3(.get, "/lst?list-type=2&continuation-token=%25%25").errorCode == "InvalidArgument")
            #expect(try await client.s3(.get, "/lst?max-keys=5000").text.contains("<MaxKeys>1000</MaxKeys>"))

            // encoding-type=url: v1 leaves the echoed Prefix as typed, v2 encodes it (as AWS does).
            let v1Encoded = try await client.s3(.get, "/lst?prefix=a%20b&encoding-type=url").text
            #expect(v1Encoded.contains("<Prefix>a b</Prefix>") && v1Encoded.contains("<Key>a%20b%2Bc.txt</Key>"))
            let v2Encoded = try await client.s3(.get, "/lst?list-type=2&prefix=a%20b&encoding-type=url").text
            #expect(v2Encoded.contains("<Prefix>a%20b</Prefix>"))
            // Listing times carry milliseconds.
            let stamp = try #require(v1.text.range(of: "<LastModified>").map { String(v1.text[$0.upperBound...].prefix(24)) })
            #expect(stamp.count == 24 && stamp.hasSuffix("Z") && stamp.dropLast(4).hasSuffix("."))
        }
    }

    @Test func objectVersionsOfAnUnversionedBucket() async throws {
        let gateway = try LiveGateway()
        try await gateway.run { client in
            try await client.s3(.put, "/ver")
            for key in ["a", "dir/b", "dir/c", "z z"] {
                try await client.s3(.put, "/ver/" + URIEncoding.encode(key, keepingSlash: true), body: [1])
            }
            let all = try await client.s3(.get, "/ver?versions").text
            #expect(all.contains("<ListVersionsResult"))
            #expect(all.components(separatedBy: "</Key><VersionId>null</VersionId><IsLatest>true</IsLatest><LastModified>").count == 5)
            let page = try await client.s3(.get, "/ver?versions&max-keys=1&key-marker=a&delimiter=%2F").text
            #expect(page.contains("<CommonPrefixes><Prefix>dir/</Prefix></CommonPrefixes>"))
            #expect(page.contains("<NextKeyMarker>dir/</NextKeyMarker><NextVersionIdMarker>null</NextVersionIdMarker>"))
            let encoded = try await client.s3(.get, "/ver?versions&encoding-type=url&key-marker=dir%2Fc").text
            #expect(encoded.contains("<Key>z%20z</Key>") && !encoded.contains("<Key>a</Key>"))
            #expect(try await client.s3(.get, "/ver/a?versionId=null").status == .ok)
            #expect(try await client.s3(.get, "/ver/a?versionId=3HL4kqtJlcpXroDTDmJ").errorCode == "InvalidArgument")
            #expect(try await client.s3(.delete, "/ver/a?versionId=null").status == .noContent)
            #expect(try await client.s3(.head, "/ver/a").status == .notFound)
        }
    }
}

@Suite struct GatewayObjectTests {
    @Test func putGetHeadWithMetadata() async throws {
        let gateway = try LiveGateway()
        try await gateway.run { client in
            try await client.s3(.put, "/obj")
            let headers: HTTPFields = [
                .contentType: "application/pdf",
                .contentDisposition: "attachment; filename=\"r.pdf\"",
                .cacheControl: "no-store",
                HTTPField.Name("x-amz-meta-patient")!: "p-42",
                HTTPField.Name("x-amz-acl")!: "private",
            ]
            let put = try await client.s3(.put, "/obj/reports/r.pdf", body: Array("%PDF-1.7 body".utf8), headers: headers)
            #expect(put.status == .ok)
            #expect(put.headers[.eTag] == "\"\(md5Hex("%PDF-1.7 body"))\"")
            let get = try await client.s3(.get, "/obj/reports/r.pdf")
            #expect(get.text == "%PDF-1.7 body")
            #expect(get.headers[.contentType] == "application/pdf")
            #expect(get.headers[.contentDisposition] == "attachment; filename=\"r.pdf\"")
            #expect(get.headers[.cacheControl] == "no-store")
            #expect(get.headers[HTTPField.Name("x-amz-meta-patient")!] == "p-42")
            #expect(get.headers[.lastModified] != nil)
            let head = try await client.s3(.head, "/obj/reports/r.pdf")
            #expect(head.headers[.contentLength] == "13")
            #expect(head.headers[.eTag] == put.headers[.eTag])
            let overridden = try await client.s3(.get, "/obj/reports/r.pdf?response-content-type=text%2Fplain")
            #expect(overridden.headers[.contentType] == "text/plain")
            // The object is a plain file.
            #expect(try String(contentsOfFile: gateway.dataRoot + "/obj/reports/r.pdf", encoding: .utf8) == "%PDF-1.7 body")
            let missing = try await client.s3(.get, "/obj/nope")
            #expect(missing.status == .notFound)
            #expect(missing.errorCode == "NoSuchKey")
            #expect(try await client.s3(.delete, "/obj/nope").status == .noContent)
        }
    }

    @Test func integrityChecksRejectAndStoreNothing() async throws {
        let gateway = try LiveGateway()
        try await gateway.run { client in
            try await client.s3(.put, "/chk")
            let body = Array("the real bytes".utf8)

            // x-amz-content-sha256 of other bytes.
            let signed = Signer().headers(
                .put, "/chk/a", headers: [.contentLength: String(body.count)], payloadHash: sha256Hex(Array("other".utf8)))
            let mismatch = try await client.execute(uri: "/chk/a", method: .put, headers: signed, body: ByteBuffer(bytes: body))
            #expect(mismatch.status == .badRequest)
            #expect(mismatch.errorCode == "XAmzContentSHA256Mismatch")

            let badMD5 = try await client.s3(
                .put, "/chk/b", body: body, headers: [HTTPField.Name("Content-MD5")!: "1B2M2Y8AsgTpgAmY7PhCfg=="])
            #expect(badMD5.errorCode == "BadDigest")
            let malformedMD5 = try await client.s3(.put, "/chk/c", body: body, headers: [HTTPField.Name("Content-MD5")!: "not base64"])
            #expect(malformedMD5.errorCode == "InvalidDigest")

            let badCRC = try await client.s3(.put, "/chk/d", body: body, headers: [HTTPField.Name("x-amz-checksum-crc32")!: "AAAAAA=="])
            #expect(badCRC.errorCode == "BadDigest")

            for key in ["a", "b", "c", "d"] {
                #expect(try await client.s3(.head, "/chk/" + key).status == .notFound, "\(key) must not be stored")
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: gateway.dataRoot + "/.chainvault/tmp").isEmpty)

            // Correct checksums are accepted, stored and returned on request.
            var crc = ChecksumAlgorithm.crc32.makeHasher()
            body.withUnsafeBytes { crc.update($0) }
            let good = try await client.s3(.put, "/chk/e", body: body, headers: [HTTPField.Name("x-amz-checksum-crc32")!: crc.finalize()])
            #expect(good.status == .ok)
            #expect(good.headers[HTTPField.Name("x-amz-checksum-crc32")!] == crc.finalize())
            let withMode = try await client.s3(.get, "/chk/e", headers: [HTTPField.Name("x-amz-checksum-mode")!: "ENABLED"])
            #expect(withMode.headers[HTTPField.Name("x-amz-checksum-crc32")!] == crc.finalize())
            let ranged = try await client.s3(
                .get, "/chk/e", headers: [.range: "bytes=0-3", HTTPField.Name("x-amz-checksum-mode")!: "ENABLED"])
            #expect(ranged.headers[HTTPField.Name("x-amz-checksum-crc32")!] == nil)
        }
    }

    @Test func ranges() async throws {
        let gateway = try LiveGateway()
        try await gateway.run { client in
            try await client.s3(.put, "/rng")
            try await client.s3(.put, "/rng/k", body: Array("0123456789".utf8))
            let cases: [(String, String, String)] = [
                ("bytes=2-5", "2345", "bytes 2-5/10"),
                ("bytes=7-", "789", "bytes 7-9/10"),
                ("bytes=-3", "789", "bytes 7-9/10"),
                ("bytes=8-100", "89", "bytes 8-9/10"),
            ]
            for (range, body, contentRange) in cases {
                let response = try await client.s3(.get, "/rng/k", headers: [.range: range])
                #expect(response.status == .partialContent, "\(range)")
                #expect(response.text == body, "\(range)")
                #expect(response.headers[.contentRange] == contentRange, "\(range)")
            }
            let unsatisfiable = try await client.s3(.get, "/rng/k", headers: [.range: "bytes=10-"])
            #expect(unsatisfiable.status == .rangeNotSatisfiable)
            #expect(unsatisfiable.errorCode == "InvalidRange")
            let ignored = try await client.s3(.get, "/rng/k", headers: [.range: "bytes=1-2,4-5"])
            #expect(ignored.status == .ok)
            #expect(ignored.text == "0123456789")
        }
    }

    @Test func conditionalRequests() async throws {
        let gateway = try LiveGateway()
        try await gateway.run { client in
            try await client.s3(.put, "/cnd")
            let etag = try #require(try await client.s3(.put, "/cnd/k", body: [1, 2]).headers[.eTag])
            #expect(try await client.s3(.get, "/cnd/k", headers: [.ifNoneMatch: etag]).status == .notModified)
            #expect(try await client.s3(.get, "/cnd/k", headers: [.ifMatch: etag]).status == .ok)
            let failed = try await client.s3(.get, "/cnd/k", headers: [.ifMatch: "\"other\""])
            #expect(failed.status == .preconditionFailed)
            #expect(failed.errorCode == "PreconditionFailed")
            #expect(
                try await client.s3(.head, "/cnd/k", headers: [.ifModifiedSince: "Sun, 01 Jan 2090 00:00:00 GMT"]).status == .notModified)
        }
    }

    @Test func everyKeyS3Allows() async throws {
        let gateway = try LiveGateway()
        try await gateway.run { client in
            try await client.s3(.put, "/keys")
            let keys = ["a//b", "dir/", "x/../../etc", "%2E%2E/escape", "a", "a/b", String(repeating: "k", count: 1024)]
            for (index, key) in keys.enumerated() {
                #expect(try await client.s3(.put, "/keys/" + key, body: [UInt8(index)]).status == .ok, "\(key.prefix(20))")
            }
            for (index, key) in keys.enumerated() {
                #expect(try await client.s3(.get, "/keys/" + key).body.readableBytesView.elementsEqual([UInt8(index)]), "\(key.prefix(20))")
            }
            #expect(try await client.s3(.put, "/keys/" + String(repeating: "k", count: 1025), body: [1]).errorCode == "KeyTooLongError")
            #expect(!FileManager.default.fileExists(atPath: gateway.dataRoot + "/etc"))
            #expect(!FileManager.default.fileExists(atPath: gateway.dataRoot + "/escape"))
            let listing = String(buffer: try await client.s3(.get, "/keys?list-type=2").body)
            for key in ["a//b", "dir/", "x/../../etc", "../escape", "a/b"] { #expect(listing.contains("<Key>\(key)</Key>"), "\(key)") }
            for key in keys { #expect(try await client.s3(.delete, "/keys/" + key).status == .noContent) }
            #expect(try await client.s3(.delete, "/keys").status == .noContent)
        }
    }

    @Test func conditionalWrites() async throws {
        let gateway = try LiveGateway()
        try await gateway.run { client in
            try await client.s3(.put, "/cwr")
            let created = try await client.s3(.put, "/cwr/lock", body: [1], headers: [.ifNoneMatch: "*"])
            #expect(created.status == .ok, "\(created.text)")
            let etag = try #require(created.headers[.eTag])
            let again = try await client.s3(.put, "/cwr/lock", body: [2], headers: [.ifNoneMatch: "*"])
            #expect(again.status == .preconditionFailed)
            #expect(again.errorCode == "PreconditionFailed")
            #expect(try await client.s3(.put, "/cwr/lock", body: [2], headers: [.ifMatch: "\"0123\""]).status == .preconditionFailed)
            #expect(try await client.s3(.put, "/cwr/none", body: [2], headers: [.ifMatch: etag]).errorCode == "NoSuchKey")
            #expect(try await client.s3(.put, "/cwr/lock", body: [2], headers: [.ifNoneMatch: etag]).errorCode == "NotImplemented")
            #expect(try await client.s3(.get, "/cwr/lock").body.readableBytesView.elementsEqual([1]))
            let replaced = try await client.s3(.put, "/cwr/lock", body: [3], headers: [.ifMatch: etag])
            #expect(replaced.status == .ok)
            // CopyObject's destination.
            let copy = try await client.s3(
                .put, "/cwr/lock", headers: [.ifMatch: etag, .amzCopySource: "/cwr/lock", .amzMetadataDirective: "REPLACE"])
            #expect(copy.status == .preconditionFailed)
            let copied = try await client.s3(.put, "/cwr/copy", headers: [.ifNoneMatch: "*", .amzCopySource: "/cwr/lock"])
            #expect(copied.status == .ok)
            #expect(
                try await client.s3(.put, "/cwr/copy", headers: [.ifNoneMatch: "*", .amzCopySource: "/cwr/lock"]).status
                    == .preconditionFailed)
        }
    }
}

func md5Hex(_ text: String) -> String {
    Hex.encode(Insecure.MD5.hash(data: Array(text.utf8)))
}

@Suite struct AddressingTests {
    @Test(arguments: [
        ("/", nil, nil, "", nil as String?, nil as String?),
        ("/bkt", "bkt", nil, "", nil, nil),
        ("/bkt/", "bkt", nil, "", nil, nil),
        ("/bkt/a%20b/c", "bkt", "a b/c", "", nil, nil),
        ("/bkt/a//b?list-type=2", "bkt", "a//b", "list-type=2", nil, nil),
        ("/key/x", "vb", "key/x", "", "vb.s3.test:9000", "s3.test"),
        ("/", "vb", nil, "", "VB.S3.TEST", "s3.test"),
        ("/bkt/k", "bkt", "k", "", "other.host:9000", "s3.test"),
    ])
    func parse(_ target: String, _ bucket: String?, _ key: String?, _ query: String, _ host: String?, _ domain: String?) throws {
        let address = try S3Address.parse(target: target, host: host, domain: domain)
        #expect(address.bucket == bucket)
        #expect(address.key == key)
        #expect(address.rawQuery == query)
    }

    @Test func malformedPaths() {
        #expect(throws: S3Error.self) { try S3Address.parse(target: "/bkt/%zz", host: nil, domain: nil) }
        #expect(throws: S3Error.self) { try S3Address.parse(target: "bkt/k", host: nil, domain: nil) }
    }
}

@Suite struct ConditionMatrixTests {
    static let info = ObjectInfo(
        bucket: "b", key: "k", size: 1, modificationNanos: 1_000 * 1_000_000_000, etag: "abc", attributes: ObjectAttributes())
    static let before = S3Time.httpDate(500)
    static let after = S3Time.httpDate(2_000)

    enum Outcome: Equatable { case ok, notModified, preconditionFailed }

    static func outcome(_ headers: HTTPFields) -> Outcome {
        do {
            try ObjectHandlers.checkConditions(headers, info: info)
            return .ok
        } catch is NotModified {
            return .notModified
        } catch {
            return .preconditionFailed
        }
    }

    /// The matrix of RFC 7232 section 6 as S3 applies it, including S3's two documented precedence cases.
    @Test(
        arguments: [
            ([], Outcome.ok),
            ([(HTTPField.Name.ifMatch, "\"abc\"")], .ok),
            ([(.ifMatch, "*")], .ok),
            ([(.ifMatch, "\"xyz\"")], .preconditionFailed),
            ([(.ifNoneMatch, "\"abc\"")], .notModified),
            ([(.ifNoneMatch, "\"xyz\"")], .ok),
            ([(.ifModifiedSince, before)], .ok),
            ([(.ifModifiedSince, after)], .notModified),
            ([(.ifUnmodifiedSince, after)], .ok),
            ([(.ifUnmodifiedSince, before)], .preconditionFailed),
            // If-Match true and If-Unmodified-Since false: 200.
            ([(.ifMatch, "\"abc\""), (.ifUnmodifiedSince, before)], .ok),
            // If-None-Match false and If-Modified-Since true: 304.
            ([(.ifNoneMatch, "\"abc\""), (.ifModifiedSince, before)], .notModified),
            ([(.ifMatch, "\"xyz\""), (.ifNoneMatch, "\"abc\"")], .preconditionFailed),
            ([(.ifModifiedSince, "not a date")], .ok),
        ] as [([(HTTPField.Name, String)], Outcome)])
    func matrix(_ pairs: [(HTTPField.Name, String)], _ expected: Outcome) {
        #expect(Self.outcome(HTTPFields(pairs.map { HTTPField(name: $0.0, value: $0.1) })) == expected)
    }
}

@Suite struct StoredHeaderTests {
    @Test(
        arguments: [
            ("deflate, gzip", "deflate, gzip"),
            ("aws-chunked", nil),
            ("aws-chunked, gzip", "gzip"),
            ("deflate, aws-chunked, gzip", "deflate, gzip"),
            ("gzip,aws-chunked", "gzip"),
        ] as [(String, String?)])
    func contentEncodingIsKeptAsSentWithoutAwsChunked(_ sent: String, _ stored: String?) throws {
        #expect(try ObjectHandlers.attributes([.contentEncoding: sent]).contentEncoding == stored)
    }
}
