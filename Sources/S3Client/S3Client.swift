public import AsyncHTTPClient
import Crypto
import Foundation
import Hex
public import Logging
public import NIOCore
import NIOHTTP1
import S3Protocol

/// How often and how patiently a request is repeated after a transient failure.
public struct RetryPolicy: Sendable {
    /// Attempts in all, the first included.
    public var maxAttempts: Int
    /// The delay before the first retry; each later one doubles, with full jitter.
    public var baseDelay: Duration
    /// The longest delay between two attempts.
    public var maxDelay: Duration

    public init(maxAttempts: Int = 4, baseDelay: Duration = .milliseconds(100), maxDelay: Duration = .seconds(2)) {
        precondition(maxAttempts >= 1, "at least one attempt")
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    public static let `default` = RetryPolicy()

    /// The jittered delay before attempt `attempt + 1` (attempt counts from 1).
    func delay(after attempt: Int) -> Duration {
        let ceiling = min(baseDelay * (1 << min(attempt - 1, 20)), maxDelay)
        let nanoseconds = ceiling.components.seconds * 1_000_000_000 + ceiling.components.attoseconds / 1_000_000_000
        return .nanoseconds(Int64.random(in: 0...max(nanoseconds, 0)))
    }
}

/// A small S3 client: path-style requests signed with SigV4 over a hex SHA-256 of the body (never
/// aws-chunked), bounded retries with backoff on 500/503/SlowDown and connection errors, S3 XML errors
/// decoded into ``S3ClientError``.
public struct S3Client: Sendable {
    public let endpoint: S3Endpoint
    let http: HTTPClient
    let retry: RetryPolicy
    let timeout: TimeAmount
    let logger: Logger
    let signer: SigV4Signer

    /// The HTTP client all S3 clients share by default: it lives as long as the process, so it needs no
    /// shutdown. It reports a refused connection at once instead of retrying it until the deadline, so
    /// that ``RetryPolicy`` alone decides how often to try again.
    public static let sharedHTTPClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    /// - Parameters:
    ///   - http: The HTTP client; ``sharedHTTPClient`` by default.
    ///   - timeout: The deadline of one attempt, body included.
    public init(
        endpoint: S3Endpoint,
        http: HTTPClient = S3Client.sharedHTTPClient,
        retry: RetryPolicy = .default,
        timeout: TimeAmount = .seconds(60),
        logger: Logger = Logger(label: "chainvault.s3client")
    ) {
        self.endpoint = endpoint
        self.http = http
        self.retry = retry
        self.timeout = timeout
        self.logger = logger
        self.signer = SigV4Signer(
            accessKeyId: endpoint.signer.accessKeyId,
            secretAccessKey: endpoint.signer.secretAccessKey,
            region: endpoint.region
        )
    }

    /// One request to send: path below the endpoint, raw query, extra headers and body.
    struct Call {
        var method: HTTPMethod
        var bucket: String
        var key: String?
        var query: String = ""
        var headers: [(name: String, value: String)] = []
        var body: ByteBuffer?

        var path: String {
            "/" + URIEncoding.encode(bucket) + (key.map { "/" + URIEncoding.encode($0, keepingSlash: true) } ?? "")
        }

        var label: String { "\(method.rawValue) \(path)\(query.isEmpty ? "" : "?" + query)" }
    }

    /// What came back: status, headers and the body, read in full up to a bound or handed over in pieces.
    struct Answer {
        var status: Int
        var headers: HTTPHeaders
    }

