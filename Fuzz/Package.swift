// swift-tools-version:6.2

// libFuzzer targets for every parser of outside bytes (`make fuzz`, `make fuzz-smoke`). A package of
// its own, built with `-sanitize=fuzzer,address` into its own build folder (.build-fuzz), so that the
// main package's `swift build --build-tests` is unaffected.
import PackageDescription

let package = Package(
    name: "ChainVaultFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "chainvault", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        // libFuzzer's driver entry, shared by every target.
        .target(name: "FuzzDriver"),
        // A router client for the stateful targets (the hospital's JSON API, the portal): one testing
        // channel per server rather than one per request.
        .target(
            name: "FuzzRouter",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"), .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // SigV4: the Authorization header and presigned query parsers, the canonical request builder.
        .executableTarget(
            name: "FuzzSigV4",
            dependencies: ["FuzzDriver", .product(name: "S3Protocol", package: "chainvault")]),
        // aws-chunked bodies, unsigned and with chunk signatures, split at random.
        .executableTarget(
            name: "FuzzAWSChunked",
            dependencies: [
                "FuzzDriver", .product(name: "S3Protocol", package: "chainvault"), .product(name: "NIOCore", package: "swift-nio"),
            ]),
        // Every XML body the gateway reads and every XML answer the S3 client reads.
        .executableTarget(
            name: "FuzzXML",
            dependencies: [
                "FuzzDriver", .product(name: "S3Protocol", package: "chainvault"), .product(name: "S3Client", package: "chainvault"),
            ]),
        // Chunk headers and chain walks, keyless, over an in-memory store.
        .executableTarget(
            name: "FuzzChunk",
            dependencies: [
                "FuzzDriver", .product(name: "ChunkChain", package: "chainvault"),
                .product(name: "ChunkChainTesting", package: "chainvault"), .product(name: "Crypto", package: "swift-crypto"),
            ]),
        // The portal's forms, multipart uploads, cookies and Accept-Language, through its router.
        .executableTarget(
            name: "FuzzPortal",
            dependencies: [
                "FuzzDriver", .product(name: "HospitalTesting", package: "chainvault"), "FuzzRouter",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // The audit ledger's signed notes, checkpoints, tlog proofs, keys, entry encoding and checkpoint file.
        .executableTarget(
            name: "FuzzTransparency",
            dependencies: [
                "FuzzDriver", .product(name: "Transparency", package: "chainvault"),
                .product(name: "HospitalTesting", package: "chainvault"),
            ]),
        // The YAML configuration file.
        .executableTarget(
            name: "FuzzConfig",
            dependencies: ["FuzzDriver", .product(name: "Settings", package: "chainvault")]),
        // The hospital's JSON bodies, through its router.
        .executableTarget(
            name: "FuzzHospitalJSON",
            dependencies: [
                "FuzzDriver", .product(name: "HospitalTesting", package: "chainvault"), "FuzzRouter",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]),
    ]
)
