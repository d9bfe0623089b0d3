import BucketStore
import ChunkChain
import S3Client

/// Where the chain's two buckets are: each in this data root (the default) or on any S3 service. The
/// executable composes the chunk store from them; the chain itself sees only ``ChunkStore``.
struct ChainLocations: Sendable {
    /// Where one bucket is.
    enum Location: Sendable {
        /// A bucket of the local data root, written through ``BucketStore``.
        case local(bucket: String)
        /// A bucket on an S3 service.
        case s3(endpoint: S3Endpoint, bucket: String)
    }

    var a: Location
    var b: Location

    init(a: Location = .local(bucket: "reports-a"), b: Location = .local(bucket: "reports-b")) {
        self.a = a
        self.b = b
    }

    /// The store over both buckets, creating the buckets when missing: each bucket is served by the store
    /// of its own location.
    /// - Parameter local: The data root for local buckets; opened only when a bucket is local.
    func makeStore(local: () throws -> BucketStore, owner: String, now: Int64) async throws -> any ChunkStore {
        var root: BucketStore?
        func store(_ location: Location, as bucket: ChainBucket) async throws -> any ChunkStore {
            switch location {
            case .local(let name):
                if root == nil { root = try local() }
                let store = LocalChunkStore(store: root!, bucketA: name, bucketB: name)
                try await store.createBuckets(owner: owner, now: now)
                return store
            case .s3(let endpoint, let name):
                let store = S3ChunkStore(targets: [bucket: .init(client: S3Client(endpoint: endpoint), bucket: name)])
                try await store.createBuckets()
                return store
            }
        }
        return RoutingChunkStore(a: try await store(a, as: .a), b: try await store(b, as: .b))
    }
}
