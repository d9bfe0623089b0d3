import Crypto
public import Foundation
import Hex

/// What a walk over a chain found.
public struct ChainSummary: Sendable, Equatable {
    public var chainId: [UInt8]
    public var chunks: [ChunkInfo]
    /// The chain id in lowercase hex.
    public var chainIdHex: String { Hex.encode(chainId) }
    /// Mirror copies that were missing or damaged and were rewritten from the good copy.
    public var repaired: [ChunkPointer] = []
    /// Mirror copies that were missing or damaged and could not be rewritten (read-only access).
    public var unrepaired: [ChunkPointer] = []

    /// One chunk as `chain inspect` shows it.
    public struct ChunkInfo: Sendable, Equatable {
        public var index: Int
        public var pointer: ChunkPointer
        public var size: Int
        public var next: ChunkPointer?
    }
}

/// Walks a chain from its head: checks every chunk's hash, header and place; with a keyring, opens
/// each chunk and releases its plaintext only after it authenticated.
public struct ChainReader: Sendable {
    public let store: any ChunkStore
    /// The most bytes of chunks read (and hashed) ahead of the one being handed out.
    public let readAhead: Int

    /// The default read-ahead: 8 MiB, eight chunks of the default size.
    public static let defaultReadAhead = 8 << 20

    public init(store: any ChunkStore, readAhead: Int = defaultReadAhead) {
        self.store = store
        self.readAhead = readAhead
    }

    /// Checks a chain with SHA-256 only: no key needed (docs/chunk-format.md, "Reading and verifying").
    /// - Throws: ``ChainError`` naming the first problem.
    /// - Parameters:
    ///   - mirrored: The chain was written with mirroring: check both copies of every chunk and
    ///     rewrite a missing or damaged copy from the good one.
    ///   - progress: Called with the stored size of each chunk once it checked out.
    public func verify(head: ChunkPointer, mirrored: Bool = false, progress: (Int) -> Void = { _ in }) async throws -> ChainSummary {
        try await walk(head: head, mirror: mirrored ? .checkBoth : .none) { _, stored, _ in progress(stored.count) }
    }

    /// Reads a chain, handing each chunk's plaintext to `consume` in order, then checks the total length
    /// and SHA-256 against the manifest sealed in the head.
    /// - Throws: ``ChainError`` naming the first problem; no plaintext of a chunk that failed is released.
    /// - Parameters:
    ///   - wrappedKey: The data key as the index holds it (re-wrapped after a rotation); nil uses the head's.
    ///   - mirrored: The chain was written with mirroring: a missing or damaged chunk is read from its
    ///     copy in the other bucket, and rewritten from it.
    ///   - checkMirror: Also check (and repair) every mirror copy, as verification does.
    public func read(
        head: ChunkPointer, keyring: Keyring, wrappedKey: WrappedDataKey? = nil, mirrored: Bool = false, checkMirror: Bool = false,
        consume: (Data) async throws -> Void
    ) async throws -> ChainSummary {
        var dataKey: SymmetricKey?
        var expected: (length: Int64, sha256: [UInt8])?
        var length: Int64 = 0
        // The plaintext hash runs on its own task while the walk opens the next chunk.
        var digest = Task<SHA256, Never> { SHA256() }
        let summary = try await walk(head: head, mirror: mirrored ? (checkMirror ? .checkBoth : .fallBack) : .none) {
            header, stored, index in
            if let extensionFields = header.head {
                let key = try keyring.unwrap(
                    wrappedKey ?? WrappedDataKey(keyId: header.keyId, nonce: extensionFields.wrapNonce, sealed: extensionFields.wrappedKey),
                    chainId: header.chainId
                )
                expected = try Self.manifest(extensionFields, chainId: header.chainId, dataKey: key)
                dataKey = key
            }
            guard let dataKey else { throw ChainError.authenticationFailed(index: index) }
            let headerSize = header.size
            guard
                let plaintext = Self.open(
                    sealed: stored[headerSize...], using: dataKey, nonce: header.nonce, authenticating: stored[0..<headerSize])
            else { throw ChainError.authenticationFailed(index: index) }
            length += Int64(plaintext.count)
            // Waiting for the previous chunk's hash keeps one plaintext chunk in flight at most.
            var running = await digest.value
            digest = Task {
                running.update(data: plaintext)
                return running
            }
            try await consume(plaintext)
        }
        guard let expected, expected.length == length, expected.sha256 == Array(await digest.value.finalize()) else {
            throw ChainError.manifestMismatch
        }
        return summary
    }

    /// The plaintext length and SHA-256 sealed in the head.
    /// - Throws: ``ChainError/authenticationFailed(index:)`` for chunk 0 when the manifest does not open.
    static func manifest(_ fields: ChunkHeader.HeadExtension, chainId: [UInt8], dataKey: SymmetricKey) throws(ChainError) -> (
        length: Int64, sha256: [UInt8]
    ) {
        guard
            let manifest = open(
                sealed: fields.sealedManifest[...], using: dataKey, nonce: ChunkHeader.manifestNonce, authenticating: chainId[...]
            ).map(Array.init),
            manifest.count == 40
        else { throw .authenticationFailed(index: 0) }
        return (Int64(bigEndian: manifest[0..<8]), Array(manifest[8..<40]))
    }

    /// Reads the head chunk alone and checks its hash and header, so that a server can refuse a read
    /// whose chain is gone before it commits to a status and a length.
    /// - Throws: ``ChainError`` (`missingChunk`, `hashMismatch`, `malformedChunk` …) for the head.
    public func checkHead(_ head: ChunkPointer, mirrored: Bool = false) async throws {
        var summary = ChainSummary(chainId: [], chunks: [])
        let stored = try await fetch(head, index: 0, mirror: mirrored ? .fallBack : .none, summary: &summary)
        guard try ChunkHeader.parse(stored[...], position: 0).head != nil else {
            throw ChainError.malformedChunk(index: 0, reason: "the head chunk has no head fields")
        }
    }

