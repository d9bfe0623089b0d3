public import BucketStore
public import Foundation
public import Hummingbird
import HummingbirdCore
public import Logging
import NIOCore
public import Operations
import S3Protocol
import Synchronization

/// Settings of the S3 gateway.
public struct GatewayConfiguration: Sendable {
    /// Address to listen on.
    public var host: String
    /// Port to listen on; 0 picks a free one.
    public var port: Int
    /// The region requests must be signed for.
    public var region: String
    /// Base domain for virtual-host addressing (`bucket.<domain>`); nil for path style only.
    public var domain: String?
    /// PEM certificate chain and private key files: serve HTTPS instead of HTTP.
    public var tls: TLSFiles?
    /// Timeouts and connection caps.
    public var connections: ConnectionPolicy

    /// The PEM files of a TLS listener.
    public typealias TLSFiles = Operations.TLSFiles

    public init(
        host: String = "127.0.0.1",
        port: Int = 9000,
        region: String = "us-east-1",
        domain: String? = nil,
        tls: TLSFiles? = nil,
        connections: ConnectionPolicy = .init()
    ) {
        self.connections = connections
        self.host = host
        self.port = port
        self.region = region
        self.domain = domain
        self.tls = tls
    }

    /// `http` or `https`.
    public var scheme: String { tls == nil ? "http" : "https" }
}

/// The responder of the S3 gateway: error rendering, then authentication, then the handler.
struct S3Responder: HTTPResponder {
    typealias Context = S3RequestContext

    let errors: ErrorMiddleware
    let auth: AuthMiddleware
    let dispatcher: S3Dispatcher
    let health: HealthProbe
    let metrics: MetricsEndpoint?
    let requests = RequestMetrics(listener: "s3")

    func respond(to request: Request, context: Context) async throws -> Response {
        // Health and metrics first: no S3 signature, and on paths no bucket can have.
        if let response = await HealthEndpoints.response(to: request, probe: health, metrics: metrics) { return response }
        if let metrics, let response = await metrics.response(to: request) { return response }
        // Requests that fail authentication are counted under "unauthenticated". The access-log line is
        // written when the metrics record the request: once its body has been sent (its duration covers
        // the transfer) or given up on.
        let record = Mutex(AccessRecord())
        let logger = context.logger
        var response = try await requests.measure(
            request, operation: { record.withLock { $0.operation } },
            finished: { outcome in record.withLock { $0 }.log(request, outcome, logger: logger) },
            body: {
                try await errors.handle(
                    request, context: context, onError: { error in record.withLock { $0.errorCode = error.code.rawValue } }
                ) {
                    request, context in
                    try await auth.handle(request, context: context) { request, context in
                        record.withLock { record in
                            record.operation = context.operation?.rawValue ?? "unknown"
                            record.bucket = context.address?.bucket
                            record.key = context.address?.key
                            record.accessKey = context.caller?.accessKeyId
                        }
                        return try await dispatcher.handle(request, context: context)
                    }
                }
            })
        // A request refused before it was authenticated: its body is not read (it may be gigabytes from
        // someone without a key), and the connection closes once the answer is written.
        if record.withLock({ $0.operation == "unauthenticated" && $0.errorCode != nil }), request.hasBody {
            response.headers[.connection] = "close"
        }
        return response
    }
}

extension Request {
    /// Whether the request declares a body (a non-zero length, or chunked transfer).
    var hasBody: Bool {
        if let length = headers[.contentLength] { return length != "0" }
        return headers[.transferEncoding] != nil
    }
}

/// What one access-log line says about a request, filled in as the request is classified.
struct AccessRecord {
    var operation = "unauthenticated"
    var bucket: String?
    var key: String?
    var accessKey: String?
    var errorCode: String?

    /// One structured line per request (never a signature, secret or body), written when its response
    /// has been sent (`completed`) or given up on.
    func log(_ request: Request, _ outcome: RequestMetrics.Outcome, logger: Logger) {
        var metadata: Logger.Metadata = [
            "method": "\(request.method)", "operation": "\(operation)", "status": "\(outcome.status)",
            "duration_ms": "\(outcome.elapsed.milliseconds)",
        ]
        if !outcome.completed { metadata["incomplete"] = "true" }
        if let bucket { metadata["bucket"] = "\(bucket)" }
        if let key { metadata["key"] = "\(key)" }
        if let accessKey { metadata["access_key"] = "\(accessKey)" }
        if let errorCode { metadata["error_code"] = "\(errorCode)" }
        if let length = request.headers[.contentLength] { metadata["bytes_in"] = "\(length)" }
        if let sent = outcome.declaredLength { metadata["bytes_out"] = "\(sent)" }
        if let agent = request.headers[.userAgent] { metadata["user_agent"] = "\(agent.prefix(200))" }
        logger.info("access", metadata: metadata)
    }
}

/// Builds the S3 gateway application; `chainvault serve` and the tests share it.
/// - Throws: `NIOSSLError` when the TLS certificate or key cannot be read.
/// - Parameters:
///   - configuration: Listener, region, addressing and TLS.
///   - store: The bucket store to serve.
///   - credentials: The access keys.
///   - clock: Seconds since 1970, injected so tests can sign with any time.
///   - health: What `/-/health/ready` checks.
///   - metrics: `/-/metrics`, when the program exposes metrics.
///   - onServerRunning: Called with the bound port once listening.
///   - logger: The server's logger.
public func buildApplication(
    configuration: GatewayConfiguration,
    store: BucketStore,
    credentials: CredentialStore,
    clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) },
    health: HealthProbe = .alwaysReady,
    metrics: MetricsEndpoint? = nil,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in },
    logger: Logger = Logger(label: "chainvault.s3")
) throws -> some ApplicationProtocol {
    let access = BucketAccess(store: store)
    let responder = S3Responder(
        errors: ErrorMiddleware(),
        auth: AuthMiddleware(
            verifier: SigV4Verifier(region: configuration.region),
            credentials: credentials,
            access: access,
            domain: configuration.domain,
            clock: clock
        ),
        dispatcher: S3Dispatcher(
            buckets: BucketHandlers(store: store, region: configuration.region, clock: clock),
            objects: ObjectHandlers(store: store, access: access),
            multipart: MultipartHandlers(store: store, clock: clock)
        ),
        health: health,
        metrics: metrics
    )
    let server = try makeHTTPServer(connections: configuration.connections, handlers: { [ContinueHandler()] }, tls: configuration.tls)
    return Application(
        responder: responder,
        server: server,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
        logger: logger
    )
}
