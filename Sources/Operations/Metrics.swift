import Foundation
public import Hummingbird
import Logging
import Metrics
public import Prometheus
import Synchronization

/// `/-/metrics`: the Prometheus text exposition of everything recorded through swift-metrics, on both
/// listeners. With a token set, a scrape must send `Authorization: Bearer TOKEN`; without one, the
/// endpoint is open only when `openWithoutToken` (the listeners bind loopback only) and answers 403
/// otherwise. The same token lets `/-/health/ready` name its checks.
public struct MetricsEndpoint: Sendable {
    public static let path = "/-/metrics"

    let registry: PrometheusCollectorRegistry
    let token: [UInt8]?
    let openWithoutToken: Bool
    /// Brings the gauges that are read at scrape time up to date (free disk bytes).
    let refresh: @Sendable () async -> Void

    /// - Parameter openWithoutToken: Serve metrics to anyone when no token is set: only for listeners
    ///   that bind a loopback address.
    public init(
        registry: PrometheusCollectorRegistry, token: String?, openWithoutToken: Bool = true,
        refresh: @escaping @Sendable () async -> Void = {}
    ) {
        self.registry = registry
        self.token = token.map { Array($0.utf8) }
        self.openWithoutToken = openWithoutToken
        self.refresh = refresh
    }

    /// Whether the request carries the token (compared in constant time); false when none is set.
    public func authorizes(_ request: Request) -> Bool {
        guard let token else { return false }
        let header = request.headers[.authorization] ?? ""
        let sent = header.hasPrefix("Bearer ") ? Array(header.utf8.dropFirst(7)) : []
        return Self.constantTimeEqual(sent, token)
    }

