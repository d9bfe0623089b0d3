import Crypto
import Foundation

/// What the index keeps about a chain: its head pointer and what is needed to read it.
public struct ChainHead: Sendable, Equatable {
    public var pointer: ChunkPointer
    public var chainId: [UInt8]
    public var chunkCount: Int
    public var length: Int64
    public var sha256: [UInt8]
    /// The data key as the head carries it.
    public var wrappedKey: WrappedDataKey
}

/// Splits a report into chunks, encrypts each under a fresh data key, places it at random in one of
/// the two buckets and links it to the next by hash, writing from the tail (docs/chunk-format.md).
public struct ChainWriter: Sendable {
    public let store: any ChunkStore
    public let keyring: Keyring
    public let chunkSize: Int
    /// Write every chunk to both buckets (a damaged copy is then repaired from the other; each bucket
    /// then holds the whole report, encrypted).
    public let mirror: Bool
    let random: @Sendable (Int) -> [UInt8]

    /// The default chunk size: 1 MiB.
    public static let defaultChunkSize = 1 << 20

    /// - Parameters:
    ///   - random: The source of keys, chain ids and placement; a CSPRNG outside tests.
    public init(
        store: any ChunkStore, keyring: Keyring, chunkSize: Int = defaultChunkSize, mirror: Bool = false,
        random: @escaping @Sendable (Int) -> [UInt8] = systemRandom
    ) {
        precondition(chunkSize > 0, "chunk size")
        self.store = store
        self.keyring = keyring
        self.chunkSize = chunkSize
        self.mirror = mirror
        self.random = random
    }

    /// `header ‖ AES-256-GCM(plaintext, associated data = header) ‖ tag`, in one buffer.
    static func seal(_ plaintext: [UInt8], header: ChunkHeader, key: SymmetricKey) throws -> [UInt8] {
        let encodedHeader = header.encoded()
        let sealed = try AES.GCM.seal(plaintext, using: key, nonce: try AES.GCM.Nonce(data: header.nonce), authenticating: encodedHeader)
        var stored: [UInt8] = []
        stored.reserveCapacity(encodedHeader.count + plaintext.count + ChunkHeader.tagSize)
        stored += encodedHeader
        sealed.ciphertext.withUnsafeBytes { stored += $0 }
        sealed.tag.withUnsafeBytes { stored += $0 }
        return stored
    }

    /// The byte ranges of the chunks of a report of `length` bytes.
    static func ranges(length: Int64, chunkSize: Int) -> [Range<Int64>] {
        if length <= 1 { return [0..<length] }
        let size = length <= Int64(chunkSize) ? (length + 1) / 2 : Int64(chunkSize)
        return stride(from: Int64(0), to: length, by: Int(size)).map { $0..<min($0 + size, length) }
    }

    /// A bucket per chunk from the random source, moving one chunk when all landed in one bucket.
    func placement(count: Int) -> [ChainBucket] {
        var buckets = random(count).map { ChainBucket(rawValue: $0 & 1)! }
        if count >= 2, Set(buckets).count == 1 {
            let moved = Int(random(4).reduce(0) { ($0 << 8) | UInt32($1) } % UInt32(count))
            buckets[moved] = buckets[moved].other
        }
        return buckets
    }

    /// How many chunks are written at once: their syncs overlap, and each is still put under its key only
    /// after the chunk it points to is.
    static let writesInFlight = 4

    /// Writes a report as a chain. Memory stays at a few chunks whatever the report's size.
    /// - Returns: The head, once every chunk is durable.
    /// - Throws: ``ChainError`` or the store's and source's errors.
    /// - Parameter progress: Called with the plaintext bytes of each chunk once it is sealed and handed to the store.
    public func write(_ source: some ReportSource, progress: (Int) -> Void = { _ in }) async throws -> ChainHead {
        let ranges = Self.ranges(length: source.length, chunkSize: chunkSize)
        // The plaintext hash is sealed into the head, which is written last: a task reads the report
        // forwards for it while the chunks are sealed from the tail.
        let hashing = Task {
            var digest = SHA256()
            for range in ranges {
                digest.update(data: try await source.read(offset: range.lowerBound, count: range.count))
            }
            return Array(digest.finalize())
        }
        let chainId = random(16)
        let dataKey = SymmetricKey(data: random(32))
        let wrapped = try keyring.wrap(dataKey: dataKey, chainId: chainId, random: random)
        let buckets = placement(count: ranges.count)

        var next: ChunkPointer?
        var sha256: [UInt8] = []
        // The last few chunk writes, oldest first; each publishes its chunk after the one before it did.
        var writes: [Task<Void, any Error>] = []
        do {
            for (index, range) in ranges.enumerated().reversed() {
                let plaintext = try await source.read(offset: range.lowerBound, count: range.count)
                var head: ChunkHeader.HeadExtension?
                if index == 0 {
                    sha256 = try await hashing.value
                    let manifest = try AES.GCM.seal(
                        source.length.bigEndianBytes + sha256,
                        using: dataKey,
                        nonce: try AES.GCM.Nonce(data: ChunkHeader.manifestNonce),
                        authenticating: chainId
                    )
                    head = .init(
                        chunkCount: UInt32(ranges.count),
                        wrapNonce: wrapped.nonce,
                        wrappedKey: wrapped.sealed,
                        sealedManifest: Array(manifest.ciphertext) + Array(manifest.tag)
                    )
                }
                let header = ChunkHeader(
                    chainId: chainId,
                    index: UInt32(index),
                    isLast: index == ranges.count - 1,
                    keyId: wrapped.keyId,
                    next: next,
                    ciphertextLength: UInt64(plaintext.count),
                    head: head
                )
                let stored = try Self.seal(plaintext, header: header, key: dataKey)
                let pointer = ChunkPointer(bucket: buckets[index], hash: Array(SHA256.hash(data: stored)))
                if writes.count == Self.writesInFlight { try await writes.removeFirst().value }
                let previous = writes.last
                writes.append(
                    Task { [store, mirror] in
                        try await Self.store(stored, at: pointer, mirror: mirror, in: store, after: previous)
                    })
                progress(range.count)
                next = pointer
            }
            for write in writes { try await write.value }
        } catch {
            hashing.cancel()
            for write in writes { _ = try? await write.value }
            throw error
        }
        // The head is returned only once every chunk is durable.
        try await store.sync()
        return ChainHead(
            pointer: next!,
            chainId: chainId,
            chunkCount: ranges.count,
            length: source.length,
            sha256: sha256,
            wrappedKey: wrapped
        )
    }

    /// Stages the chunk (and its mirror copy), then, once `previous` (the chunk it points to) is published,
    /// publishes it. Nothing staged is left behind when anything fails.
    static func store(
        _ stored: [UInt8], at pointer: ChunkPointer, mirror: Bool, in store: any ChunkStore, after previous: Task<Void, any Error>?
    ) async throws {
        var staged: [StagedChunk] = []
        do {
            for bucket in mirror ? [pointer.bucket, pointer.bucket.other] : [pointer.bucket] {
                staged.append(try await store.stage(stored, key: pointer.key, bucket: bucket))
            }
            try await previous?.value
            while let chunk = staged.first {
                try await store.publish(chunk)
                staged.removeFirst()
            }
        } catch {
            for chunk in staged { await store.discard(chunk) }
            throw error
        }
    }
}
