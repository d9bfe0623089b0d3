import Foundation
public import Hummingbird

/// One readiness condition and how it stands.
public struct HealthCheck: Sendable, Codable, Equatable {
    public var name: String
    public var ok: Bool
    /// What was found (free bytes, the error met); never a secret.
    public var detail: String

    public init(name: String, ok: Bool, detail: String) {
        self.name = name
        self.ok = ok
        self.detail = detail
    }
}

/// What `/-/health/ready` checks: injected by the program, so that the listeners need not know the
/// data root, the chain buckets or anything else behind them.
public struct HealthProbe: Sendable {
    let checks: @Sendable () async -> [HealthCheck]

    public init(checks: @escaping @Sendable () async -> [HealthCheck]) {
        self.checks = checks
    }

    /// Ready whenever it is alive (tests).
    public static let alwaysReady = HealthProbe { [] }

    /// These checks and `more`'s: one listener's probe on top of what both check.
    public func adding(_ more: @escaping @Sendable () async -> [HealthCheck]) -> HealthProbe {
        HealthProbe { [checks] in await checks() + more() }
    }
}

/// The unauthenticated health endpoints both listeners serve. Their paths start with `/-/`, which no
/// S3 bucket name and no hospital route can (a bucket name starts with a letter or digit).
public enum HealthEndpoints {
    public static let live = "/-/health/live"
    public static let ready = "/-/health/ready"

    struct Body: Encodable {
        var status: String
        var checks: [HealthCheck]
    }

    /// The answer for a health path (GET or HEAD), nil for any other request.
    /// - live: 200 as long as the process serves requests.
    /// - ready: 200 when every check passes, else 503. The checks (paths, bucket names, free bytes) are
    ///   named only to a caller with the metrics token; anyone else learns ready or not.
    public static func response(to request: Request, probe: HealthProbe, metrics: MetricsEndpoint? = nil) async -> Response? {
        let path = request.uri.path
        guard path == live || path == ready, request.method == .get || request.method == .head else { return nil }
        let checks = path == ready ? await probe.checks() : []
        let ok = checks.allSatisfy(\.ok)
        let shown = metrics?.authorizes(request) == true ? checks : []
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = (try? encoder.encode(Body(status: ok ? "ok" : "unavailable", checks: shown))) ?? Data()
        return Response(
            status: ok ? .ok : .serviceUnavailable,
            headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: request.method == .head ? .init() : .init(byteBuffer: ByteBuffer(bytes: json)))
    }
}

/// Answers the health paths before anything else a router does (authentication included).
public struct HealthMiddleware<Context: RequestContext>: RouterMiddleware {
    let probe: HealthProbe
    let metrics: MetricsEndpoint?

    /// - Parameter metrics: Whose token lets a caller see the readiness checks.
    public init(probe: HealthProbe, metrics: MetricsEndpoint? = nil) {
        self.probe = probe
        self.metrics = metrics
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let response = await HealthEndpoints.response(to: request, probe: probe, metrics: metrics) { return response }
        return try await next(request, context)
    }
}
