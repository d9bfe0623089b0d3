public import BucketStore

/// Chunks in two buckets of this very data root, through ``BucketStore``: the same plain, fsynced
/// files the gateway serves. What the store throws becomes a ``ChainError`` here, a full file system
/// ``ChainError/storeFull(_:)``.
public struct LocalChunkStore: ChunkStore {
    public let store: BucketStore
    /// The bucket names of A and B (by default `reports-a` and `reports-b`).
    public let buckets: [ChainBucket: String]

    public init(store: BucketStore, bucketA: String = "reports-a", bucketB: String = "reports-b") {
        self.store = store
        self.buckets = [.a: bucketA, .b: bucketB]
    }

    /// Runs one call of the bucket store, its errors as ``ChainError``.
    func mapping<T>(_ operation: @autoclosure () -> String, _ body: () async throws -> T) async throws(ChainError) -> T {
        try await ChainError.mapping(operation(), isFull: { ($0 as? StorageError)?.isOutOfSpace == true }, body)
    }

    /// Creates the two buckets when they do not exist yet, owned by `owner`.
    public func createBuckets(owner: String, now: Int64) async throws {
        for name in buckets.values {
            try await mapping("creating bucket \(name)") {
                do {
                    try await store.createBucket(name, owner: owner, now: now)
                } catch let error as StorageError where error == .bucketAlreadyOwnedByYou(name) || error == .bucketAlreadyExists(name) {
                    return
                }
            }
        }
    }

    /// Writes the chunk file (fdatasync'd, renamed into place); ``sync()`` makes its name durable.
    public func put(_ bytes: [UInt8], key: String, bucket: ChainBucket) async throws {
        try await mapping("writing \(bucket):\(key)") {
            try await store.putImmutableObject(bucket: buckets[bucket]!, key: key, bytes: bytes)
        }
    }

    /// Writes and `fdatasync`s the chunk under a temporary name.
    public func stage(_ bytes: [UInt8], key: String, bucket: ChainBucket) async throws -> StagedChunk {
        let staged = try await mapping("writing \(bucket):\(key)") {
            try await store.stageImmutableObject(bucket: buckets[bucket]!, key: key, bytes: bytes)
        }
        return StagedChunk(key: key, bucket: bucket, held: staged)
    }

    /// Renames the staged chunk into place; ``sync()`` makes its name durable.
    public func publish(_ chunk: StagedChunk) async throws {
        guard let staged = chunk.handle as? BucketStore.StagedObject else {
            guard let bytes = chunk.bytes else { preconditionFailure("a chunk staged by another store") }
            return try await put(bytes, key: chunk.key, bucket: chunk.bucket)
        }
        try await mapping("publishing \(chunk.bucket):\(chunk.key)") { try await store.publish(staged) }
    }

    public func discard(_ chunk: StagedChunk) async {
        if let staged = chunk.handle as? BucketStore.StagedObject { await store.discard(staged) }
    }

    /// fsyncs both bucket directories: every chunk put so far survives power loss.
    public func sync() async throws {
        for name in Set(buckets.values) { try await mapping("syncing bucket \(name)") { try await store.syncBucketDirectory(name) } }
    }

    /// The chunk's bytes; of a larger object, only the first ``maxStoredChunkSize`` (which then fail the hash check).
    public func get(key: String, bucket: ChainBucket) async throws -> [UInt8]? {
        try await prefix(key: key, bucket: bucket, count: maxStoredChunkSize)
    }

    public func prefix(key: String, bucket: ChainBucket, count: Int) async throws -> [UInt8]? {
        try await mapping("reading \(bucket):\(key)") { try await store.readObjectPrefix(bucket: buckets[bucket]!, key: key, count: count) }
    }

    public func head(key: String, bucket: ChainBucket) async throws -> Bool {
        try await prefix(key: key, bucket: bucket, count: 0) != nil
    }

    public func delete(key: String, bucket: ChainBucket) async throws {
        try await mapping("removing \(bucket):\(key)") { try await store.deleteObject(bucket: buckets[bucket]!, key: key) }
    }

    public func list(bucket: ChainBucket) async throws -> [ChunkListing] {
        try await mapping("listing bucket \(bucket)") {
            var keys: [ChunkListing] = []
            var after: String?
            repeat {
                let page = try await store.listObjects(bucket: buckets[bucket]!, ListRequest(startAfter: after, maxKeys: 1000))
                keys += page.objects.map { ChunkListing(key: $0.key, modified: $0.modificationNanos / 1_000_000_000) }
                after = page.isTruncated ? page.lastItem : nil
            } while after != nil
            return keys
        }
    }
}
