// swift-tools-version:6.2

import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "chainvault",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "chainvault", targets: ["chainvault"]),
        .library(name: "S3Protocol", targets: ["S3Protocol"]),
        .library(name: "BucketStore", targets: ["BucketStore"]),
        .library(name: "S3Gateway", targets: ["S3Gateway"]),
        // For the fuzz targets in Fuzz/, which reach the parsers through these libraries.
        .library(name: "S3Client", targets: ["S3Client"]),
        .library(name: "ChunkChain", targets: ["ChunkChain"]),
        // A chunk store in memory, for the tests and the fuzz targets; never linked into the executable.
        .library(name: "ChunkChainTesting", targets: ["ChunkChainTesting"]),
        // A hospital in memory (the hospital's modules are `package`), for the fuzz targets; never linked
        // into the executable.
        .library(name: "HospitalTesting", targets: ["HospitalTesting"]),
        .library(name: "Settings", targets: ["Settings"]),
        .library(name: "Transparency", targets: ["Transparency"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/CoreOffice/XMLCoder.git", from: "0.18.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        // Without its default traits, as Hummingbird takes it: the YAML file is read through Yams by Settings.
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0", traits: []),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // Pure S3 wire protocol: SigV4, payload hashes and checksums, XML types, error codes.
        .target(
            name: "S3Protocol",
            dependencies: [
                "Hex",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "XMLCoder", package: "XMLCoder"),
            ],
            swiftSettings: swiftSettings
        ),
        // What operators need from every listener: health endpoints, metrics, connection limits and timeouts.
        .target(
            name: "Operations",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Lower-case hexadecimal, written once for every module that shows bytes as text.
        .target(name: "Hex", swiftSettings: swiftSettings),
        // Small files written durably (temp file, fsync, rename, fsync of the folder; appends), and the
        // POSIX read and write loops with their EINTR retry: the one place either is written.
        .target(name: "DurableFiles", swiftSettings: swiftSettings),
        // What Swift's Glibc module does not export: <sys/xattr.h> for BucketStore, <malloc.h> for serve.
        .target(name: "CPlatform"),
        // Debian's libqrencode: the QR code of an authenticator's key on the portal's set-up page.
        .systemLibrary(name: "CQREncode", pkgConfig: "libqrencode", providers: [.apt(["libqrencode-dev"])]),
        // Every setting, declared once, and their values through swift-configuration: the environment, then the
        // YAML configuration file, then the declared default (the command line, ArgumentParser's, wins over all).
        .target(
            name: "Settings",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
                .product(name: "Configuration", package: "swift-configuration"),
            ],
            swiftSettings: swiftSettings
        ),
        // Buckets as directories, objects as plain files; knows nothing of HTTP.
        .target(
            name: "BucketStore",
            dependencies: [
                "CPlatform",
                "DurableFiles",
                "Hex",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "_NIOFileSystem", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The Hummingbird S3 front end over BucketStore.
        .target(
            name: "S3Gateway",
            dependencies: [
                "DurableFiles", "Hex",
                "S3Protocol",
                "BucketStore",
                "Operations",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "XMLCoder", package: "XMLCoder"),
            ],
            swiftSettings: swiftSettings
        ),
        // A small SigV4-signing S3 client over AsyncHTTPClient, for chunk stores on any S3 service.
        .target(
            name: "S3Client",
            dependencies: [
                "Hex",
                "S3Protocol",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Pure, no I/O: RFC 6962 Merkle trees and proofs, C2SP signed notes (Ed25519), tlog checkpoints and
        // tlog proofs: what the audit ledger commits to and what an auditor verifies offline.
        .target(
            name: "Transparency",
            dependencies: ["Hex", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // Reports as encrypted, hash-linked chunks over two buckets.
        .target(
            name: "ChunkChain",
            dependencies: [
                "DurableFiles", "Hex",
                "BucketStore",
                "S3Client",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "_NIOFileSystem", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The hospital service: accounts, slots, reports as chains, consent by one-time code, audit ledger.
        // The hospital's domain: services and records, the database, the audit ledger, mail and the
        // string catalogue; no HTTP server (docs/architecture.md).
        .target(
            name: "HospitalCore",
            dependencies: [
                "DurableFiles", "Hex",
                "ChunkChain",
                "Transparency",
                "Operations",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // The strings of pages and e-mails, inside the binary.
            resources: [.embedInCode("Strings/en.json")],
            swiftSettings: swiftSettings
        ),
        .target(name: "ChunkChainTesting", dependencies: ["ChunkChain"], swiftSettings: swiftSettings),
        // A hospital in memory for the fuzz package, which sees only `public`: the one door into the
        // hospital's `package` modules from outside this package. Not linked into the program.
        .target(
            name: "HospitalTesting",
            dependencies: [
                "Hospital", "HospitalCore", "HospitalSQLite", "ChunkChain", "ChunkChainTesting",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The hospital's storage on the embedded SQLite database (GRDB): the schema and its migrations,
        // and each area's store (docs/architecture.md, "The storage seam").
        .target(
            name: "HospitalSQLite",
            dependencies: [
                "HospitalCore", "Transparency",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // The JSON API: controllers, middleware, the request context and the OpenAPI document.
        // The hospital's storage on PostgreSQL (postgres-nio), shared by several instances: the same
        // stores as HospitalSQLite (docs/architecture.md, "The storage seam").
        .target(
            name: "HospitalPostgres",
            dependencies: [
                "ChunkChain", "Hex",
                "HospitalCore", "Transparency",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                // ConnectionPoolError: the pool's refusal when no connection can be made.
                .product(name: "_ConnectionPoolModule", package: "postgres-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "HospitalAPI",
            dependencies: [
                "HospitalCore", "ChunkChain",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // The OpenAPI document served at /openapi.json (docs/openapi.json links to it).
            resources: [.embedInCode("openapi.json")],
            swiftSettings: swiftSettings
        ),
        // The portal: pages, templates, style sheet and script for people.
        .target(
            name: "HospitalPortal",
            dependencies: [
                "HospitalCore", "HospitalAPI", "CQREncode",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // Inside the binary, which needs no files beside it.
            resources: [
                .embedInCode("Templates/layout.mustache"),
                .embedInCode("Templates/home.mustache"),
                .embedInCode("Templates/login.mustache"),
                .embedInCode("Templates/register.mustache"),
                .embedInCode("Templates/activate.mustache"),
                .embedInCode("Templates/dashboard_patient.mustache"),
                .embedInCode("Templates/dashboard_doctor.mustache"),
                .embedInCode("Templates/dashboard_admin.mustache"),
                .embedInCode("Templates/doctors.mustache"),
                .embedInCode("Templates/doctor.mustache"),
                .embedInCode("Templates/error.mustache"),
                .embedInCode("Templates/book.mustache"),
                .embedInCode("Templates/appointments.mustache"),
                .embedInCode("Templates/calendar.mustache"),
                .embedInCode("Templates/upload.mustache"),
                .embedInCode("Templates/reports.mustache"),
                .embedInCode("Templates/access.mustache"),
                .embedInCode("Templates/code.mustache"),
                .embedInCode("Templates/consent.mustache"),
                .embedInCode("Templates/history.mustache"),
                .embedInCode("Templates/register_doctor.mustache"),
                .embedInCode("Templates/admin_accounts.mustache"),
                .embedInCode("Templates/admin_audit.mustache"),
                .embedInCode("Templates/profile.mustache"),
                .embedInCode("Templates/forgot.mustache"),
                .embedInCode("Templates/reset.mustache"),
                .embedInCode("Templates/login_code.mustache"),
                .embedInCode("Templates/two_step.mustache"),
                .embedInCode("Templates/two_step_codes.mustache"),
                .embedInCode("Templates/emergency.mustache"),
                .embedInCode("Templates/admin_emergency.mustache"),
                .embedInCode("Static/portal.css"),
                .embedInCode("Static/portal.js"),
                .embedInCode("Static/icon.svg"),
            ],
            swiftSettings: swiftSettings
        ),
        // The composition root of the hospital's listener: the API and the portal on one router.
        .target(
            name: "Hospital",
            dependencies: [
                "HospitalCore", "HospitalAPI", "HospitalPortal", "DurableFiles", "Operations",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "chainvault",
            dependencies: [
                "DurableFiles", "Hex",
                "CPlatform",
                "Settings",
                "S3Gateway",
                "ChunkChain",
                "Hospital", "HospitalCore", "HospitalSQLite", "HospitalPostgres",
                "Operations",
                "BucketStore",
                "S3Client",
                "Transparency",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // What the test targets share: temporary folders, a seeded generator, a clock moved by hand, a live
        // gateway on port 0, and the hospital's fixture with its recording sender.
        .target(
            name: "TestSupport",
            dependencies: [
                "BucketStore", "S3Gateway", "Operations", "ChunkChain", "ChunkChainTesting", "Hospital", "HospitalCore", "HospitalSQLite",
                "HospitalPostgres",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PrimitivesTests",
            dependencies: ["Hex", "DurableFiles"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SettingsTests",
            dependencies: ["Settings"],
            swiftSettings: swiftSettings
        ),
        // The executable's command line against the settings' declarations.
        .testTarget(
            name: "chainvaultTests",
            dependencies: [
                "chainvault", "Settings", "S3Client", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "S3ProtocolTests",
            dependencies: ["TestSupport", "S3Protocol", "Hex"],
            resources: [.copy("Vectors")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ChunkChainTests",
            dependencies: [
                "TestSupport",
                "ChunkChain", "ChunkChainTesting",
                "Hex",
                "BucketStore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            resources: [.copy("Vectors")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "S3ClientTests",
            dependencies: [
                "TestSupport",
                "S3Client",
                "S3Gateway",
                "S3Protocol",
                "BucketStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HospitalTests",
            dependencies: [
                "TestSupport",
                "Hospital", "HospitalCore", "HospitalSQLite", "HospitalPostgres", "HospitalAPI", "HospitalPortal",
                "ChunkChain", "ChunkChainTesting",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                // The second step's codes are checked against this library's TOTP.
                .product(name: "HummingbirdOTP", package: "hummingbird-auth"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TransparencyTests",
            dependencies: ["Transparency", .product(name: "Crypto", package: "swift-crypto")],
            resources: [.copy("Vectors")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BucketStoreTests",
            dependencies: ["TestSupport", "BucketStore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "S3GatewayTests",
            dependencies: [
                "TestSupport",
                "Hex",
                "S3Gateway",
                "Operations",
                .product(name: "Prometheus", package: "swift-prometheus"),
                "S3Protocol",
                "BucketStore",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
