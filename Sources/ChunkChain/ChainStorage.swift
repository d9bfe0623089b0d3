import BucketStore
import S3Client

/// Where the chain's two buckets are: each in this data root (the default) or on any S3 service.
public struct ChainStorage: Sendable {
    /// Where one bucket is.
    public enum Location: Sendable {
        /// A bucket of the local data root, written through ``BucketStore``.
        case local(bucket: String)
        /// A bucket on an S3 service.
        case s3(endpoint: S3Endpoint, bucket: String)
    }

    public var a: Location
    public var b: Location

    public init(a: Location = .local(bucket: "reports-a"), b: Location = .local(bucket: "reports-b")) {
        self.a = a
        self.b = b
    }

    /// The store over both buckets, creating the buckets when missing.
    /// - Parameter local: The data root for local buckets.
    public func makeStore(local: @autoclosure () throws -> BucketStore, owner: String, now: Int64) async throws -> any ChunkStore {
        switch (a, b) {
        case (.local(let bucketA), .local(let bucketB)):
            let store = LocalChunkStore(store: try local(), bucketA: bucketA, bucketB: bucketB)
            try await store.createBuckets(owner: owner, now: now)
            return store
        case (.s3(let endpointA, let bucketA), .s3(let endpointB, let bucketB)):
            let store = S3ChunkStore(targets: [
                .a: .init(client: S3Client(endpoint: endpointA), bucket: bucketA),
                .b: .init(client: S3Client(endpoint: endpointB), bucket: bucketB),
            ])
            try await store.createBuckets()
            return store
        default:
            return RoutingChunkStore(
                a: try await Self.single(a, as: .a, local: local(), owner: owner, now: now),
                b: try await Self.single(b, as: .b, local: local(), owner: owner, now: now)
            )
        }
    }

    /// A store serving one bucket only.
    static func single(_ location: Location, as bucket: ChainBucket, local: BucketStore, owner: String, now: Int64) async throws
        -> any ChunkStore
    {
        switch location {
        case .local(let name):
            let store = LocalChunkStore(store: local, bucketA: name, bucketB: name)
            try await store.createBuckets(owner: owner, now: now)
            return store
        case .s3(let endpoint, let name):
            let store = S3ChunkStore(targets: [bucket: .init(client: S3Client(endpoint: endpoint), bucket: name)])
            try await store.createBuckets()
            return store
        }
    }
}
