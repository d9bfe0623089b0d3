/// The most bytes a store reads for one chunk: the largest chunk size (64 MiB) plus the head's overhead.
/// A larger object is not a chunk; reading only this much keeps memory bounded and fails its hash check.
let maxStoredChunkSize = (64 << 20) + 4096

/// Where chunks live: two buckets of content-addressed objects. A store throws only ``ChainError``:
/// ``ChainError/storeFull(_:)`` when it has no room left, ``ChainError/store(_:cause:)`` with its own
/// error as the cause for any other failure.
public protocol ChunkStore: Sendable {
    /// Stores a chunk. It survives power loss once ``sync()`` returned (or at once, for stores whose
    /// writes are durable when acknowledged).
    func put(_ bytes: [UInt8], key: String, bucket: ChainBucket) async throws
    /// Makes every chunk put so far durable.
    func sync() async throws
    /// Writes a chunk without showing it under its key yet; ``publish(_:)`` then does. A writer can so
    /// write many chunks at once and still name each only after the chunk it points to. By default the
    /// bytes are kept until published; a local store writes and syncs them under a temporary name.
    func stage(_ bytes: [UInt8], key: String, bucket: ChainBucket) async throws -> StagedChunk
    /// Puts a staged chunk under its key, as ``put(_:key:bucket:)`` does.
    func publish(_ chunk: StagedChunk) async throws
    /// Forgets a staged chunk that will not be published.
    func discard(_ chunk: StagedChunk) async
    /// The chunk's bytes, or nil when there is no such object.
    func get(key: String, bucket: ChainBucket) async throws -> [UInt8]?
    /// The first `count` bytes of the chunk (all of it when shorter), or nil when there is no such object.
    func prefix(key: String, bucket: ChainBucket, count: Int) async throws -> [UInt8]?
    /// Whether the object exists.
    func head(key: String, bucket: ChainBucket) async throws -> Bool
    /// Removes the object (missing objects are fine).
    func delete(key: String, bucket: ChainBucket) async throws
    /// Every object in the bucket, in key order.
    func list(bucket: ChainBucket) async throws -> [ChunkListing]
}

/// An object of a chain bucket, as a listing shows it.
public struct ChunkListing: Sendable, Equatable {
    public var key: String
    /// Last modification, in seconds since 1970; nil when the store does not say.
    public var modified: Int64?

    public init(key: String, modified: Int64?) {
        self.key = key
        self.modified = modified
    }
}

/// A chunk written but not yet under its key: see ``ChunkStore/stage(_:key:bucket:)``.
public struct StagedChunk: Sendable {
    public let key: String
    public let bucket: ChainBucket
    let content: Content

    enum Content: Sendable {
        /// Kept in memory until published.
        case bytes([UInt8])
        /// Written and synced by the store that staged it, which alone knows what this is (a local
        /// store's temporary file).
        case held(any Sendable)
    }

    /// A chunk the store wrote itself, holding `handle` to publish it by.
    public init(key: String, bucket: ChainBucket, held handle: any Sendable) {
        self.init(key: key, bucket: bucket, content: .held(handle))
    }

    init(key: String, bucket: ChainBucket, content: Content) {
        self.key = key
        self.bucket = bucket
        self.content = content
    }

    /// What the store that staged the chunk holds it by; nil for a chunk kept in memory.
    public var handle: (any Sendable)? {
        guard case .held(let handle) = content else { return nil }
        return handle
    }

    /// The bytes of a chunk kept in memory until published; nil for one a store wrote itself.
    public var bytes: [UInt8]? {
        guard case .bytes(let bytes) = content else { return nil }
        return bytes
    }
}

extension ChunkStore {
    public func stage(_ bytes: [UInt8], key: String, bucket: ChainBucket) async throws -> StagedChunk {
        StagedChunk(key: key, bucket: bucket, content: .bytes(bytes))
    }

    public func publish(_ chunk: StagedChunk) async throws {
        guard case .bytes(let bytes) = chunk.content else { preconditionFailure("a chunk staged by another store") }
        try await put(bytes, key: chunk.key, bucket: chunk.bucket)
    }

    public func discard(_ chunk: StagedChunk) async {}
}
