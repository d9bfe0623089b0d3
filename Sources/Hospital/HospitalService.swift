import Foundation
import Hummingbird
import Logging

/// Where the hospital API listens.
public struct HospitalConfiguration: Sendable {
    public var host: String
    /// 0 picks a free port.
    public var port: Int

    public init(host: String = "127.0.0.1", port: Int = 8080) {
        self.host = host
        self.port = port
    }
}

/// The hospital API over its services.
/// - Parameter onServerRunning: Called with the bound port once the server listens.
public func buildHospitalApplication(
    configuration: HospitalConfiguration,
    accounts: Accounts,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in },
    logger: Logger = Logger(label: "chainvault.hospital")
) -> some ApplicationProtocol {
    let router = Router(context: HospitalRequestContext.self)
    router.add(middleware: HospitalErrorMiddleware(logger: logger))
    router.add(middleware: AuthenticationMiddleware(accounts: accounts))
    let api = router.group("api")
    AccountController(accounts: accounts).addRoutes(to: api)
    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
        logger: logger
    )
}
