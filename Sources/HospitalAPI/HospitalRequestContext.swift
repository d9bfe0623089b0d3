package import Foundation
import HTTPTypes
package import HospitalCore
package import Hummingbird
import NIOCore

/// The per-request state of the hospital API: the client's address and, once its bearer token checked
/// out, who it acts for.
package struct HospitalRequestContext: CallerRequestContext {
    package var coreContext: CoreRequestContextStorage
    /// The peer's IP address (for throttling and the audit ledger).
    package var clientAddress: String
    /// The caller, once authenticated.
    package var identity: Identity?
    /// The bearer token the caller sent, once authenticated (for logout).
    var token: String?

    package init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    /// Responses: RFC 3339 times (`2026-12-01T09:00:00Z`), keys sorted.
    package var responseEncoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

}

/// A request context that knows its caller once authenticated: the API's (a bearer token) and the
/// portal's (a session cookie).
package protocol CallerRequestContext: RequestContext {
    /// The caller, once authenticated.
    var identity: Identity? { get }
}

extension CallerRequestContext {
    /// A positive integer path parameter such as `{id}`.
    /// - Throws: ``HospitalError`` `invalid_field` naming the parameter.
    package func id(_ name: String) throws(HospitalError) -> Int64 {
        guard let text = parameters.get(name), let value = Int64(text), value > 0 else {
            throw .invalid(name, "This path parameter is a positive integer.")
        }
        return value
    }

    /// The caller; throws ``HospitalError/unauthenticated`` when the request carried no valid credentials.
    package func requireIdentity() throws(HospitalError) -> Identity {
        guard let identity else { throw .unauthenticated }
        return identity
    }

    /// The caller, who must have one of `roles`.
    package func requireIdentity(_ roles: Role...) throws(HospitalError) -> Identity {
        let identity = try requireIdentity()
        guard roles.contains(identity.role) else {
            throw .forbidden("This needs a \(roles.map(\.rawValue).joined(separator: " or ")) account.")
        }
        return identity
    }
}

/// Behind a reverse proxy every request comes from the proxy: when the peer is a trusted proxy, the
/// client is the last address of `X-Forwarded-For` that is not itself a trusted proxy (what the
/// proxy appended; earlier entries are the client's own claims). Login throttling and the audit
/// ledger then see the real client.
package struct ForwardedClientMiddleware: RouterMiddleware {
    let trusted: Set<String>

    package init(trusted: Set<String>) { self.trusted = trusted }

    package func handle(
        _ request: Request, context: HospitalRequestContext, next: (Request, HospitalRequestContext) async throws -> Response
    )
        async throws -> Response
    {
        var context = context
        if trusted.contains(context.clientAddress), let client = Self.client(request.headers[values: .xForwardedFor], trusted: trusted) {
            context.clientAddress = client
        }
        return try await next(request, context)
    }

    static func client(_ headers: [String], trusted: Set<String>) -> String? {
        let hops = headers.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        return hops.last { !$0.isEmpty && !trusted.contains($0) }
    }
}

extension HTTPField.Name {
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
}
