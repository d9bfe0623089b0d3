import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded

/// Sends requests straight to an application's responder, as HummingbirdTesting's `.router` client does,
/// but with one testing channel for all of them.
///
/// HummingbirdTesting makes a `NIOAsyncTestingChannel` for every request and never closes it; each stays
/// reachable (about 9 KB, its pipeline and buffers) for the life of the process, which over 10^6 fuzz
/// inputs is several gigabytes — more than libFuzzer's RSS limit, with nothing leaked by the server under
/// test. One channel per client, closed by ``close()``, keeps a long run's memory flat.
public struct RouterClient<Responder: HTTPResponder>: Sendable
where Responder.Context: InitializableFromSource<ApplicationRequestContextSource> {
    /// What the server answered.
    public struct Answer: Sendable {
        public var status: HTTPResponse.Status
        public var headers: HTTPFields
        public var body: ByteBuffer
    }

    let responder: Responder
    let channel = NIOAsyncTestingChannel()
    let logger: Logger

    public init<App: ApplicationProtocol>(_ app: App) async throws where App.Responder == Responder {
        self.responder = try await app.responder
        self.logger = app.logger
    }

    /// One request; an error escaping the responder is answered 500, as a server would.
    public func execute(uri: String, method: HTTPRequest.Method, headers: HTTPFields = [:], body: ByteBuffer = ByteBuffer()) async throws
        -> Answer
    {
        var headers = headers
        headers[.contentLength] = String(body.readableBytes)
        let request = Request(
            head: .init(method: method, scheme: "http", authority: "localhost", path: uri, headerFields: headers),
            body: RequestBody(buffer: body))
        let context = Responder.Context(source: .init(channel: channel, logger: logger))
        let response: Response
        do {
            response = try await responder.respond(to: request, context: context)
        } catch {
            response = Response(status: .internalServerError)
        }
        let writer = Collector()
        try await response.body.write(writer)
        return Answer(status: response.status, headers: response.headers, body: writer.body.withLockedValue { $0 })
    }

    /// Closes the client's channel.
    public func close() async {
        try? await channel.close()
    }
}

/// Collects a response body.
struct Collector: ResponseBodyWriter {
    let body = NIOLockedValueBox(ByteBuffer())

    func write(_ buffer: ByteBuffer) async throws {
        _ = body.withLockedValue { $0.writeImmutableBuffer(buffer) }
    }

    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

/// Runs `body` with a client of `app`'s router, closing its channel afterwards.
public func withRouterClient<App: ApplicationProtocol>(_ app: App, _ body: (RouterClient<App.Responder>) async throws -> Void) async throws
where App.Responder.Context: InitializableFromSource<ApplicationRequestContextSource> {
    let client = try await RouterClient(app)
    do {
        try await body(client)
    } catch {
        await client.close()
        throw error
    }
    await client.close()
}
