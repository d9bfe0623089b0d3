package import HospitalAPI
package import HospitalCore
package import Hummingbird

/// The per-request state of the portal's pages, made from the listener's context for the portal's routes
/// (`router.group(context:)`): the client's address and, once the session cookie checked out
/// (``PortalSessionMiddleware``), who the page is for — never from an `Authorization` header.
package struct PortalRequestContext: ChildRequestContext, CallerRequestContext {
    package var coreContext: CoreRequestContextStorage
    /// The peer's IP address, or the client a trusted proxy named (for throttling and the ledger).
    package var clientAddress: String
    /// The signed-in person, from the session cookie only.
    package var identity: Identity?
    /// The session cookie and the form token.
    package var portal = PortalRequestState()

    package init(context: HospitalRequestContext) {
        coreContext = context.coreContext
        clientAddress = context.clientAddress
    }
}