    /// The answer for `GET /-/metrics`, nil for any other request.
    public func response(to request: Request) async -> Response? {
        guard request.uri.path == Self.path, request.method == .get else { return nil }
        if token != nil {
            guard authorizes(request) else {
                return Response(status: .unauthorized, headers: [.wwwAuthenticate: "Bearer"], body: .init())
            }
        } else if !openWithoutToken {
            let message = "Metrics need CHAINVAULT_METRICS_TOKEN when the server listens beyond loopback.\n"
            return Response(
                status: .forbidden, headers: [.contentType: "text/plain; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: message)))
        }
        await refresh()
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
    }

    /// Compares without stopping at the first difference, so that timing tells nothing of the token.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }
}

/// Per-request metrics of one listener: requests by operation and status, a latency histogram by
/// operation, bytes in and out, requests in flight. Labels come from a fixed vocabulary (S3 operation
/// names; the hospital's routes as declared, `NotFound` for none), so that no client can grow the label space.
///
/// A request is measured until its response body has been written, not until its handler returned:
/// a large GET's duration covers the transfer and it stays in flight while it streams.
public struct RequestMetrics: Sendable {
    let listener: String
    let inFlight: Meter
    let received: Metrics.Counter
    let sent: Metrics.Counter
    /// The counters and timers made so far, by label values: made once each (a factory lookup costs more
    /// than the request it records), never more than the fixed vocabulary allows.
    let made = Made()

    final class Made: Sendable {
        let counters = Mutex<[String: Metrics.Counter]>([:])
        let timers = Mutex<[String: Metrics.Timer]>([:])
    }

    /// - Parameter listener: `s3` or `hospital`: the metric names' middle part.
    public init(listener: String) {
        self.listener = listener
        inFlight = Meter(label: "chainvault_\(listener)_requests_in_flight")
        received = Metrics.Counter(label: "chainvault_\(listener)_received_bytes_total")
        sent = Metrics.Counter(label: "chainvault_\(listener)_sent_bytes_total")
    }

    /// How a measured request ended.
    public struct Outcome: Sendable {
        public var status: Int
        /// From the request's arrival to the last byte of its response (or the error).
        public var elapsed: Duration
        /// Whether the whole response was written (false: the client went away, or writing failed).
        public var completed: Bool
        /// The response's declared length (`Content-Length`), when it had one.
        public var declaredLength: String?
    }

    /// Counts a request in flight from now until its response has been sent (``ResponseBody/whenSent(_:)``), then records its
    /// outcome and hands it to `finished` (the access log): the response's status, or the status of the
    /// error `body` threw (500 for an error that has none).
    /// - Parameter operation: Read once the handler is done (the operation may only be known then).
    public func measure(
        _ request: Request, operation: () -> String, finished: @escaping @Sendable (Outcome) -> Void = { _ in },
        body: () async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        inFlight.increment()
        let received = request.headers[.contentLength].flatMap(Int64.init)
        var response: Response
        do {
            response = try await body()
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            record(operation: operation(), status: status, received: received, sent: nil, since: start)
            finished(Outcome(status: status, elapsed: ContinuousClock.now - start, completed: false, declaredLength: nil))
            throw error
        }
        let (name, status, length) = (operation(), response.status.code, response.headers[.contentLength])
        let sent = length.flatMap(Int64.init)
        // A body that fails while it is gathered has called this with false already.
        response.body = try await response.body.whenSent { completed in
            self.record(operation: name, status: status, received: received, sent: completed ? sent : nil, since: start)
            finished(Outcome(status: status, elapsed: ContinuousClock.now - start, completed: completed, declaredLength: length))
        }
        return response
    }

    func record(operation: String, status: Int, received: Int64?, sent: Int64?, since start: ContinuousClock.Instant) {
        inFlight.decrement()
        let listener = self.listener
        let counter = made.counters.withLock { counters in
            let key = operation + " " + String(status)
            if let counter = counters[key] { return counter }
            let counter = Metrics.Counter(
                label: "chainvault_\(listener)_requests_total", dimensions: [("operation", operation), ("status", String(status))])
            counters[key] = counter
            return counter
        }
        counter.increment()
        let timer = made.timers.withLock { timers in
            if let timer = timers[operation] { return timer }
            let timer = Metrics.Timer(label: "chainvault_\(listener)_request_duration_seconds", dimensions: [("operation", operation)])
            timers[operation] = timer
            return timer
        }
        timer.record(duration: ContinuousClock.now - start)
        if let received, received > 0 { self.received.increment(by: received) }
        if let sent, sent > 0 { self.sent.increment(by: sent) }
    }
}

extension ResponseBody {
    /// The largest body ``whenSent(_:)`` gathers into one buffer before it is sent: 64 KiB.
    public static let gatheredLimit = 64 * 1024

    /// This body, calling `done` once it has been sent (true) or failed (false).
    ///
    /// A body of at most ``gatheredLimit`` bytes is gathered into one buffer first, so that Hummingbird
    /// sends head, body and end in one write (its fast path for a single-buffer body; a closure body
    /// takes three writes through the channel, which was 15 % of a 4 KiB GET's CPU). It counts as sent
    /// once it is handed to the server: the socket write of 64 KiB or less that follows is not in its
    /// duration. Larger bodies stream, and `done` is called after their last byte (``whenWritten(_:)``).
    public func whenSent(_ done: @escaping @Sendable (_ completed: Bool) -> Void) async throws -> ResponseBody {
        guard let length = contentLength, length <= Self.gatheredLimit else { return whenWritten(done) }
        let gathered = Gathered()
        do {
            try await write(Gatherer(gathered: gathered))
        } catch {
            done(false)
            throw error
        }
        done(true)
        return gathered.buffer.map { ResponseBody(byteBuffer: $0) } ?? ResponseBody()
    }

    /// This body, calling `done` once when it has been written (true) or failed (false). A body the
    /// server drops unwritten (the client went away before the head was sent) calls it with false
    /// when it is released, so a measured request never stays in flight.
    public func whenWritten(_ done: @escaping @Sendable (_ completed: Bool) -> Void) -> ResponseBody {
        let once = Once(done)
        let body = self
        return ResponseBody(contentLength: contentLength) { writer in
            do {
                try await body.write(writer)
                once.call(true)
            } catch {
                once.call(false)
                throw error
            }
        }
    }
}

/// The bytes of a body gathered by ``ResponseBody/whenSent(_:)``.
final class Gathered {
    var buffer: ByteBuffer?
}

/// Writes a body into one buffer (the first buffer as it is, without a copy).
struct Gatherer: ResponseBodyWriter {
    let gathered: Gathered

    mutating func write(_ buffer: ByteBuffer) async throws {
        if gathered.buffer == nil {
            gathered.buffer = buffer
        } else {
            gathered.buffer!.writeImmutableBuffer(buffer)
        }
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

/// A completion called at most once: explicitly, or with false when released.
final class Once: Sendable {
    private let done: Mutex<(@Sendable (Bool) -> Void)?>

    init(_ done: @escaping @Sendable (Bool) -> Void) { self.done = Mutex(done) }

    func call(_ completed: Bool) {
        done.withLock { done in
            let callback = done
            done = nil
            return callback
        }?(completed)
    }

    deinit { call(false) }
}

/// Records the hospital's per-request metrics and access-log line, outside its error middleware
/// (errors carry their status), once the response has been written.
public struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: RequestMetrics

    public init(listener: String) {
        metrics = RequestMetrics(listener: listener)
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let (method, agent, logger) = (request.method, request.headers[.userAgent]?.prefix(200) ?? "", context.logger)
        // The route the router matched, as it was declared (`/api/slots/{id}/booking`): known once the
        // handler ran, and never a value a request chose. `NotFound` when no route matched.
        let route: @Sendable () -> String = { context.endpointPath ?? "NotFound" }
        // One access-log line per request, whatever it ends with; the route, never the query or the body.
        return try await metrics.measure(
            request, operation: { "\(method) \(route())" },
            finished: { outcome in
                var metadata: Logger.Metadata = [
                    "method": "\(method)", "route": "\(route())", "status": "\(outcome.status)",
                    "duration_ms": "\(outcome.elapsed.milliseconds)", "user_agent": "\(agent)",
                ]
                if !outcome.completed { metadata["incomplete"] = "true" }
                logger.info("access", metadata: metadata)
            },
            body: { try await next(request, context) })
    }
}

/// Records through swift-metrics into a Prometheus registry, once per process.
public enum MetricsBootstrap {
    /// Bootstraps swift-metrics with Prometheus and returns the registry to expose.
    public static func prometheus() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
        ]
        MetricsSystem.bootstrap(factory)
        return registry
    }
}

/// Serves `/-/metrics` before anything else a router does.
public struct MetricsEndpointMiddleware<Context: RequestContext>: RouterMiddleware {
    let endpoint: MetricsEndpoint

    public init(endpoint: MetricsEndpoint) {
        self.endpoint = endpoint
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let response = await endpoint.response(to: request) { return response }
        return try await next(request, context)
    }
}

extension Duration {
    /// Milliseconds with microsecond precision, for log lines.
    public var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds / 1_000_000_000_000) / 1000
    }
}
