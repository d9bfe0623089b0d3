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
            database: database, sender: sender, macKey: codeKey, policy: consentPolicy, notary: notary, clock: clock, random: random)
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
    router.add(middleware: RequestMetricsMiddleware(listener: "hospital", route: HospitalRoutes.label))
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

/// Route labels for metrics: the path with every segment outside the API's own words replaced by
/// `{id}`, so that no request can add a label value (`/api/slots/12/booking` is `/api/slots/{id}/booking`).
enum HospitalRoutes {
    static let words: Set<String> = [
        "api", "patients", "staff", "sessions", "current", "me", "doctors", "slots", "booking", "completion", "reports", "content",
        "access-requests", "redemption", "denial", "grants", "audit", "checkpoint", "entries", "proof", "consistency", "emergency-access",
        "emergency-accesses", "review", "emergency", "openapi.json",
        "password-resets", "approval", "refusal",
        "status", "throttle", "second-factor",
        // The portal's pages.
        "login", "logout", "register", "doctor", "session", "refresh", "dashboard", "book", "appointments", "cancel", "calendar",
        "withdraw", "complete", "report", "download", "access", "requests", "request", "consent", "deny", "revoke", "history", "admin",
        "accounts", "approve", "refuse", "disable", "enable", "clear-throttle", "audit.csv", "profile", "password", "end", "static",
        "portal.css", "portal.js", "icon.svg", "forgot", "reset", "code", "two-step", "confirm", "reset-two-step",
    ]

    @Sendable static func label(_ path: String) -> String {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true).prefix(6)
        return "/" + segments.map { words.contains(String($0)) ? String($0) : "{id}" }.joined(separator: "/")
    }
}

/// The key one-time codes are MACed under: 32 random bytes in a file of the config folder (mode 0600),
/// made on first use. Without it, a copy of the database cannot be used to test codes offline.
public enum CodeKeyFile {
    public static func loadOrCreate(path: String, random: @Sendable (Int) -> [UInt8]) throws -> SymmetricKey {
        if let data = FileManager.default.contents(atPath: path) {
            guard data.count == 32 else { throw HospitalKeyFileError.damaged(path) }
            return SymmetricKey(data: data)
        }
        let bytes = random(32)
        let made: Bool
        do { made = try DurableFile.create(path, bytes: bytes, mode: 0o600) } catch { throw HospitalKeyFileError.unwritable(path) }
        // Another process made it first: use theirs.
        return made ? SymmetricKey(data: bytes) : try loadOrCreate(path: path, random: random)
    }
}

public enum HospitalKeyFileError: Error, CustomStringConvertible {
    case damaged(String)
    case unwritable(String)

    public var description: String {
        switch self {
        case .damaged(let path): "\(path) is not a 32-byte code key; restore it from backup or remove it (pending codes then fail)."
        case .unwritable(let path): "cannot write the code key \(path)"
        }
    }
}
