import BucketStore
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOPosix
import S3Gateway
import TestSupport
import Testing

@testable import S3Client

/// Runs `body` with a client signed for a live gateway on a fresh data root and port 0.
func withGateway(secret: String? = nil, _ body: @escaping @Sendable (S3Client) async throws -> Void) async throws {
    let key = AccessKey(accessKeyId: "CLIENTTESTKEY0000000", secretKey: "client-test-secret-0123456789abcdefgh", isRoot: true)
    let gateway = try LiveGateway(rootKey: key, clock: { Int64(Date().timeIntervalSince1970) })
    try await gateway.run { client in
        let endpoint = try S3Endpoint(
            url: "http://127.0.0.1:\(client.port!)", region: "us-east-1", accessKeyId: key.accessKeyId,
            secretAccessKey: secret ?? key.secretKey)
        try await body(S3Client(endpoint: endpoint, retry: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(5))))
    }
}

/// A server that answers each request with the next scripted status, counting requests.
actor Script {
    var statuses: [Int]
    var requests = 0
    init(_ statuses: [Int]) { self.statuses = statuses }
    /// A GET whose connection drops after part of the body.
    static let cut = -1
    static let object = (0..<1000).map { UInt8(truncatingIfNeeded: $0 * 7) }
    func next() -> Int {
        requests += 1
        return statuses.isEmpty ? 200 : statuses.removeFirst()
    }
}

func withScriptedServer(_ script: Script, _ body: @Sendable (S3Client) async throws -> Void) async throws {
    let router = Router()
    router.put("/{bucket}/{key}") { _, _ -> Response in
        let status = await script.next()
        guard status != 200 else { return Response(status: .ok, headers: [.eTag: "\"e\""]) }
        let code = status == 503 ? "SlowDown" : status == 500 ? "InternalError" : "InvalidArgument"
        let xml = "<?xml version=\"1.0\"?><Error><Code>\(code)</Code><Message>scripted</Message><RequestId>r1</RequestId></Error>"
        return Response(status: .init(code: status), body: .init(byteBuffer: ByteBuffer(string: xml)))
    }
    // GET answers the scripted object; the status `Script.cut` promises all of it, sends 300 bytes and drops the connection.
    router.get("/{bucket}/{key}") { _, _ -> Response in
        let cut = await script.next() == Script.cut
        return Response(
            status: .ok, headers: [.contentLength: String(Script.object.count)],
            body: ResponseBody { writer in
                try await writer.write(ByteBuffer(bytes: cut ? Array(Script.object.prefix(300)) : Script.object))
                if cut { throw CancellationError() }
                try await writer.finish(nil)
            })
    }
    let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    try await app.test(.live) { client in
        let endpoint = try S3Endpoint(url: "http://127.0.0.1:\(client.port!)", region: "us-east-1", accessKeyId: "k", secretAccessKey: "s")
        try await body(S3Client(endpoint: endpoint, retry: RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(1))))
    }
}

