/// Every setting ChainVault reads, declared once: its name (the command-line option without its
/// dashes and the configuration file's key: `s3-port`), its environment variable (`CHAINVAULT_S3_PORT`),
/// the kind of value, the built-in default, the help text, and whether it is a secret. The options,
/// the file's known keys, the environment names, `deploy/chainvault.yaml` and the README's tables are
/// derived from or checked against these declarations (`SettingTests`).
public enum Setting: String, CaseIterable, Sendable {
    // Listeners
    case data, host, region, domain
    case s3Port = "s3-port"
    case hospitalPort = "hospital-port"
    case tlsCert = "tls-cert"
    case tlsKey = "tls-key"
    case hospitalTLSCert = "hospital-tls-cert"
    case hospitalTLSKey = "hospital-tls-key"
    case trustedProxies = "trusted-proxies"
    case headerTimeout = "header-timeout"
    case keepaliveTimeout = "keepalive-timeout"
    case stallTimeout = "stall-timeout"
    case maxConnections = "max-connections"
    case maxConnectionsPerClient = "max-connections-per-client"
    // Operations
    case logFormat = "log-format"
    case logLevel = "log-level"
    case freeSpaceReserve = "free-space-reserve"
    case shutdownTimeout = "shutdown-timeout"
    case multipartExpiry = "multipart-expiry"
    case housekeepingInterval = "housekeeping-interval"
    case metricsToken = "metrics-token"
    case metricsTokenFile = "metrics-token-file"
    // The root S3 key pair
    case accessKey = "access-key"
    case secretKey = "secret-key"
    case secretKeyFile = "secret-key-file"
    // Hospital
    case portalURL = "portal-url"
    case siteName = "site-name"
    case sessionIdleTimeout = "session-idle-timeout"
    case reportSizeLimit = "report-size-limit"
    case grantLifetime = "grant-lifetime"
    case emergencyAccessLifetime = "emergency-access-lifetime"
    case verifyInterval = "verify-interval"
    case auditOrigin = "audit-origin"
    case auditSigningKey = "audit-signing-key"
    case auditCheckpointFile = "audit-checkpoint-file"
    case auditCheckpointInterval = "audit-checkpoint-interval"
    case smtpURL = "smtp-url"
    case smtpFrom = "smtp-from"
    case smtpUser = "smtp-user"
    case smtpCAFile = "smtp-ca-file"
    case smtpPassword = "smtp-password"
    case smtpPasswordFile = "smtp-password-file"
    case codeKey = "code-key"
    case databaseURL = "database-url"
    case databaseCAFile = "database-ca-file"
    case databasePoolSize = "database-pool-size"
    case databaseStatementTimeout = "database-statement-timeout"
    case databasePassword = "database-password"
    case databasePasswordFile = "database-password-file"
    // Report chains
    case masterKeyFile = "master-key-file"
    case bucketA = "bucket-a"
    case bucketB = "bucket-b"
    case endpointA = "endpoint-a"
    case endpointB = "endpoint-b"
    case regionA = "region-a"
    case regionB = "region-b"
    case aAccessKeyId = "a-access-key-id"
    case aSecretAccessKey = "a-secret-access-key"
    case bAccessKeyId = "b-access-key-id"
    case bSecretAccessKey = "b-secret-access-key"

    /// What a setting's value is.
    public enum Kind: Sendable {
        /// Any text: a name, an address, a path.
        case text
        /// A whole number; a value that does not parse stops start-up naming the setting.
        case wholeNumber
    }

    /// Where a setting may be given.
    public enum Source: Sendable {
        /// As a command-line option too.
        case anywhere
        /// Only in the environment or the configuration file: secrets (which a command line shows to
        /// every user of the machine through `ps`) and the files and key ids that go with them.
        case environmentOrFile
    }

    /// The declaration of one setting.
    public struct Declaration: Sendable {
        public let kind: Kind
        /// The built-in default as the file would write it; nil: unset unless given.
        public let defaultValue: String?
        public let help: String
        public let source: Source
        /// A secret: kept out of logs and errors; a configuration file holding it must be mode 0600.
        public let isSecret: Bool

        init(_ kind: Kind = .text, default defaultValue: String? = nil, help: String, source: Source = .anywhere, secret: Bool = false) {
            self.kind = kind
            self.defaultValue = defaultValue
            self.help = help
            self.source = source
            self.isSecret = secret
        }
    }

    /// The environment variable: `CHAINVAULT_` and the name in capitals, dashes as underscores.
    public var environmentName: String { "CHAINVAULT_" + String(rawValue.uppercased().map { $0 == "-" ? "_" : $0 }) }

    /// The command-line option: `--` and the name.
    public var option: String { "--" + rawValue }

    /// The secret's companion: `secret-key-file` names a file holding `secret-key` (and wins over it).
    public var file: Setting? { declaration.isSecret ? Setting(rawValue: rawValue + "-file") : nil }

