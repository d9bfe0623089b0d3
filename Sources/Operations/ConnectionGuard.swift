import HTTPTypes
import Metrics
import NIOConcurrencyHelpers
public import NIOCore
public import NIOHTTPTypes

/// The limits every listener puts on its connections, so that clients holding connections open without
/// moving bytes (slowloris, stalled readers) cannot take the server down.
///
/// - `headTimeout`: a request's head must arrive whole within this time of its first byte (or of the
///   connection opening).
/// - `keepaliveTimeout`: a connection waiting for its next request, with no byte of it yet, is closed.
/// - `stallTimeout`: while a request body is being read, or a response written, and no byte moves for
///   this long, the connection is closed. A transfer that keeps moving is never cut, however long.
/// - `maxConnections`: when the listener is full, a new connection takes the place of the connection
///   that has waited longest between requests (idle, or its head still arriving); only when every
///   connection is in the middle of a request is the new one accepted and closed at once. Connections
///   held open without a request therefore cannot keep anyone out (nginx's `reset_timedout_connection`,
///   HAProxy's idle-connection purging).
/// - `maxConnectionsPerClient`: a client beyond its share has its new connection accepted and closed at
///   once; `exemptAddresses` (trusted proxies) have no per-client share.
public struct ConnectionPolicy: Sendable {
    public var headTimeout: TimeAmount
    public var keepaliveTimeout: TimeAmount
    public var stallTimeout: TimeAmount
    public var maxConnections: Int
    public var maxConnectionsPerClient: Int
    public var exemptAddresses: Set<String>

    public init(
        headTimeout: TimeAmount = .seconds(30), keepaliveTimeout: TimeAmount = .seconds(60), stallTimeout: TimeAmount = .seconds(60),
        maxConnections: Int = 4096, maxConnectionsPerClient: Int = 256, exemptAddresses: Set<String> = []
    ) {
        self.headTimeout = headTimeout
        self.keepaliveTimeout = keepaliveTimeout
        self.stallTimeout = stallTimeout
        self.maxConnections = maxConnections
        self.maxConnectionsPerClient = maxConnectionsPerClient
        self.exemptAddresses = exemptAddresses
    }

    /// How often a connection checks its deadlines: a tenth of the shortest timeout, between 50 ms and 1 s.
    var tick: TimeAmount {
        let shortest = min(headTimeout.nanoseconds, keepaliveTimeout.nanoseconds, stallTimeout.nanoseconds)
        return .nanoseconds(max(50_000_000, min(1_000_000_000, shortest / 10)))
    }
}

/// Counts one listener's open connections, in all and by client address, and knows which of them wait
/// between requests, so that a full listener can make room.
public final class ConnectionLimiter: Sendable {
    public let policy: ConnectionPolicy

    /// One open connection: whether it waits between requests (since when), and how to close it.
    private struct Entry {
        var quietSince: NIODeadline?
        let close: @Sendable () -> Void
    }

    private struct State {
        var total = 0
        var byAddress: [String: Int] = [:]
        var entries: [UInt64: Entry] = [:]
        var nextId: UInt64 = 0
    }

    private let state = NIOLockedValueBox(State())

    public init(policy: ConnectionPolicy) {
        self.policy = policy
    }

    /// Takes a place for a connection from `address`: nil when the client's share is full, or the listener
    /// is full and no connection waits between requests. When the listener is full, the connection that has
    /// waited longest is closed (`evicted`) and the new one takes its place.
    /// - Returns: The connection's id, for ``quiet(_:since:)`` and ``release(_:address:)``.
    func admit(_ address: String?, close: @escaping @Sendable () -> Void, evicted: () -> Void = {}) -> UInt64? {
        let exempt = address.map { policy.exemptAddresses.contains($0) } ?? false
        let (id, victim) = state.withLockedValue { state -> (UInt64?, (@Sendable () -> Void)?) in
            if let address, !exempt, state.byAddress[address, default: 0] >= policy.maxConnectionsPerClient { return (nil, nil) }
            var victim: (@Sendable () -> Void)?
            if state.total >= policy.maxConnections {
                // The longest-waiting quiet connection makes room; it leaves the registry now, so that it is
                // chosen once, and gives back its count when it closes.
                guard
                    let oldest = state.entries.filter({ $0.value.quietSince != nil }).min(by: {
                        $0.value.quietSince! < $1.value.quietSince!
                    })
                else { return (nil, nil) }
                victim = state.entries.removeValue(forKey: oldest.key)?.close
            }
            if let address, !exempt { state.byAddress[address, default: 0] += 1 }
            state.total += 1
            state.nextId += 1
            state.entries[state.nextId] = Entry(quietSince: .now(), close: close)
            return (state.nextId, victim)
        }
        if let victim {
            evicted()
            victim()
        }
        return id
    }

    /// Whether connection `id` waits between requests (since `since`) or is in the middle of one (nil).
    func quiet(_ id: UInt64, since: NIODeadline?) {
        state.withLockedValue { $0.entries[id]?.quietSince = since }
    }

    /// Gives back the place `admit` took.
    func release(_ id: UInt64, address: String?) {
        let exempt = address.map { policy.exemptAddresses.contains($0) } ?? false
        state.withLockedValue { state in
            state.total -= 1
            state.entries[id] = nil
            if let address, !exempt {
                let current = state.byAddress[address, default: 1] - 1
                state.byAddress[address] = current > 0 ? current : nil
            }
        }
    }

    /// Open connections now (tests, metrics).
    public var openConnections: Int { state.withLockedValue { $0.total } }

    /// A new guard for one connection: add it to the HTTP pipeline after the HTTP codec.
    public func makeHandler() -> ConnectionGuardHandler { ConnectionGuardHandler(limiter: self) }
}