@Suite struct S3ClientTests {
    @Test func objectRoundTripThroughTheGateway() async throws {
        try await withGateway { client in
            try await client.createBucket("client-bucket")
            try await client.createBucket("client-bucket")  // already ours: fine
            #expect(try await client.bucketExists("client-bucket"))
            #expect(try await client.bucketExists("no-such-bucket") == false)

            let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let key = "dir/a key+with ünïcode & symbols=1"
            let eTag = try await client.putObject(bucket: "client-bucket", key: key, body: ByteBuffer(bytes: bytes))
            #expect(eTag?.hasPrefix("\"") == true)
            #expect(try await client.headObject(bucket: "client-bucket", key: key) == S3ObjectHead(size: 100_000, eTag: eTag))
            let read = try await client.getObject(bucket: "client-bucket", key: key, maxBytes: 1 << 20)
            #expect(read.map { Array(buffer: $0) } == bytes)
            let range = try await client.getObject(bucket: "client-bucket", key: key, range: 10...19, maxBytes: 10)
            #expect(range.map { Array(buffer: $0) } == Array(bytes[10...19]))

            await #expect(throws: S3ClientError.self) {
                _ = try await client.getObject(bucket: "client-bucket", key: key, maxBytes: 1000)
            }

            #expect(try await client.getObject(bucket: "client-bucket", key: "missing", maxBytes: 10) == nil)
            #expect(try await client.headObject(bucket: "client-bucket", key: "missing") == nil)
            try await client.deleteObject(bucket: "client-bucket", key: key)
            try await client.deleteObject(bucket: "client-bucket", key: key)  // already gone: fine
            #expect(try await client.headObject(bucket: "client-bucket", key: key) == nil)
        }
    }

    @Test func listingFollowsContinuationTokens() async throws {
        try await withGateway { client in
            try await client.createBucket("list-bucket")
            for index in 0..<5 {
                try await client.putObject(bucket: "list-bucket", key: "k\(index)", body: ByteBuffer(bytes: [UInt8(index)]))
            }
            let first = try await client.listObjects(bucket: "list-bucket", maxKeys: 2)
            #expect(first.objects.map(\.key) == ["k0", "k1"])
            #expect(first.isTruncated && first.nextContinuationToken != nil)
            let all = try await client.listAllObjects(bucket: "list-bucket")
            #expect(all.map(\.key) == ["k0", "k1", "k2", "k3", "k4"])
            #expect(all.allSatisfy { $0.size == 1 })
            let now = Int64(Date().timeIntervalSince1970)
            #expect(all.allSatisfy { abs(($0.lastModified ?? 0) - now) < 60 }, "LastModified read from the listing")
            #expect(try await client.listAllObjects(bucket: "list-bucket", prefix: "k3").map(\.key) == ["k3"])
            try await client.createBucket("empty-bucket")
            #expect(try await client.listAllObjects(bucket: "empty-bucket").isEmpty)
        }
    }

    @Test func serviceErrorsCarryTheS3Code() async throws {
        try await withGateway(secret: "a-wrong-secret-0123456789abcdefghijkl") { client in
            let error = await #expect(throws: S3ClientError.self) { try await client.createBucket("denied-bucket") }
            #expect(error?.kind == .service(status: 403, code: "SignatureDoesNotMatch"))
            #expect(error?.description.contains("PUT /denied-bucket") == true)
        }
        try await withGateway { client in
            let error = await #expect(throws: S3ClientError.self) {
                try await client.putObject(bucket: "no-such-bucket", key: "k", body: ByteBuffer(bytes: [1]))
            }
            #expect(error?.kind == .service(status: 404, code: "NoSuchBucket"))
        }
    }

    @Test func transientFailuresAreRetried() async throws {
        let script = Script([503, 500])
        try await withScriptedServer(script) { client in
            let eTag = try await client.putObject(bucket: "b", key: "k", body: ByteBuffer(bytes: [1]))
            #expect(eTag == "\"e\"")
        }
        #expect(await script.requests == 3)
    }

    @Test func retriesAreBounded() async throws {
        let script = Script([503, 503, 503, 503, 503])
        try await withScriptedServer(script) { client in
            let error = await #expect(throws: S3ClientError.self) {
                try await client.putObject(bucket: "b", key: "k", body: ByteBuffer(bytes: [1]))
            }
            #expect(error?.kind == .service(status: 503, code: "SlowDown"))
        }
        #expect(await script.requests == 4)
    }

    @Test func clientErrorsAreNotRetried() async throws {
        let script = Script([400])
        try await withScriptedServer(script) { client in
            let error = await #expect(throws: S3ClientError.self) {
                try await client.putObject(bucket: "b", key: "k", body: ByteBuffer(bytes: [1]))
            }
            #expect(error?.kind == .service(status: 400, code: "InvalidArgument"))
        }
        #expect(await script.requests == 1)
    }

    @Test func aBodyCutMidwayIsReadAgainWhenWhatWasKeptCanBeDropped() async throws {
        let script = Script([Script.cut, Script.cut])
        try await withScriptedServer(script) { client in
            let object = try await client.getObject(bucket: "b", key: "k", maxBytes: 2000)
            #expect(object.map { Array(buffer: $0) } == Script.object, "the two partial bodies are dropped, not joined")
        }
        #expect(await script.requests == 3)
    }

    @Test func aBodyCutMidwayIsAnErrorWhenPiecesWereHandedOn() async throws {
        let script = Script([Script.cut])
        try await withScriptedServer(script) { client in
            var received = 0
            let error = await #expect(throws: S3ClientError.self) {
                _ = try await client.getObject(bucket: "b", key: "k") { received += $0.readableBytes }
            }
            #expect(error?.kind == .transport)
            #expect(received == 300)
        }
        #expect(await script.requests == 1)
    }

    @Test func connectionFailuresAreRetriedThenReported() async throws {
        // A port nothing listens on: bind one, note it, close it.
        let socket = try await ServerBootstrapPort.free()
        let endpoint = try S3Endpoint(url: "http://127.0.0.1:\(socket)", region: "us-east-1", accessKeyId: "k", secretAccessKey: "s")
        let client = S3Client(endpoint: endpoint, retry: RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(1)))
        let error = await #expect(throws: S3ClientError.self) { try await client.createBucket("b") }
        #expect(error?.kind == .transport)
        #expect(error?.message.contains("after 2 attempts") == true)
    }

    @Test func endpointsAreValidated() throws {
        #expect(throws: S3ClientError.self) { try S3Endpoint(url: "ftp://host", region: "r", accessKeyId: "k", secretAccessKey: "s") }
        #expect(throws: S3ClientError.self) { try S3Endpoint(url: "http://host/path", region: "r", accessKeyId: "k", secretAccessKey: "s") }
        #expect(throws: S3ClientError.self) { try S3Endpoint(url: "http://host:9000", region: "r", accessKeyId: "", secretAccessKey: "s") }
        #expect(try S3Endpoint(url: "http://host:80", region: "r", accessKeyId: "k", secretAccessKey: "s").authority == "host")
        #expect(try S3Endpoint(url: "https://host:9000", region: "r", accessKeyId: "k", secretAccessKey: "s").authority == "host:9000")
    }

    @Test func backoffStaysWithinItsCeiling() {
        let policy = RetryPolicy(maxAttempts: 10, baseDelay: .milliseconds(100), maxDelay: .seconds(2))
        for attempt in 1...9 {
            let delay = policy.delay(after: attempt)
            #expect(delay >= .zero && delay <= min(.milliseconds(100) * (1 << (attempt - 1)), .seconds(2)))
        }
    }
}

/// A free loopback port, found by binding port 0 and closing the socket.
enum ServerBootstrapPort {
    static func free() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress!.port!
        try await channel.close()
        return port
    }
}

@Suite struct SecretRedactionTests {
    @Test func descriptionsNeverCarryTheSecret() throws {
        let endpoint = try S3Endpoint(url: "http://host:9000", region: "r", accessKeyId: "KEYID", secretAccessKey: "top-secret-value")
        for text in ["\(endpoint)", String(reflecting: endpoint), "\(S3Client(endpoint: endpoint).signer)"] {
            #expect(!text.contains("top-secret-value"))
            #expect(text.contains("redacted"))
        }
    }
}
