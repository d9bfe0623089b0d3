import BucketStore

/// Chunks in two buckets of this very data root, through ``BucketStore``: the same plain, fsynced
/// files the gateway serves.
public struct LocalChunkStore: ChunkStore {
    public let store: BucketStore
    /// The bucket names of A and B (by default `reports-a` and `reports-b`).
    public let buckets: [ChainBucket: String]

    public init(store: BucketStore, bucketA: String = "reports-a", bucketB: String = "reports-b") {
        self.store = store
        self.buckets = [.a: bucketA, .b: bucketB]
    }

    /// Creates the two buckets when they do not exist yet, owned by `owner`.
    public func createBuckets(owner: String, now: Int64) async throws {
        for name in buckets.values {
            do {
                try await store.createBucket(name, owner: owner, now: now)
            } catch {
                // The typed-throws catch patterns crash Swift 6.3's SIL verifier here: compare instead.
                if error == .bucketAlreadyOwnedByYou(name) || error == .bucketAlreadyExists(name) { continue }
                throw error
            }
        }
    }

    /// Writes the chunk file (fdatasync'd, renamed into place); ``sync()`` makes its name durable.
    public func put(_ bytes: [UInt8], key: String, bucket: ChainBucket) async throws {
        try await store.putImmutableObject(bucket: buckets[bucket]!, key: key, bytes: bytes)
    }

    /// Writes and `fdatasync`s the chunk under a temporary name.
    public func stage(_ bytes: [UInt8], key: String, bucket: ChainBucket) async throws -> StagedChunk {
        StagedChunk(
            key: key, bucket: bucket,
            content: .object(try await store.stageImmutableObject(bucket: buckets[bucket]!, key: key, bytes: bytes)))
    }

    /// Renames the staged chunk into place; ``sync()`` makes its name durable.
    public func publish(_ chunk: StagedChunk) async throws {
        switch chunk.content {
        case .object(let staged): try await store.publish(staged)
        case .bytes(let bytes): try await put(bytes, key: chunk.key, bucket: chunk.bucket)
        }
    }

    public func discard(_ chunk: StagedChunk) async {
        if case .object(let staged) = chunk.content { await store.discard(staged) }
    }

    /// fsyncs both bucket directories: every chunk put so far survives power loss.
    public func sync() async throws {
        for name in Set(buckets.values) { try await store.syncBucketDirectory(name) }
    }

    /// The chunk's bytes; of a larger object, only the first ``maxStoredChunkSize`` (which then fail the hash check).
    public func get(key: String, bucket: ChainBucket) async throws -> [UInt8]? {
        try await store.readObjectPrefix(bucket: buckets[bucket]!, key: key, count: maxStoredChunkSize)
    }

    public func prefix(key: String, bucket: ChainBucket, count: Int) async throws -> [UInt8]? {
        try await store.readObjectPrefix(bucket: buckets[bucket]!, key: key, count: count)
    }

    public func head(key: String, bucket: ChainBucket) async throws -> Bool {
        try await store.readObjectPrefix(bucket: buckets[bucket]!, key: key, count: 0) != nil
    }

    public func delete(key: String, bucket: ChainBucket) async throws {
        try await store.deleteObject(bucket: buckets[bucket]!, key: key)
    }

    public func list(bucket: ChainBucket) async throws -> [ChunkListing] {
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
