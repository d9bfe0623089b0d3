import Hummingbird
import NIOCore

/// The per-request state of the hospital API: the client's address and, once its bearer token checked
/// out, who it acts for.
public struct HospitalRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer's IP address (for throttling and the audit ledger).
    public var clientAddress: String
    /// The caller, once authenticated.
    public var identity: Identity?
    /// The bearer token the caller sent, once authenticated (for logout).
    var token: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    /// The caller; throws ``HospitalError/unauthenticated`` when the request carried no valid token.
    public func requireIdentity() throws(HospitalError) -> Identity {
        guard let identity else { throw .unauthenticated }
        return identity
    }

    /// The caller, who must have one of `roles`.
    public func requireIdentity(_ roles: Role...) throws(HospitalError) -> Identity {
        let identity = try requireIdentity()
        guard roles.contains(identity.role) else {
            throw .forbidden("This needs a \(roles.map(\.rawValue).joined(separator: " or ")) account.")
        }
        return identity
    }
}