/// One connection's guard: admission by ``ConnectionLimiter`` and the deadlines of ``ConnectionPolicy``.
///
/// It sits after the HTTP codec, where it sees request and response parts, and puts a small observer
/// at the socket end of the pipeline, where it sees raw bytes arrive and reads being asked for.
/// A body is only "stalled" while the server is asking for bytes: when the server itself applies
/// back-pressure (a slow disk), the client is not blamed.
public final class ConnectionGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    public typealias InboundOut = HTTPRequestPart
    public typealias OutboundIn = HTTPResponsePart
    public typealias OutboundOut = HTTPResponsePart

    let limiter: ConnectionLimiter
    var policy: ConnectionPolicy { limiter.policy }
    private var address: String?
    /// The place ``ConnectionLimiter/admit(_:close:evicted:)`` gave; nil when not admitted.
    private var id: UInt64?
    private var timer: Scheduled<Void>?

    /// A request head arrived and its end has not.
    private var requestOpen = false
    /// Requests whose response has not been written to its end.
    private var responsesPending = 0
    /// Waiting for a request: when its first byte (or the connection) came; nil before the first byte.
    private var headStarted: NIODeadline?
    /// Waiting for a request with no byte of it yet, since this time.
    private var idleSince: NIODeadline?
    /// The last time bytes arrived, or a read was asked for after none was pending.
    private var lastInbound = NIODeadline.now()
    /// A read was asked for and no bytes have come since.
    private var readPending = false
    /// The response being written asked for the connection to close after it.
    private var closeAfterResponse = false
    /// The socket's send buffer has been full since this time.
    private var unwritableSince: NIODeadline?

    init(limiter: ConnectionLimiter) {
        self.limiter = limiter
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        address = context.channel.remoteAddress?.ipAddress
        let channel = context.channel
        id = limiter.admit(
            address, close: { channel.close(promise: nil) },
            evicted: { Counter(label: "chainvault_connections_closed_total", dimensions: [("reason", "evicted_idle")]).increment() })
        guard id != nil else {
            Counter(label: "chainvault_connections_closed_total", dimensions: [("reason", "connection_limit")]).increment()
            context.close(promise: nil)
            return
        }
        let now = NIODeadline.now()
        headStarted = now
        lastInbound = now
        try? context.pipeline.syncOperations.addHandler(ByteActivityObserver(owner: self), position: .first)
        scheduleCheck(context)
    }

    private func scheduleCheck(_ context: ChannelHandlerContext) {
        timer = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: policy.tick) { [self] in
            timer = nil
            if let reason = expired(now: .now()) {
                Counter(label: "chainvault_connections_closed_total", dimensions: [("reason", reason)]).increment()
                context.close(promise: nil)
            } else {
                scheduleCheck(context)
            }
        }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        if let id {
            self.id = nil
            limiter.release(id, address: address)
        }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            requestOpen = true
            responsesPending += 1
            headStarted = nil
            idleSince = nil
            if let id { limiter.quiet(id, since: nil) }
        case .end:
            requestOpen = false
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var response) where response.status.code >= 200 && response.headerFields[.connection]?.lowercased() == "close":
            // A response that says `Connection: close` (an unauthenticated request whose body is not
            // wanted) ends the connection once written, instead of draining a body nobody reads, unless the
            // whole request has arrived already: then nothing is left to drain and the connection stays.
            if requestOpen {
                closeAfterResponse = true
            } else {
                response.headerFields[.connection] = nil
                context.write(wrapOutboundOut(.head(response)), promise: promise)
                return
            }
        case .head:
            break
        case .end:
            responsesPending = max(0, responsesPending - 1)
            if closeAfterResponse {
                context.writeAndFlush(data, promise: promise)
                context.close(promise: nil)
                return
            }
            if responsesPending == 0, !requestOpen {
                let now = NIODeadline.now()
                idleSince = now
                headStarted = nil
                if let id { limiter.quiet(id, since: now) }
            }
        case .body:
            break
        }
        context.write(data, promise: promise)
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        unwritableSince = context.channel.isWritable ? nil : .now()
        context.fireChannelWritabilityChanged()
    }

    // MARK: - Raw byte activity, from the observer

    func bytesArrived() {
        let now = NIODeadline.now()
        lastInbound = now
        readPending = false
        if idleSince != nil {
            // The first byte of the next request: its head must now arrive within the head timeout.
            idleSince = nil
            headStarted = now
        }
    }

    func readRequested() {
        if !readPending {
            readPending = true
            lastInbound = .now()
        }
    }

    /// Why the connection must close now (a metric label), if a deadline passed.
    func expired(now: NIODeadline) -> String? {
        if let since = unwritableSince, now - since >= policy.stallTimeout { return "response_stalled" }
        if requestOpen {
            if readPending, now - lastInbound >= policy.stallTimeout { return "body_stalled" }
            return nil
        }
        guard responsesPending == 0 else { return nil }
        if let since = idleSince, now - since >= policy.keepaliveTimeout { return "keepalive_timeout" }
        if let since = headStarted, now - since >= policy.headTimeout { return "head_timeout" }
        return nil
    }
}

/// Sits at the socket end of a connection's pipeline and tells its ``ConnectionGuardHandler`` when
/// bytes arrive and when the pipeline asks for more. It passes everything through unchanged.
final class ByteActivityObserver: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    // Same event loop as the owner; the owner outlives the observer only while the channel is open.
    private weak var owner: ConnectionGuardHandler?

    init(owner: ConnectionGuardHandler) {
        self.owner = owner
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        owner?.bytesArrived()
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        owner?.readRequested()
        context.read()
    }
}
