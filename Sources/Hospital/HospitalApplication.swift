import DurableFiles
import Foundation
import HospitalAPI
package import HospitalCore
import HospitalPortal
package import Hummingbird
package import Logging
package import Operations

/// Where the hospital API listens.
package struct HospitalConfiguration: Sendable {
    package var host: String
    /// 0 picks a free port.
    package var port: Int
    /// Peers (a reverse proxy) whose `X-Forwarded-For` names the client; from anyone else the header is ignored.
    package var trustedProxies: Set<String>
    /// Timeouts and connection caps (trusted proxies have no per-client share).
    package var connections: ConnectionPolicy
    /// The web portal's name and address.
    package var portal: PortalConfiguration
    /// PEM certificate chain and key: serve HTTPS on the hospital port.
    package var tls: TLSFiles?

    package init(
        host: String = "127.0.0.1", port: Int = 8080, trustedProxies: Set<String> = [], connections: ConnectionPolicy = .init(),
        portal: PortalConfiguration = .init(), tls: TLSFiles? = nil
    ) {
        self.tls = tls
        self.host = host
        self.port = port
        self.trustedProxies = trustedProxies
        self.connections = connections
        self.connections.exemptAddresses.formUnion(trustedProxies)
        self.portal = portal
        self.portal.listenerIsTLS = tls != nil
    }
}

/// The hospital's listener: the web portal at `/`, the JSON API at `/api`.
/// - Parameters:
///   - health: What `/-/health/ready` checks.
///   - metrics: `/-/metrics`, when the program exposes metrics.
///   - onServerRunning: Called with the bound port once the server listens.
package func buildHospitalApplication(
    configuration: HospitalConfiguration,
    services: HospitalServices,
    health: HealthProbe = .alwaysReady,
    metrics: MetricsEndpoint? = nil,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in },
    logger: Logger = Logger(label: "chainvault.hospital")
) throws -> some ApplicationProtocol {
    let router = Router(context: HospitalRequestContext.self)
    if !configuration.trustedProxies.isEmpty { router.add(middleware: ForwardedClientMiddleware(trusted: configuration.trustedProxies)) }
    router.add(middleware: HealthMiddleware(probe: health, metrics: metrics))
    if let metrics { router.add(middleware: MetricsEndpointMiddleware(endpoint: metrics)) }
    router.add(middleware: RequestMetricsMiddleware(listener: "hospital"))
    addAPI(to: router, services: services, portal: configuration.portal, logger: logger)
    try addPortal(to: router, configuration: configuration.portal, services: services, logger: logger)
    return Application(
        router: router,
        server: try makeHTTPServer(connections: configuration.connections, tls: configuration.tls),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
        logger: logger
    )
}