    /// Opens `ciphertext ‖ 16-byte tag` with AES-256-GCM; nil when it does not authenticate.
    static func open(sealed: ArraySlice<UInt8>, using key: SymmetricKey, nonce: [UInt8], authenticating data: ArraySlice<UInt8>) -> Data? {
        guard sealed.count >= ChunkHeader.tagSize,
            let box = try? AES.GCM.SealedBox(
                nonce: AES.GCM.Nonce(data: nonce),
                ciphertext: sealed.dropLast(ChunkHeader.tagSize),
                tag: sealed.suffix(ChunkHeader.tagSize)
            ),
            let plaintext = try? AES.GCM.open(box, using: key, authenticating: data)
        else { return nil }
        return plaintext
    }

    /// How a walk treats the second copy of a mirrored chain's chunks.
    enum MirrorHandling {
        /// Not mirrored: a chunk is only where its pointer says.
        case none
        /// Read the other copy (and repair this one) only when this one is missing or damaged.
        case fallBack
        /// Check both copies of every chunk and repair whichever is missing or damaged.
        case checkBoth
    }

    /// The chunk's bytes, read from the object named by `pointer` (and with `.fallBack` or `.checkBoth`,
    /// from its copy in the other bucket), checked against the pointer's hash.
    func fetch(_ pointer: ChunkPointer, index: Int, mirror: MirrorHandling, summary: inout ChainSummary) async throws -> [UInt8] {
        let copy = ChunkPointer(bucket: pointer.bucket.other, hash: pointer.hash)
        let primary = try await load(pointer, index: index)
        if let primary, Array(SHA256.hash(data: primary)) == pointer.hash {
            if mirror == .checkBoth {
                let second = try await load(copy, index: index)
                if second.map({ Array(SHA256.hash(data: $0)) != pointer.hash }) ?? true {
                    await repair(copy, with: primary, summary: &summary)
                }
            }
            return primary
        }
        if mirror != .none, let second = try await load(copy, index: index), Array(SHA256.hash(data: second)) == pointer.hash {
            await repair(pointer, with: second, summary: &summary)
            return second
        }
        guard primary != nil else { throw ChainError.missingChunk(index: index, bucket: pointer.bucket, key: pointer.key) }
        throw ChainError.hashMismatch(index: index, bucket: pointer.bucket, key: pointer.key)
    }

    func load(_ pointer: ChunkPointer, index: Int) async throws -> [UInt8]? {
        do {
            return try await store.get(key: pointer.key, bucket: pointer.bucket)
        } catch ChainError.store(_, let cause) {
            throw ChainError.store("reading chunk \(index) (\(pointer))", cause: cause)
        }
    }

    /// Rewrites a missing or damaged copy from the good bytes; a store that refuses (read-only access) is noted, not fatal.
    func repair(_ pointer: ChunkPointer, with bytes: [UInt8], summary: inout ChainSummary) async {
        do {
            try await store.put(bytes, key: pointer.key, bucket: pointer.bucket)
            try await store.sync()
            summary.repaired.append(pointer)
        } catch {
            summary.unrepaired.append(pointer)
        }
    }

    /// Follows the pointers from `head`, checking each chunk before `visit` sees it.
    func walk(
        head: ChunkPointer,
        mirror: MirrorHandling = .none,
        visit: (ChunkHeader, [UInt8], Int) async throws -> Void
    ) async throws -> ChainSummary {
        var pointer = head
        var index = 0
        var chainId: [UInt8] = []
        var count = 0
        var summary = ChainSummary(chainId: [], chunks: [])
        // Checking both copies of every chunk goes through fetch alone.
        var prefetcher = mirror == .checkBoth ? nil : ChunkPrefetcher(store: store, budget: readAhead)
        while true {
            let stored: [UInt8]
            if let ahead = await prefetcher?.take(pointer) {
                stored = ahead
            } else {
                stored = try await fetch(pointer, index: index, mirror: mirror, summary: &summary)
            }
            let header = try ChunkHeader.parse(stored[...], position: index)
            if index == 0 {
                guard let extensionFields = header.head else {
                    throw ChainError.malformedChunk(index: 0, reason: "the head chunk has no head fields")
                }
                chainId = header.chainId
                count = Int(extensionFields.chunkCount)
            } else {
                guard header.chainId == chainId else { throw ChainError.foreignChunk(index: index) }
                guard header.head == nil else { throw ChainError.wrongIndex(expected: index, found: Int(header.index)) }
            }
            guard Int(header.index) == index else { throw ChainError.wrongIndex(expected: index, found: Int(header.index)) }
            let expectedSize = header.size + Int(header.ciphertextLength) + ChunkHeader.tagSize
            if stored.count < expectedSize { throw ChainError.truncatedChunk(index: index) }
            if stored.count > expectedSize { throw ChainError.extraData(index: index) }
            await prefetcher?.fill(after: header.next, index: index + 1)
            try await visit(header, stored, index)
            summary.chunks.append(.init(index: index, pointer: pointer, size: stored.count, next: header.next))
            if header.isLast {
                guard header.next == nil else { throw ChainError.extraData(index: index) }
                guard index + 1 == count else { throw ChainError.truncated(chunksRead: index + 1, expected: count) }
                summary.chainId = chainId
                return summary
            }
            guard let next = header.next else { throw ChainError.truncated(chunksRead: index + 1, expected: count) }
            guard index + 1 < count else { throw ChainError.extraData(index: index + 1) }
            pointer = next
            index += 1
        }
    }
}
