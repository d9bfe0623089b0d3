import NIOCore
public import S3Client

/// Chunks in buckets of any S3 service, through ``S3Client`` (each bucket may be on its own endpoint).
public struct S3ChunkStore: ChunkStore {
    /// One of the chain's buckets on an S3 service.
    public struct Target: Sendable {
        public let client: S3Client
        public let bucket: String

        public init(client: S3Client, bucket: String) {
            self.client = client
            self.bucket = bucket
        }
    }

    let targets: [ChainBucket: Target]

    /// The content type chunks are stored with.
    public static let contentType = "application/vnd.chainvault.chunk"

    /// - Parameter targets: Where A and B are; a store for one bucket only serves that one (see ``RoutingChunkStore``).
    public init(targets: [ChainBucket: Target]) {
        self.targets = targets
    }

    func target(_ bucket: ChainBucket) -> Target {
        guard let target = targets[bucket] else { preconditionFailure("this S3ChunkStore has no bucket \(bucket)") }
        return target
    }

    /// Runs one call of the S3 client, its errors as ``ChainError``: 507 `InsufficientStorage` is
    /// ``ChainError/storeFull(_:)``.
    func mapping<T>(_ operation: @autoclosure () -> String, _ body: () async throws -> T) async throws(ChainError) -> T {
        try await ChainError.mapping(operation(), isFull: Self.isFull, body)
    }

    /// Whether an S3 service said it has no room.
    static func isFull(_ error: any Error) -> Bool {
        guard let error = error as? S3ClientError else { return false }
        return error.status == 507 || error.code == "InsufficientStorage"
    }

    /// Creates the buckets when they do not exist yet.
    public func createBuckets() async throws {
        for target in targets.values {
            try await mapping("creating bucket \(target.bucket)") { try await target.client.createBucket(target.bucket) }
        }
    }

    public func put(_ bytes: [UInt8], key: String, bucket: ChainBucket) async throws {
        let target = target(bucket)
        try await mapping("writing \(bucket):\(key)") {
            try await target.client.putObject(
                bucket: target.bucket, key: key, body: ByteBuffer(bytes: bytes), contentType: Self.contentType)
        }
    }

    /// An S3 PUT is durable once answered: nothing to do.
    public func sync() async throws {}

    public func get(key: String, bucket: ChainBucket) async throws -> [UInt8]? {
        let target = target(bucket)
        return try await mapping("reading \(bucket):\(key)") {
            try await target.client.getObject(bucket: target.bucket, key: key, maxBytes: maxStoredChunkSize).map { Array(buffer: $0) }
        }
    }

    public func prefix(key: String, bucket: ChainBucket, count: Int) async throws -> [UInt8]? {
        let target = target(bucket)
        return try await mapping("reading \(bucket):\(key)") {
            do {
                return try await target.client.getObject(bucket: target.bucket, key: key, range: 0...Int64(count - 1), maxBytes: count)
                    .map { Array(buffer: $0) }
            } catch let error as S3ClientError where error.status == 416 {
                return []  // an empty object: no byte in the range
            }
        }
    }

    public func head(key: String, bucket: ChainBucket) async throws -> Bool {
        let target = target(bucket)
        return try await mapping("reading \(bucket):\(key)") { try await target.client.headObject(bucket: target.bucket, key: key) != nil }
    }

    public func delete(key: String, bucket: ChainBucket) async throws {
        let target = target(bucket)
        try await mapping("removing \(bucket):\(key)") { try await target.client.deleteObject(bucket: target.bucket, key: key) }
    }

    public func list(bucket: ChainBucket) async throws -> [ChunkListing] {
        let target = target(bucket)
        return try await mapping("listing bucket \(bucket)") {
            try await target.client.listAllObjects(bucket: target.bucket).map { ChunkListing(key: $0.key, modified: $0.lastModified) }
        }
    }
}

/// Sends each bucket's calls to its own store: A on one service, B on another.
public struct RoutingChunkStore: ChunkStore {
    let stores: [ChainBucket: any ChunkStore]

    public init(a: any ChunkStore, b: any ChunkStore) {
        stores = [.a: a, .b: b]
    }

    public func put(_ bytes: [UInt8], key: String, bucket: ChainBucket) async throws {
        try await stores[bucket]!.put(bytes, key: key, bucket: bucket)
    }
    public func stage(_ bytes: [UInt8], key: String, bucket: ChainBucket) async throws -> StagedChunk {
        try await stores[bucket]!.stage(bytes, key: key, bucket: bucket)
    }
    public func publish(_ chunk: StagedChunk) async throws { try await stores[chunk.bucket]!.publish(chunk) }
    public func discard(_ chunk: StagedChunk) async { await stores[chunk.bucket]!.discard(chunk) }
    public func sync() async throws {
        try await stores[.a]!.sync()
        try await stores[.b]!.sync()
    }
    public func get(key: String, bucket: ChainBucket) async throws -> [UInt8]? { try await stores[bucket]!.get(key: key, bucket: bucket) }
    public func prefix(key: String, bucket: ChainBucket, count: Int) async throws -> [UInt8]? {
        try await stores[bucket]!.prefix(key: key, bucket: bucket, count: count)
    }
    public func head(key: String, bucket: ChainBucket) async throws -> Bool { try await stores[bucket]!.head(key: key, bucket: bucket) }
    public func delete(key: String, bucket: ChainBucket) async throws { try await stores[bucket]!.delete(key: key, bucket: bucket) }
    public func list(bucket: ChainBucket) async throws -> [ChunkListing] { try await stores[bucket]!.list(bucket: bucket) }
}
