public import ChunkChain

/// Chunks in memory, for tests and fuzz targets (not linked into the executable). Tamper with them through ``replace(key:bucket:with:)`` and ``remove(key:bucket:)``.
public actor MemoryChunkStore: ChunkStore {
    private var objects: [ChainBucket: [String: [UInt8]]] = [.a: [:], .b: [:]]
    private var free: Int?

    /// - Parameter capacity: Bytes the store holds at most (tests: a full disk); a put beyond it fails
    ///   with ``ChainError/storeFull(_:)``, as a write meeting `ENOSPC` does.
    public init(capacity: Int? = nil) { free = capacity }

    public func put(_ bytes: [UInt8], key: String, bucket: ChainBucket) async throws {
        if let room = free {
            guard bytes.count <= room else { throw ChainError.storeFull("no room for \(bucket):\(key)") }
            free = room - bytes.count
        }
        objects[bucket]![key] = bytes
    }
    public func sync() async throws {}
    public func get(key: String, bucket: ChainBucket) async throws -> [UInt8]? { objects[bucket]![key] }
    public func prefix(key: String, bucket: ChainBucket, count: Int) async throws -> [UInt8]? {
        objects[bucket]![key].map { Array($0.prefix(count)) }
    }
    public func head(key: String, bucket: ChainBucket) async throws -> Bool { objects[bucket]![key] != nil }
    public func delete(key: String, bucket: ChainBucket) async throws { objects[bucket]![key] = nil }
    public func list(bucket: ChainBucket) async throws -> [ChunkListing] {
        objects[bucket]!.keys.sorted().map { ChunkListing(key: $0, modified: nil) }
    }

    /// Overwrites an object's bytes in place (tests: tampering, bit rot).
    public func replace(key: String, bucket: ChainBucket, with bytes: [UInt8]) { objects[bucket]![key] = bytes }
    /// Removes an object without going through the chain (tests: lost chunks).
    public func remove(key: String, bucket: ChainBucket) { objects[bucket]![key] = nil }
    /// Every object of both buckets.
    public func all() -> [(bucket: ChainBucket, key: String, bytes: [UInt8])] {
        ChainBucket.allCases.flatMap { bucket in objects[bucket]!.map { (bucket, $0.key, $0.value) } }
    }
}
