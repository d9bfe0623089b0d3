import Crypto
import DurableFiles
import Foundation
import Hummingbird
import Logging
import Operations

/// Where the hospital API listens.
public struct HospitalConfiguration: Sendable {
    public var host: String
    /// 0 picks a free port.
    public var port: Int
    /// Peers (a reverse proxy) whose `X-Forwarded-For` names the client; from anyone else the header is ignored.
    public var trustedProxies: Set<String>
    /// Timeouts and connection caps (trusted proxies have no per-client share).
    public var connections: ConnectionPolicy
    /// The web portal's name and address.
    public var portal: PortalConfiguration
    /// PEM certificate chain and key: serve HTTPS on the hospital port.
    public var tls: TLSFiles?

    public init(
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

/// Every service of the hospital over one database, clock and random source.
public struct HospitalServices: Sendable {
    public let database: HospitalDatabase
    public let accounts: Accounts
    public let scheduling: Scheduling
    public let reports: Reports
    public let consent: Consent
    public let emergency: EmergencyAccess
    /// Signs the audit ledger's checkpoints and proves its entries; nil only in tests that do not need it
    /// (the audit API then answers 503).
    public let notary: AuditNotary?
    /// Seconds since 1970.
    let clock: @Sendable () -> Int64
    /// A CSPRNG outside tests.
    let random: @Sendable (Int) -> [UInt8]
    let sessionPolicy: Accounts.SessionPolicy
    let sender: any CodeSender
    /// Rung when mail is queued: the ``MailQueue`` delivers at once.
    let doorbell = MailQueue.Doorbell()

    /// - Parameters:
    ///   - codeKey: The key one-time codes are MACed under; kept outside the database.
    ///   - clock: Seconds since 1970.
    ///   - random: A CSPRNG outside tests: tokens, codes.
    public init(
        database: HospitalDatabase, hasher: PasswordHasher, vault: ReportVault, sender: any CodeSender, codeKey: SymmetricKey,
        sessionPolicy: Accounts.SessionPolicy = .init(), consentPolicy: Consent.Policy = .init(),
        emergencyPolicy: EmergencyAccess.Policy = .init(),
        maxReportSize: Int64 = Reports.defaultMaxSize, portal: PortalConfiguration = .init(), notary: AuditNotary? = nil,
        clock: @escaping @Sendable () -> Int64, random: @escaping @Sendable (Int) -> [UInt8]
    ) {
        self.database = database
        self.notary = notary
        self.sender = sender
        let notices = Notices(portal: portal, doorbell: doorbell)
        self.clock = clock
        self.random = random
        self.sessionPolicy = sessionPolicy
        accounts = Accounts(
            database: database, hasher: hasher, policy: sessionPolicy, clock: clock, random: random, sender: sender, notices: notices,
            codeKey: codeKey)
        scheduling = Scheduling(database: database, clock: clock, notices: notices)
        reports = Reports(database: database, vault: vault, maxSize: maxReportSize, clock: clock, notices: notices)
        emergency = EmergencyAccess(database: database, notices: notices, policy: emergencyPolicy, clock: clock)
        consent = Consent(
            database: database, sender: sender, macKey: codeKey, policy: consentPolicy, notary: notary, portal: portal, clock: clock,
            random: random)
    }

    /// The service that verifies every report's chain again once its last verification is `interval` old.
    public func reportVerifier(interval: Duration) -> ReportVerifier {
        ReportVerifier(database: database, vault: reports.vault, interval: interval, clock: clock)
    }

    /// The service that hands queued mail to the sender and sweeps spent codes from the outbox; the
    /// program runs it beside the listeners.
    /// - Parameter interval: Time between two rounds when nothing rings (retries, expired codes).
    public func mailQueue(interval: Duration = .seconds(30)) -> MailQueue {
        MailQueue(database: database, sender: sender, doorbell: doorbell, notary: notary, interval: interval, clock: clock)
    }
}

/// The hospital's listener: the web portal at `/`, the JSON API at `/api`.
/// - Parameters:
///   - health: What `/-/health/ready` checks.
///   - metrics: `/-/metrics`, when the program exposes metrics.
///   - onServerRunning: Called with the bound port once the server listens.
public func buildHospitalApplication(
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
    router.add(middleware: HospitalErrorMiddleware(logger: logger))
    router.add(middleware: AuthenticationMiddleware(accounts: services.accounts))
    router.get("openapi.json") { _, _ in
        Response(
            status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.bytes)))
    }
    let api = router.group("api")
    AccountController(accounts: services.accounts, portal: configuration.portal).addRoutes(to: api)
    AccountAdminController(accounts: services.accounts).addRoutes(to: api)
    CareController(scheduling: services.scheduling).addRoutes(to: api)
    ReportController(reports: services.reports, consent: services.consent, logger: logger).addRoutes(to: api)
    ConsentController(consent: services.consent).addRoutes(to: api)
    AuditController(database: services.database, notary: services.notary).addRoutes(to: api)
    EmergencyController(emergency: services.emergency).addRoutes(to: api)
    try addPortal(to: router, configuration: configuration.portal, services: services, logger: logger)
    return Application(
        router: router,
        server: try makeHTTPServer(connections: configuration.connections, tls: configuration.tls),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
        logger: logger
    )
}
