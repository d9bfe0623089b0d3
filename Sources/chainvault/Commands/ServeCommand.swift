import ArgumentParser
import BucketStore
import CPlatform
import ChunkChain
import DurableFiles
import Foundation
import Hex
import Hospital
import HospitalCore
import HospitalPostgres
import Hummingbird
import Logging
import Metrics
import NIOCore
import NIOPosix
import Operations
import S3Gateway
import ServiceLifecycle
import Settings
import Transparency
import UnixSignals

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the S3 gateway and the hospital API.",
        discussion: """
            Every option can also be set by an environment variable CHAINVAULT_<NAME>: the option's name in capitals \
            with dashes as underscores (--s3-port is CHAINVAULT_S3_PORT), and in the configuration file (--config) by \
            its name (s3-port: 9000); the command line wins over the environment, the environment over the file. \
            Secrets and their files are never options, only variables or file keys:

            """
                + Setting.allCases.filter { $0.declaration.source == .environmentOrFile }
                .map { "  \($0.environmentName) (\($0.rawValue)): \($0.declaration.help)" }.joined(separator: "\n")
    )

    @OptionGroup var dataRoot: DataRootOptions

    @Option(name: .setting(.host), help: .setting(.host))
    var host: String = settings.string(.host)

    @Option(name: .setting(.s3Port), help: .setting(.s3Port))
    var s3Port: Int = settings.number(.s3Port)

    @Option(name: .setting(.hospitalPort), help: .setting(.hospitalPort))
    var hospitalPort: Int = settings.number(.hospitalPort)

    @Option(name: .setting(.region), help: .setting(.region))
    var region: String = settings.string(.region)

    @Option(name: .setting(.domain), help: .setting(.domain))
    var domain: String?

    @Option(name: .setting(.tlsCert), help: .setting(.tlsCert))
    var tlsCert: String?

    @Option(name: .setting(.tlsKey), help: .setting(.tlsKey))
    var tlsKey: String?

    @Option(name: .setting(.hospitalTLSCert), help: .setting(.hospitalTLSCert))
    var hospitalTLSCert: String?

    @Option(name: .setting(.hospitalTLSKey), help: .setting(.hospitalTLSKey))
    var hospitalTLSKey: String?

    @Option(name: .setting(.trustedProxies), help: .setting(.trustedProxies))
    var trustedProxies: String = settings.string(.trustedProxies)

    @OptionGroup(title: "Report chains (hospital)") var storage: ChainLocationOptions

    @OptionGroup(title: "Hospital database") var database: DatabaseOptions

    @Option(name: .setting(.codeKey), help: .setting(.codeKey))
    var codeKey: String?

    /// --code-key, else the environment or file, else the data root's.
    func codeKeyPath(root: DataRoot) -> String { codeKey ?? settings.given(.codeKey) ?? root.codeKey }

    @OptionGroup(title: "Audit ledger (hospital)") var audit: AuditOptions

    @Option(name: .setting(.auditOrigin), help: .setting(.auditOrigin))
    var auditOrigin: String?

    @Option(name: .setting(.auditCheckpointInterval), help: .setting(.auditCheckpointInterval))
    var auditCheckpointInterval: Int64 = settings.number(.auditCheckpointInterval)

    @Option(name: .setting(.emergencyAccessLifetime), help: .setting(.emergencyAccessLifetime))
    var emergencyAccessLifetime: Int64 = settings.number(.emergencyAccessLifetime)

    @Option(name: .setting(.reportSizeLimit), help: .setting(.reportSizeLimit))
    var reportSizeLimit: Int64 = settings.number(.reportSizeLimit)

    @Option(name: .setting(.grantLifetime), help: .setting(.grantLifetime))
    var grantLifetime: Int64 = settings.number(.grantLifetime)

    @Option(name: .setting(.smtpURL), help: .setting(.smtpURL))
    var smtpURL: String?

    @Option(name: .setting(.smtpFrom), help: .setting(.smtpFrom))
    var smtpFrom: String?

    @Option(name: .setting(.smtpUser), help: .setting(.smtpUser))
    var smtpUser: String?

    @Option(name: .setting(.smtpCAFile), help: .setting(.smtpCAFile))
    var smtpCAFile: String?

    @Option(name: .setting(.freeSpaceReserve), help: .setting(.freeSpaceReserve))
    var freeSpaceReserve: Int64 = settings.number(.freeSpaceReserve)

    @Option(name: .setting(.shutdownTimeout), help: .setting(.shutdownTimeout))
    var shutdownTimeout: Int = settings.number(.shutdownTimeout)

    @Option(name: .setting(.multipartExpiry), help: .setting(.multipartExpiry))
    var multipartExpiry: Int64 = settings.number(.multipartExpiry)

    @Option(name: .setting(.housekeepingInterval), help: .setting(.housekeepingInterval))
    var housekeepingInterval: Int64 = settings.number(.housekeepingInterval)

    @Option(name: .setting(.headerTimeout), help: .setting(.headerTimeout))
    var headerTimeout: Int64 = settings.number(.headerTimeout)

    @Option(name: .setting(.keepaliveTimeout), help: .setting(.keepaliveTimeout))
    var keepaliveTimeout: Int64 = settings.number(.keepaliveTimeout)

    @Option(name: .setting(.stallTimeout), help: .setting(.stallTimeout))
    var stallTimeout: Int64 = settings.number(.stallTimeout)

    @Option(name: .setting(.maxConnections), help: .setting(.maxConnections))
    var maxConnections: Int = settings.number(.maxConnections)

    @Option(name: .setting(.maxConnectionsPerClient), help: .setting(.maxConnectionsPerClient))
    var maxConnectionsPerClient: Int = settings.number(.maxConnectionsPerClient)

    @Option(name: .setting(.portalURL), help: .setting(.portalURL))
    var portalURL: String?

    @Option(name: .setting(.siteName), help: .setting(.siteName))
    var siteName: String = settings.string(.siteName)

    @Option(name: .setting(.sessionIdleTimeout), help: .setting(.sessionIdleTimeout))
    var sessionIdleTimeout: Int64 = settings.number(.sessionIdleTimeout)

    @Option(name: .setting(.verifyInterval), help: .setting(.verifyInterval))
    var verifyInterval: Int64 = settings.number(.verifyInterval)

    @Option(name: .setting(.logFormat), help: .setting(.logFormat))
    var logFormat: String = settings.string(.logFormat)

    @Option(name: .setting(.logLevel), help: .setting(.logLevel))
    var logLevel: String = settings.string(.logLevel)

    /// The options without a default, with their values from the environment or the file.
    var resolvedDomain: String? { (domain ?? settings.given(.domain))?.lowercased() }
    var resolvedTLSCert: String? { tlsCert ?? settings.given(.tlsCert) }
    var resolvedTLSKey: String? { tlsKey ?? settings.given(.tlsKey) }
    var resolvedHospitalTLSCert: String? { hospitalTLSCert ?? settings.given(.hospitalTLSCert) }
    var resolvedHospitalTLSKey: String? { hospitalTLSKey ?? settings.given(.hospitalTLSKey) }
    var resolvedAuditOrigin: String? { auditOrigin ?? settings.given(.auditOrigin) }
    var resolvedPortalURLText: String? { portalURL ?? settings.given(.portalURL) }
    var resolvedSMTPURL: String? { smtpURL ?? settings.given(.smtpURL) }
    var resolvedSMTPFrom: String? { smtpFrom ?? settings.given(.smtpFrom) }

    /// The hospital listener's TLS files, when both are set.
    var hospitalTLS: TLSFiles? {
        guard let cert = resolvedHospitalTLSCert, let key = resolvedHospitalTLSKey else { return nil }
        return TLSFiles(certificateChain: cert, privateKey: key)
    }

    /// --trusted-proxies as a set of addresses.
    var proxies: Set<String> {
        Set(trustedProxies.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
    }

    /// The timeouts and caps both listeners apply.
    var connectionPolicy: ConnectionPolicy {
        ConnectionPolicy(
            headTimeout: .seconds(headerTimeout), keepaliveTimeout: .seconds(keepaliveTimeout), stallTimeout: .seconds(stallTimeout),
            maxConnections: maxConnections, maxConnectionsPerClient: maxConnectionsPerClient, exemptAddresses: proxies)
    }

    /// The portal's configured address, checked by validate().
    var resolvedPortalURL: URL? {
        resolvedPortalURLText.flatMap { URL(string: $0.hasSuffix("/") ? String($0.dropLast()) : $0) }
    }

    func validate() throws {
        guard (0...65535).contains(s3Port) else { throw ValidationError("--s3-port must be between 0 and 65535.") }
        guard (0...65535).contains(hospitalPort) else { throw ValidationError("--hospital-port must be between 0 and 65535.") }
        guard ["text", "json"].contains(logFormat) else { throw ValidationError("--log-format is text or json, not '\(logFormat)'.") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level '\(logLevel)' is not a log level.") }
        guard multipartExpiry > 0 else { throw ValidationError("--multipart-expiry must be positive.") }
        guard housekeepingInterval > 0 else { throw ValidationError("--housekeeping-interval must be positive.") }
        guard shutdownTimeout >= 0 else { throw ValidationError("--shutdown-timeout must be 0 or more.") }
        guard freeSpaceReserve >= 0 else { throw ValidationError("--free-space-reserve must be 0 or more.") }
        for (name, value) in [("header-timeout", headerTimeout), ("keepalive-timeout", keepaliveTimeout), ("stall-timeout", stallTimeout)]
        where value <= 0 {
            throw ValidationError("--\(name) must be positive.")
        }
        guard maxConnections > 0, maxConnectionsPerClient > 0 else {
            throw ValidationError("--max-connections and --max-connections-per-client must be positive.")
        }
        if database.resolvedURL != nil, storage.endpointURLA == nil || storage.endpointURLB == nil {
            // Other instances could not read chunks that sit in this one's data root.
            FileHandle.standardError.write(
                Data(
                    """
                    Error: --database-url shares the hospital between instances, and its report chains must be where \
                    every instance reads them: set --endpoint-a and --endpoint-b (an S3 service), not this data root.

                    """.utf8))
            throw ExitCode(78)
        }
        try audit.validate(database: database)
        guard reportSizeLimit > 0 else { throw ValidationError("--report-size-limit must be positive.") }
        guard grantLifetime > 0 else { throw ValidationError("--grant-lifetime must be positive.") }
        guard !region.isEmpty else { throw ValidationError("--region must not be empty.") }
        for proxy in proxies where (try? SocketAddress(ipAddress: proxy, port: 0)) == nil {
            throw ValidationError("--trusted-proxies: '\(proxy)' is not an IP address.")
        }
        guard (resolvedTLSCert == nil) == (resolvedTLSKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together.") }
        guard (resolvedHospitalTLSCert == nil) == (resolvedHospitalTLSKey == nil)
        else { throw ValidationError("--hospital-tls-cert and --hospital-tls-key go together.") }
        guard emergencyAccessLifetime >= 300, emergencyAccessLifetime <= 86400 else {
            throw ValidationError("--emergency-access-lifetime is 300 to 86400 seconds.")
        }
        guard auditCheckpointInterval >= 1, auditCheckpointInterval <= 86400 else {
            throw ValidationError("--audit-checkpoint-interval is 1 to 86400 seconds.")
        }
        if let origin = resolvedAuditOrigin, !NoteKeys.isValidName(origin) || origin.count > 200 {
            throw ValidationError(
                "--audit-origin '\(origin)' is not a log name: 1 to 200 characters, no spaces or '+', e.g. hospital.example/audit.")
        }
        guard verifyInterval == 0 || verifyInterval >= 60 else {
            throw ValidationError("--verify-interval is 0 (off) or at least 60 seconds.")
        }
        guard sessionIdleTimeout >= 60, sessionIdleTimeout <= 12 * 3600 else {
            throw ValidationError("--session-idle-timeout is 60 to 43200 seconds.")
        }
        guard !siteName.trimmingCharacters(in: .whitespaces).isEmpty, siteName.count <= 100 else {
            throw ValidationError("--site-name has 1 to 100 characters.")
        }
        if let text = resolvedPortalURLText {
            guard let url = resolvedPortalURL, ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host?.isEmpty == false,
                url.path.isEmpty, url.query == nil, url.user == nil
            else {
                throw ValidationError(
                    "--portal-url '\(text)' is not an http or https address without a path, e.g. https://portal.hospital.example.")
            }
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let json = logFormat == "json"
        LoggingSystem.bootstrap { label in
            if json { return EscapingLogHandler(base: JSONLogHandler(label: label, logLevel: level)) }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return EscapingLogHandler(base: handler)
        }
        let logger = Logger(label: "chainvault")
        raiseDescriptorLimit()
        returnLargeBuffersToTheSystem()
        let root = try DataRoot.create(dataRoot.data)
        let fileIO = NIOThreadPool(numberOfThreads: Self.fileThreads)
        fileIO.start()
        defer { fileIO.shutdownGracefully { _ in } }
        let services = try await DatabaseOptions.exitingWhenRefused {
            try await build(settings: self, root: root, fileIO: fileIO, logger: logger) { listener, url in
                output("\(listener): \(url)")
            }
        }
        try await services.run()
    }
}

extension Serve {
    /// Threads for the store's blocking file-system calls. Most of their time is spent waiting on the
    /// disk (an acknowledged PUT waits for two syncs), not on a core: with NIO's shared pool (one
    /// thread per core) only two syncs were in flight on this 2-core machine, and 16 clients' PUTs
    /// queued behind them. With 16, the file system commits many writers' syncs in one journal
    /// transaction (BENCHMARKS.md, 2026-11-30).
    static let fileThreads = 16

    /// Seconds the scheduling clock runs ahead of the real one, from `CHAINVAULT_TEST_SCHEDULING_OFFSET`:
    /// for interop tests only, so that a slot published ahead has started without waiting for it. It
    /// moves nothing else (codes, sessions, the ledger, retention keep the real clock), is not a setting,
    /// and is logged as a warning at start.
    static func testSchedulingOffset() -> Int64? {
        guard let text = ProcessInfo.processInfo.environment["CHAINVAULT_TEST_SCHEDULING_OFFSET"], let offset = Int64(text),
            offset != 0, abs(offset) <= 366 * 86400
        else { return nil }
        Logger(label: "chainvault").warning(
            "CHAINVAULT_TEST_SCHEDULING_OFFSET is set: the scheduling clock runs \(offset) s off the real one (for tests only)")
        return offset
    }

    /// The hospital over the data root: its database, the report chains (the gateway's store for local
    /// buckets), the code outbox and key in the config folder.
    func hospitalServices(
        root: DataRoot, chunks: any ChunkStore, portal: PortalConfiguration, database: HospitalStorageChoice
    ) async throws -> HospitalServices {
        let hospitalStorage = database.storage
        let keyringPath = storage.keyringPath(root: root)
        let index = try database.chainIndex(root: root)
        // Checked now, and made only for a data root without chains, so that a missing or broken keyring
        // stops start-up rather than the first upload. Later reads never make one (fail closed).
        _ = try await storage.keyringCreatingForEmptyVault(root: root, index: index, store: chunks) { message in
            Logger(label: "chainvault").notice("\(message)")
        }
        if database.sharedIndex != nil { Self.markIndexShared(in: chunks) }
        let vault = ReportVault(
            store: chunks,
            keyring: { [file = KeyringFile(path: keyringPath)] in try await file.current() },
            index: index, spoolDirectory: root.tmp, clock: { now() })
        var schedulingClock: (@Sendable () -> Int64)?
        if let offset = Self.testSchedulingOffset() { schedulingClock = { now() + offset } }
        return HospitalServices(
            storage: hospitalStorage, hasher: PasswordHasher(random: systemRandom),
            vault: vault, sender: try codeSender(root: root),
            codeKey: try CodeKeyFile.loadOrCreate(path: codeKeyPath(root: root), random: systemRandom),
            sessionPolicy: .init(portalIdle: .seconds(sessionIdleTimeout)),
            consentPolicy: .init(grantLifetime: .seconds(grantLifetime)),
            emergencyPolicy: .init(lifetime: .seconds(emergencyAccessLifetime)),
            maxReportSize: reportSizeLimit, portal: portal,
            notary: try await auditNotary(root: root, storage: hospitalStorage, chunks: chunks), clock: { now() },
            schedulingClock: schedulingClock, random: systemRandom)
    }

    /// Marks the chain buckets as those of a hospital whose chain index is in its database, so that
    /// `chain orphans` without --database-url refuses them instead of seeing every chunk as an orphan. In
    /// the background, again every minute until it is written: an S3 service that fails a write now
    /// (SeaweedFS does, just after making a bucket) does not stop the start, and the other instances
    /// wrote it already unless this is the first.
    static func markIndexShared(in chunks: any ChunkStore) {
        Task {
            let logger = Logger(label: "chainvault")
            while true {
                do {
                    try await ChainBucket.markIndexShared(in: chunks)
                    return
                } catch {
                    logger.warning(
                        "could not mark the chain buckets as indexed in the database; trying again in a minute",
                        metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: .seconds(60))
                }
            }
        }
    }

    /// What every instance of a shared database must have the same of, by fingerprints that reveal
    /// nothing: the keyring (its first key's id), the code key, the audit signing key (its public key).
    /// Each of them only when its file exists.
    func keyFingerprints(root: DataRoot) async throws -> [(name: String, fingerprint: String)] {
        var fingerprints: [(name: String, fingerprint: String)] = []
        let keyring = storage.keyringPath(root: root)
        if FileManager.default.fileExists(atPath: keyring), let first = try await KeyringFile(path: keyring).current().keys.first {
            fingerprints.append(("keyring", Hex.encode(first.id)))
        }
        let codeKey = try CodeKeyFile.loadOrCreate(path: codeKeyPath(root: root), random: systemRandom)
        fingerprints.append(("code key", CodeKeyFile.fingerprint(codeKey)))
        if let signer = try audit.signer(root: root) { fingerprints.append(("audit signing key", "\(signer.verifier)")) }
        return fingerprints
    }

    /// The audit ledger's notary: its signing key (made only for a ledger without checkpoints anywhere),
    /// the checkpoint file, and the chain buckets for copies. Refuses start-up when the key is missing
    /// but checkpoints exist, or when the database no longer holds what was signed.
    func auditNotary(root: DataRoot, storage hospitalStorage: any HospitalStorage, chunks: any ChunkStore) async throws -> AuditNotary {
        let logger = Logger(label: "chainvault.audit")
        let keyPath = audit.keyPath(root: root)
        let log = audit.log(root: root, database: database)
        let started: (notary: AuditNotary, newKey: NoteVerifier?)
        do {
            started = try await AuditKeyPolicy.notary(
                existing: try audit.signer(root: root), keyPath: keyPath, origin: resolvedAuditOrigin, log: log,
                storage: hospitalStorage,
                copies: chunks, random: systemRandom, now: now(), logger: logger)
        } catch let refusal as AuditKeyPolicy.Refusal {
            throw ValidationError("\(refusal)")
        }
        let verifier = started.notary.signer.verifier
        if let newKey = started.newKey {
            output(
                """
                Generated the audit ledger's signing key \(keyPath): back it up apart from the data root. Its public (verifier) key, for auditors and patients:
                \(newKey)
                """)
        }
        if keyPath.hasPrefix(root.path + "/"), storage.endpointURLA == nil || storage.endpointURLB == nil {
            output(
                """
                audit ledger: its signing key, checkpoint file and a report bucket all sit in the data root \
                \(root.path): an insider with the whole data root is caught only through copies kept elsewhere \
                (remote buckets, patients' e-mails, an auditor's saved checkpoints). Public key: \(verifier) \
                (docs/hospital.md, "Threat model").
                """)
        }
        return started.notary
    }
}

extension Serve {
    /// `/-/metrics` on both listeners: swift-metrics into Prometheus, behind CHAINVAULT_METRICS_TOKEN (or
    /// the file CHAINVAULT_METRICS_TOKEN_FILE) when set; free disk bytes measured at each scrape. Without
    /// a token, metrics are open only while the listeners bind a loopback address.
    func metricsEndpoint(store: BucketStore) throws -> MetricsEndpoint {
        let token = try settings.secret(.metricsToken, trimming: .whitespacesAndNewlines)
        if let token, token.count < 16 { throw ValidationError("CHAINVAULT_METRICS_TOKEN needs at least 16 characters.") }
        let registry = MetricsBootstrap.prometheus()
        let free = Gauge(label: "chainvault_disk_free_bytes")
        return MetricsEndpoint(registry: registry, token: token, openWithoutToken: Self.isLoopback(host)) {
            if let bytes = store.freeBytes() { free.record(bytes) }
        }
    }

    /// Whether `host` is a loopback address or name (127.0.0.0/8, ::1, localhost).
    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    /// SMTP when a URL is configured, else the outbox folder.
    func codeSender(root: DataRoot) throws -> any CodeSender {
        guard let url = resolvedSMTPURL else {
            let from =
                resolvedSMTPFrom.map { MailSender(name: siteName, address: $0) }
                ?? MailSender.standard(siteName: siteName, hostName: ProcessInfo.processInfo.hostName)
            return try OutboxCodeSender(directory: root.outbox, from: from)
        }
        guard let from = resolvedSMTPFrom else {
            throw ValidationError("--smtp-url needs --smtp-from (CHAINVAULT_SMTP_FROM).")
        }
        let password = try settings.secret(.smtpPassword, trimming: .newlines)
        do {
            var configuration = try SMTPConfiguration(
                url: url, from: from, username: smtpUser ?? settings.given(.smtpUser), password: password,
                caFile: smtpCAFile ?? settings.given(.smtpCAFile))
            configuration.fromName = siteName
            return try SMTPCodeSender(configuration: configuration)
        } catch let error as SMTPError {
            throw ValidationError("\(error)")
        }
    }
}

/// Raises the soft limit on open descriptors to the hard limit: every connection holds one, and the
/// connection caps (--max-connections) are meant to bind before the process runs out.
func raiseDescriptorLimit() {
    #if os(Linux)
        var limit = rlimit()
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        if getrlimit(resource, &limit) == 0, limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(resource, &limit)
        }
    #endif
}

/// Makes glibc serve every allocation of 64 KiB or more (file chunks, socket buffers) with its own
/// mapping, returned to the system when freed. By default glibc raises this threshold as large blocks
/// are freed and then keeps them in per-thread heaps: with many slow readers, each holding a chunk on
/// another thread, the process grew by about 3 MB per reader and never shrank (64 readers: 236 MB
/// instead of 103 MB, debug build).
func returnLargeBuffersToTheSystem() {
    #if os(Linux)
        _ = mallopt(M_MMAP_THRESHOLD, 64 * 1024)
    #endif
}

/// Prints a line to stdout and flushes, so that a script reading the pipe sees it at once.
func output(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

extension CredentialStore {
    /// The credential store of a data root, with the root pair from the environment if both are set.
    static func open(configDirectory: String) throws -> CredentialStore {
        let accessKey = settings.given(.accessKey)
        let secretKey = try settings.secret(.secretKey, trimming: .whitespacesAndNewlines)
        var override: AccessKey?
        switch (accessKey, secretKey) {
        case (let id?, let secret?):
            guard id.count >= 3, secret.count >= 8 else {
                throw ValidationError("CHAINVAULT_ACCESS_KEY needs at least 3 and CHAINVAULT_SECRET_KEY at least 8 characters.")
            }
            override = AccessKey(accessKeyId: id, secretKey: secret, isRoot: true)
        case (nil, nil): override = nil
        default: throw ValidationError("Set both CHAINVAULT_ACCESS_KEY and CHAINVAULT_SECRET_KEY, or neither.")
        }
        return CredentialStore(configDirectory: configDirectory, rootOverride: override)
    }
}