    /// Sends `call`, signed afresh on each attempt, retrying transient failures; hands the body of a
    /// successful (2xx) answer to `body` and returns the answer. Error answers become ``S3ClientError``.
    /// - Parameters:
    ///   - accepting: Statuses returned as answers rather than thrown (such as 404 for a missing object).
    ///   - restartBody: Called before an attempt that follows one whose body `consume` already began to
    ///     read, so that the caller can drop what it kept. Without it, such a failure is not retried:
    ///     bytes handed on cannot be taken back.
    func send(
        _ call: Call,
        accepting: Set<Int> = [],
        restartBody: (() -> Void)? = nil,
        body consume: (HTTPClientResponse.Body) async throws -> Void = { _ in }
    ) async throws -> Answer {
        var attempt = 1
        var bodyStarted = false
        while true {
            do {
                if bodyStarted, let restartBody {
                    restartBody()
                    bodyStarted = false
                }
                return try await attemptOnce(call, accepting: accepting) { body in
                    bodyStarted = true
                    try await consume(body)
                }
            } catch let error as S3ClientError {
                guard Self.isTransient(error), attempt < retry.maxAttempts else { throw error }
                logger.warning("retrying after a transient failure", metadata: ["request": "\(call.label)", "error": "\(error)"])
            } catch let error as CancellationError {
                throw error
            } catch {
                guard attempt < retry.maxAttempts, !bodyStarted || restartBody != nil else {
                    throw S3ClientError(
                        kind: .transport, message: "\(error) (after \(attempt) attempts)", request: "\(call.label) on \(endpoint.url)")
                }
                logger.warning("retrying after a connection failure", metadata: ["request": "\(call.label)", "error": "\(error)"])
            }
            try await Task.sleep(for: retry.delay(after: attempt))
            attempt += 1
        }
    }

    /// 500, 502, 503, 504 and S3's SlowDown, InternalError and RequestTimeout are worth another attempt.
    static func isTransient(_ error: S3ClientError) -> Bool {
        guard case .service(let status, let code) = error.kind else { return false }
        return [500, 502, 503, 504].contains(status) || ["SlowDown", "InternalError", "RequestTimeout"].contains(code ?? "")
    }

    private func attemptOnce(
        _ call: Call,
        accepting: Set<Int>,
        body consume: (HTTPClientResponse.Body) async throws -> Void
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: "\(endpoint.url)\(call.path)\(call.query.isEmpty ? "" : "?" + call.query)")
        request.method = call.method
        let payloadHash = call.body.map { $0.withUnsafeReadableBytes { Hex.encode(SHA256.hash(data: $0)) } } ?? SigV4.emptyPayloadHash
        var headers = call.headers
        headers.append(("host", endpoint.authority))
        if let body = call.body { headers.append(("content-length", String(body.readableBytes))) }
        let signed = try signer.sign(
            method: call.method.rawValue,
            path: call.path,
            query: call.query,
            headers: headers,
            payloadHash: payloadHash,
            date: Int64(Date().timeIntervalSince1970)
        )
        for header in headers + signed where header.name != "content-length" {
            request.headers.add(name: header.name, value: header.value)
        }
        if let body = call.body { request.body = .bytes(body) }

        let response = try await http.execute(request, timeout: timeout, logger: logger)
        let status = Int(response.status.code)
        if (200..<300).contains(status) {
            try await consume(response.body)
            return Answer(status: status, headers: response.headers)
        }
        if accepting.contains(status) {
            _ = try? await response.body.collect(upTo: 64 * 1024)
            return Answer(status: status, headers: response.headers)
        }
        let errorBody = (try? await response.body.collect(upTo: 64 * 1024)) ?? ByteBuffer()
        let document = try? S3XML.decode(ErrorBody.self, from: Array(buffer: errorBody))
        throw S3ClientError(
            kind: .service(status: status, code: document?.code),
            message: document?.message ?? response.status.reasonPhrase,
            request: "\(call.label) on \(endpoint.url)",
            requestId: document?.requestId ?? response.headers.first(name: "x-amz-request-id")
        )
    }
}

/// An S3 error document as services send it: every field but `Code` may be missing. Public for the
/// fuzz target of the answers a remote service sends (`Fuzz/`).
public struct ErrorBody: Decodable {
    var code: String?
    var message: String?
    var requestId: String?

    enum CodingKeys: String, CodingKey {
        case code = "Code"
        case message = "Message"
        case requestId = "RequestId"
    }
}
