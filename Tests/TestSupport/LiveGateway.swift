package import BucketStore
import Foundation
import Hummingbird
package import HummingbirdTesting
package import Operations
package import S3Gateway

/// A gateway on a fresh temporary data root, served live on port 0 with a fixed clock and a root key
/// of its own; the data root is removed when ``run(health:metrics:_:)`` returns.
package struct LiveGateway: Sendable {
    package static let now: Int64 = 1_795_000_000
    package static let root = AccessKey(
        accessKeyId: "ROOTKEYID00000000000", secretKey: "root-secret-0123456789-abcdefghijklmnop", isRoot: true)

    package let dataRoot: String
    package let store: BucketStore
    package let credentials: CredentialStore
    let clock: @Sendable () -> Int64

    /// - Parameter clock: The gateway's time; by default fixed at ``now``, for requests signed by hand.
    ///   A real client signs with the real time, which the gateway's must then be.
    package init(rootKey: AccessKey = LiveGateway.root, clock: @escaping @Sendable () -> Int64 = { LiveGateway.now }) throws {
        dataRoot = temporaryPath("cv-gateway")
        store = try BucketStore(root: dataRoot)
        credentials = CredentialStore(configDirectory: store.systemPath, rootOverride: rootKey)
        self.clock = clock
    }

    package func addKey(readOnly: Bool = false, buckets: [String] = []) throws -> AccessKey {
        try credentials.add(readOnly: readOnly, buckets: buckets)
    }

    /// Runs `body` against the live server, then removes the data root.
    package func run(
        health: HealthProbe = .alwaysReady, metrics: MetricsEndpoint? = nil,
        _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        defer { removeTemporary(dataRoot) }
        let app = try buildApplication(
            configuration: GatewayConfiguration(host: "127.0.0.1", port: 0), store: store, credentials: credentials,
            clock: clock, health: health, metrics: metrics)
        try await app.test(.live) { client in try await body(client) }
    }
}
