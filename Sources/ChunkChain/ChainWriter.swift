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

    /// Writes a report as a chain. Memory stays at about one chunk whatever the report's size.
    /// - Returns: The head, once every chunk is durable.
    /// - Throws: ``ChainError`` or the store's and source's errors.
    /// - Parameter progress: Called with the plaintext bytes of each chunk once it is sealed and handed to the store.
    public func write(_ source: some ReportSource, progress: (Int) -> Void = { _ in }) async throws -> ChainHead {
        let ranges = Self.ranges(length: source.length, chunkSize: chunkSize)
        // First pass: the plaintext hash, sealed into the head.
        var digest = SHA256()
        for range in ranges {
            digest.update(data: try await source.read(offset: range.lowerBound, count: range.count))
        }
        let sha256 = Array(digest.finalize())

        let chainId = random(16)
        let dataKey = SymmetricKey(data: random(32))
        let wrapped = try keyring.wrap(dataKey: dataKey, chainId: chainId, random: random)
        let manifest = try AES.GCM.seal(
            source.length.bigEndianBytes + sha256,
            using: dataKey,
            nonce: try AES.GCM.Nonce(data: ChunkHeader.manifestNonce),
            authenticating: chainId
        )
        let buckets = placement(count: ranges.count)

        // Chunk i is sealed while chunk i + 1 is being stored; chunk i is stored only after chunk i + 1
        // was, so every chunk is written before the chunk that points to it.
        var next: ChunkPointer?
        var storing: Task<Void, any Error>?
        do {
            for (index, range) in ranges.enumerated().reversed() {
                let plaintext = try await source.read(offset: range.lowerBound, count: range.count)
                let header = ChunkHeader(
                    chainId: chainId,
                    index: UInt32(index),
                    isLast: index == ranges.count - 1,
                    keyId: wrapped.keyId,
                    next: next,
                    ciphertextLength: UInt64(plaintext.count),
                    head: index == 0
                        ? .init(
                            chunkCount: UInt32(ranges.count),
                            wrapNonce: wrapped.nonce,
                            wrappedKey: wrapped.sealed,
                            sealedManifest: Array(manifest.ciphertext) + Array(manifest.tag)
                        ) : nil
                )
                let stored = try Self.seal(plaintext, header: header, key: dataKey)
                let pointer = ChunkPointer(bucket: buckets[index], hash: Array(SHA256.hash(data: stored)))
                try await storing?.value
                storing = Task { [store, mirror] in
                    try await store.put(stored, key: pointer.key, bucket: pointer.bucket)
                    if mirror { try await store.put(stored, key: pointer.key, bucket: pointer.bucket.other) }
                }
                progress(range.count)
                next = pointer
            }
            try await storing?.value
        } catch {
            storing?.cancel()
            _ = try? await storing?.value
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
}