    // swift-format-ignore: AlwaysUseLowerCamelCase
    public var declaration: Declaration {
        switch self {
        case .data: .init(default: "buckets", help: "Data root: one directory per bucket, .chainvault/ for the server's own files.")
        case .host: .init(default: "127.0.0.1", help: "Address to listen on.")
        case .region: .init(default: "us-east-1", help: "The region clients sign for.")
        case .domain: .init(help: "Base domain for virtual-host addressing (bucket.DOMAIN); path style always works.")
        case .s3Port: .init(.wholeNumber, default: "9000", help: "S3 port; 0 picks a free port.")
        case .hospitalPort: .init(.wholeNumber, default: "8080", help: "Hospital API and portal port; 0 picks a free port.")
        case .tlsCert: .init(help: "PEM certificate chain: serve HTTPS on the S3 port (needs --tls-key).")
        case .tlsKey: .init(help: "PEM private key of --tls-cert.")
        case .hospitalTLSCert: .init(help: "PEM certificate chain: serve HTTPS on the hospital port (needs --hospital-tls-key).")
        case .hospitalTLSKey: .init(help: "PEM private key of --hospital-tls-cert.")
        case .trustedProxies:
            .init(
                help: """
                    Comma-separated IP addresses of reverse proxies whose X-Forwarded-For names the hospital client, for \
                    login throttling and the audit ledger.
                    """)
        case .headerTimeout:
            .init(.wholeNumber, default: "30", help: "Seconds a request's head may take to arrive whole, on both listeners.")
        case .keepaliveTimeout:
            .init(.wholeNumber, default: "60", help: "Seconds an idle connection waits for its next request, on both listeners.")
        case .stallTimeout:
            .init(
                .wholeNumber, default: "60",
                help: """
                    Seconds a request body or a response may go without moving a byte before the connection is closed; a \
                    transfer that keeps moving is never cut.
                    """)
        case .maxConnections:
            .init(.wholeNumber, default: "4096", help: "Open connections each listener keeps at most; more are accepted and closed.")
        case .maxConnectionsPerClient:
            .init(
                .wholeNumber, default: "256",
                help: "Open connections one client address keeps at most on each listener; trusted proxies are exempt.")
        case .logFormat: .init(default: "text", help: "text (one line per event) or json (one object per line).")
        case .logLevel: .init(default: "info", help: "trace, debug, info, notice, warning, error or critical.")
        case .freeSpaceReserve:
            .init(
                .wholeNumber, default: "1073741824",
                help: "Bytes the data root's file system keeps free; below it /-/health/ready answers 503.")
        case .shutdownTimeout:
            .init(.wholeNumber, default: "30", help: "Seconds SIGTERM/SIGINT wait for requests in flight before they are cut.")
        case .multipartExpiry:
            .init(
                .wholeNumber, default: "86400",
                help: "Seconds after which a multipart upload neither completed nor aborted is aborted.")
        case .housekeepingInterval:
            .init(.wholeNumber, default: "300", help: "Seconds between rounds of upload expiry and bucket usage gauges.")
        case .metricsToken:
            .init(
                help: "Bearer token (at least 16 characters) a scrape of /-/metrics must send.", source: .environmentOrFile,
                secret: true)
        case .metricsTokenFile: .init(help: "A file holding the metrics token (wins over metrics-token).", source: .environmentOrFile)
        case .accessKey:
            .init(help: "The root access key id (with secret-key): set instead of the stored pair.", source: .environmentOrFile)
        case .secretKey: .init(help: "The root secret key (with access-key).", source: .environmentOrFile, secret: true)
        case .secretKeyFile: .init(help: "A file holding the root secret key (wins over secret-key).", source: .environmentOrFile)
        case .portalURL:
            .init(
                help: """
                    The portal's address as people type it, e.g. https://portal.hospital.example: https makes its cookies \
                    Secure (TLS may end at a proxy); the only Origin its forms are accepted from; links in e-mails. \
                    Default: the address each request names, over http.
                    """)
        case .siteName: .init(default: "ChainVault Hospital", help: "The hospital's name on every portal page.")
        case .sessionIdleTimeout:
            .init(.wholeNumber, default: "900", help: "Seconds a portal sign-in may stay unused before it ends.")
        case .reportSizeLimit:
            .init(.wholeNumber, default: "1073741824", help: "Largest report the hospital API accepts, in bytes.")
        case .grantLifetime:
            .init(.wholeNumber, default: "3600", help: "Seconds a redeemed access code lets a doctor read a report.")
        case .emergencyAccessLifetime:
            .init(
                .wholeNumber, default: "3600", help: "Seconds a doctor's emergency access (\"break the glass\") to one report lasts.")
        case .verifyInterval:
            .init(
                .wholeNumber, default: "604800",
                help: """
                    Seconds after which the server reads a report's chain again to verify it; 0: never (then run \
                    `chainvault chain verify --all` from cron).
                    """)
        case .auditOrigin:
            .init(
                help: """
                    The name of this instance's audit ledger, the first line of its checkpoints, e.g. hospital.example/audit. \
                    Taken when the signing key is made (default: chainvault.local/audit- and random hex); afterwards it \
                    must match the key's name.
                    """)
        case .auditSigningKey:
            .init(
                help: """
                    The Ed25519 key that signs the audit ledger's checkpoints (default: <data>/.chainvault/audit-signing.key). \
                    Made with mode 0600 only for a ledger without checkpoints; once there are, a missing key stops start-up.
                    """)
        case .auditCheckpointFile:
            .init(help: "The local append-only file of every signed checkpoint (default: <data>/.chainvault/audit-checkpoints).")
        case .auditCheckpointInterval:
            .init(
                .wholeNumber, default: "60",
                help: """
                    Seconds between signed checkpoints of the audit ledger (when it grew), written to the checkpoint file \
                    and both chain buckets.
                    """)
        case .smtpURL:
            .init(
                help: """
                    Mail one-time codes through this SMTP server, smtp://HOST[:587] (STARTTLS) or smtps://HOST[:465]; \
                    default: one file per code in <data>/.chainvault/outbox. The password comes from smtp-password or \
                    smtp-password-file, never from the command line.
                    """)
        case .smtpFrom:
            .init(
                help: """
                    Sender address of every e-mail, shown with the site's name; needed with smtp-url. Without it the \
                    outbox's messages are from chainvault@<this host's name>.
                    """)
        case .smtpUser: .init(help: "SMTP user for AUTH PLAIN.")
        case .smtpCAFile: .init(help: "PEM CA certificates to trust for SMTP TLS instead of the system's.")
        case .smtpPassword: .init(help: "The SMTP password.", source: .environmentOrFile, secret: true)
        case .smtpPasswordFile: .init(help: "A file holding the SMTP password (wins over smtp-password).", source: .environmentOrFile)
        case .codeKey:
            .init(
                help: """
                    The key one-time codes are MACed under (default: <data>/.chainvault/code.key, made on first start). \
                    Instances sharing a database must read the same file.
                    """)
        case .databaseURL:
            .init(
                help: """
                    The hospital's PostgreSQL database, shared by several instances: postgres://USER@HOST:PORT/DATABASE \
                    (?sslmode=require or verify-full for TLS; ?host=/run/postgresql for a Unix socket). Never the \
                    password: database-password-file. Default: SQLite in <data>/.chainvault/hospital.sqlite.
                    """)
        case .databaseCAFile:
            .init(help: "PEM CA certificates to trust for the database's TLS (sslmode=verify-full) instead of the system's.")
        case .databasePoolSize:
            .init(.wholeNumber, default: "20", help: "Connections to the hospital's PostgreSQL database this instance may open, 1 to 500.")
        case .databaseStatementTimeout:
            .init(
                .wholeNumber, default: "30",
                help: "Seconds one database statement (or the wait for the writers' lock) may take before the request fails, 1 to 3600.")
        case .databasePassword: .init(help: "The database password.", source: .environmentOrFile, secret: true)
        case .databasePasswordFile:
            .init(help: "A file holding the database password (wins over database-password).", source: .environmentOrFile)
        case .masterKeyFile: .init(help: "Keyring file (default: <data>/.chainvault/keyring.json).")
        case .bucketA: .init(default: "reports-a", help: "Bucket A of the report chains.")
        case .bucketB: .init(default: "reports-b", help: "Bucket B of the report chains.")
        case .endpointA:
            .init(
                help: """
                    S3 endpoint URL of bucket A, such as http://10.0.0.5:8333 (default: the local data root). Credentials \
                    come from CHAINVAULT_A_ACCESS_KEY_ID and CHAINVAULT_A_SECRET_ACCESS_KEY, else from AWS_ACCESS_KEY_ID \
                    and AWS_SECRET_ACCESS_KEY.
                    """)
        case .endpointB: .init(help: "S3 endpoint URL of bucket B (credentials as for A, with B).")
        case .regionA: .init(default: "us-east-1", help: "Signing region of endpoint A.")
        case .regionB: .init(default: "us-east-1", help: "Signing region of endpoint B.")
        case .aAccessKeyId: .init(help: "Access key id for endpoint A.", source: .environmentOrFile)
        case .aSecretAccessKey: .init(help: "Secret access key for endpoint A.", source: .environmentOrFile, secret: true)
        case .bAccessKeyId: .init(help: "Access key id for endpoint B.", source: .environmentOrFile)
        case .bSecretAccessKey: .init(help: "Secret access key for endpoint B.", source: .environmentOrFile, secret: true)
        }
    }
}
