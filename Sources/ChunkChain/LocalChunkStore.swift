import BucketStore
import NIOCore

/// Chunks in two buckets of this very data root, through ``BucketStore``: the same plain, fsynced
/// files the gateway serves.
public struct LocalChunkStore: ChunkStore {
    public let store: BucketStore
    /// The bucket names of A and B (by default `reports-a` and `reports-b`).
    public let buckets: [ChainBucket: String]

    /// The content type chunks are stored with.
    public static let contentType = "application/vnd.chainvault.chunk"

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

    public func put(_ bytes: [UInt8], key: String, bucket: ChainBucket) async throws {
        _ = try await store.putObject(
            bucket: buckets[bucket]!,
            key: key,
            attributes: ObjectAttributes(contentType: Self.contentType),
            body: [ByteBuffer(bytes: bytes)].async
        )
    }

    public func get(key: String, bucket: ChainBucket) async throws -> [UInt8]? {
        try await read(key: key, bucket: bucket, count: nil)
    }

    public func prefix(key: String, bucket: ChainBucket, count: Int) async throws -> [UInt8]? {
        try await read(key: key, bucket: bucket, count: count)
    }

    /// The object's bytes, or its first `count` bytes.
    func read(key: String, bucket: ChainBucket, count: Int?) async throws -> [UInt8]? {
        let name = buckets[bucket]!
        let reader: ObjectReader
        do {
            reader = try await store.openObject(bucket: name, key: key)
        } catch {
            if error == .noSuchKey(bucket: name, key: key) { return nil }
            throw error
        }
        var bytes: [UInt8] = []
        do {
            let end = count.map { min(Int64($0), reader.info.size) } ?? reader.info.size
            bytes.reserveCapacity(Int(end))
            for try await chunk in reader.chunks(in: 0..<end) { bytes += Array(buffer: chunk) }
            await reader.close()
        } catch {
            await reader.close()
            throw error
        }
        return bytes
    }

    public func head(key: String, bucket: ChainBucket) async throws -> Bool {
        let name = buckets[bucket]!
        do {
            _ = try await store.objectInfo(bucket: name, key: key)
            return true
        } catch {
            if error == .noSuchKey(bucket: name, key: key) { return false }
            throw error
        }
    }

    public func delete(key: String, bucket: ChainBucket) async throws {
        try await store.deleteObject(bucket: buckets[bucket]!, key: key)
    }

    public func list(bucket: ChainBucket) async throws -> [String] {
        var keys: [String] = []
        var after: String?
        repeat {
            let page = try await store.listObjects(bucket: buckets[bucket]!, ListRequest(startAfter: after, maxKeys: 1000))
            keys += page.objects.map(\.key)
            after = page.isTruncated ? page.lastItem : nil
        } while after != nil
        return keys
    }
}

/// A finite async sequence over an array, for bodies already in memory.
struct ArrayAsyncSequence<Element: Sendable>: AsyncSequence, Sendable {
    let elements: [Element]

    struct AsyncIterator: AsyncIteratorProtocol {
        var remaining: ArraySlice<Element>
        mutating func next() async -> Element? { remaining.popFirst() }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(remaining: elements[...]) }
}

extension Array where Element: Sendable {
    var async: ArrayAsyncSequence<Element> { ArrayAsyncSequence(elements: self) }
}
