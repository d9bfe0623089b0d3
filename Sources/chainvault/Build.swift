import BucketStore
import Foundation
import Hospital
import HospitalCore
import HospitalPostgres
import Logging
import NIOPosix
import Operations
import S3Gateway
import ServiceLifecycle
import UnixSignals

/// Everything `chainvault serve` runs, composed from its settings: the S3 gateway and the hospital's
/// listener over the data root, and the background services, as one service group — the composition
/// root, in the shape of the Hummingbird template's `App+build.swift`, shared by `serve` and the tests.
/// Every setting that can still be wrong is checked before the first key is generated and shown.
/// - Parameters:
///   - fileIO: The threads for the store's blocking file-system calls; the caller stops them after the group.
///   - listening: Told each listener's name and address once it listens (`s3 endpoint`, `hospital endpoint`,
///     `hospital portal`).
func build(
    settings: Serve, root: DataRoot, fileIO: NIOThreadPool, logger: Logger, listening: @escaping @Sendable (String, String) -> Void
) async throws -> ServiceGroup {
    let store = try BucketStore(root: root.path, freeSpaceReserve: settings.freeSpaceReserve, threadPool: fileIO, logger: logger)
    try await store.removeTemporaryFiles()
    let host = settings.host
    let configuration = GatewayConfiguration(
        host: host,
        port: settings.s3Port,
        region: settings.region,
        domain: settings.resolvedDomain,
        tls: settings.resolvedTLSCert.flatMap { cert in
            settings.resolvedTLSKey.map { GatewayConfiguration.TLSFiles(certificateChain: cert, privateKey: $0) }
        },
        connections: settings.connectionPolicy
    )
    let scheme = configuration.scheme
    // Every setting that can still be wrong is checked before the first key is generated and shown.
    let metrics = try settings.metricsEndpoint(store: store)
    let credentials = try CredentialStore.open(configDirectory: root.system)
    let chunks = try await settings.storage.locations().makeStore(local: { store }, owner: "chainvault", now: now())
    let health = Readiness.probe(store: store, chunks: chunks)
    let portal = PortalConfiguration(siteName: settings.siteName, baseURL: settings.resolvedPortalURL)
    let database = try await settings.database.storage(root: root, logger: logger)
    let hospitalStorage = database.storage
    // The keys that exist are checked against the other instances' before this one signs or writes
    // anything; those made by this start (a first instance's) are recorded once the services made them.
    if let shared = database.database?.client {
        try await PostgresSchema.checkKeys(try await settings.keyFingerprints(root: root), client: shared, logger: logger)
    }
    let care = try await settings.hospitalServices(root: root, chunks: chunks, portal: portal, database: database)
    if let shared = database.database?.client {
        try await PostgresSchema.checkKeys(try await settings.keyFingerprints(root: root), client: shared, logger: logger)
    }
    if let generated = try credentials.ensureRootKey() {
        output(
            """
            Generated the root access key (stored in \(credentials.path), shown only now):
            access key id: \(generated.accessKeyId)
            secret key:    \(generated.secretKey)
            """)
    }
    let gateway = try buildApplication(
        configuration: configuration,
        store: store,
        credentials: credentials,
        health: health,
        metrics: metrics,
        onServerRunning: { port in listening("s3 endpoint", "\(scheme)://\(host):\(port)") },
        logger: logger
    )
    let hospitalScheme = settings.hospitalTLS == nil ? "http" : "https"
    let hospital = try buildHospitalApplication(
        configuration: HospitalConfiguration(
            host: host, port: settings.hospitalPort, trustedProxies: settings.proxies, connections: settings.connectionPolicy,
            portal: portal, tls: settings.hospitalTLS),
        services: care,
        health: health.adding(Readiness.hospitalDatabase(hospitalStorage)),
        metrics: metrics,
        onServerRunning: { port in
            listening("hospital endpoint", "\(hospitalScheme)://\(host):\(port)")
            listening("hospital portal", "\(portal.baseURL?.absoluteString ?? "\(hospitalScheme)://\(host):\(port)")/")
        },
        logger: Logger(label: "chainvault.hospital")
    )
    // SIGTERM/SIGINT: both listeners stop accepting, requests in flight finish within the timeout, then exit 0.
    let housekeeping = StoreHousekeeping(
        store: store, uploadExpiry: .seconds(settings.multipartExpiry), interval: .seconds(settings.housekeepingInterval), clock: { now() })
    let publisher = care.notary.map {
        AuditCheckpointPublisher(notary: $0, interval: .seconds(settings.auditCheckpointInterval), leadership: database.leadership)
    }
    var group = ServiceGroupConfiguration(
        // The database's client first: a group stops its services in reverse order, so it closes last.
        services: (database.database.map { [.init(service: $0)] } ?? []) + [
            .init(service: gateway), .init(service: hospital), .init(service: housekeeping), .init(service: care.mailQueue()),
        ] + (publisher.map { [.init(service: $0)] } ?? [])
            + (settings.verifyInterval > 0
                ? [.init(service: care.reportVerifier(interval: .seconds(settings.verifyInterval), leadership: database.leadership))] : []),
        gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    group.maximumGracefulShutdownDuration = .seconds(settings.shutdownTimeout)
    return ServiceGroup(configuration: group)
}
