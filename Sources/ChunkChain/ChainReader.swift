import Crypto

/// What a walk over a chain found.
public struct ChainSummary: Sendable, Equatable {
    public var chainId: [UInt8]
    public var chunks: [ChunkInfo]

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

    public init(store: any ChunkStore) {
        self.store = store
    }

    /// Checks a chain with SHA-256 only: no key needed (docs/chunk-format.md, "Reading and verifying").
    /// - Throws: ``ChainError`` naming the first problem.
    public func verify(head: ChunkPointer) async throws -> ChainSummary {
        try await walk(head: head) { _, _, _ in }
    }

    /// Reads a chain, handing each chunk's plaintext to `consume` in order, then checks the total length
    /// and SHA-256 against the manifest sealed in the head.
    /// - Throws: ``ChainError`` naming the first problem; no plaintext of a chunk that failed is released.
    public func read(head: ChunkPointer, keyring: Keyring, consume: ([UInt8]) async throws -> Void) async throws -> ChainSummary {
        var dataKey: SymmetricKey?
        var expected: (length: Int64, sha256: [UInt8])?
        var length: Int64 = 0
        var digest = SHA256()
        let summary = try await walk(head: head) { header, stored, index in
            if let extensionFields = header.head {
                let master = try keyring.key(id: header.keyId)
                guard
                    let keyBytes = Self.open(
                        sealed: extensionFields.wrappedKey[...],
                        using: master.key,
                        nonce: extensionFields.wrapNonce,
                        authenticating: (header.chainId + header.keyId)[...]
                    )
                else { throw ChainError.wrongMasterKey(master.idHex) }
                let key = SymmetricKey(data: keyBytes)
                guard
                    let manifest = Self.open(
                        sealed: extensionFields.sealedManifest[...],
                        using: key,
                        nonce: ChunkHeader.manifestNonce,
                        authenticating: header.chainId[...]
                    )
                else { throw ChainError.authenticationFailed(index: 0) }
                expected = (Int64(bigEndian: manifest[0..<8]), Array(manifest[8..<40]))
                dataKey = key
            }
            guard let dataKey else { throw ChainError.authenticationFailed(index: index) }
            let headerSize = header.size
            guard
                let plaintext = Self.open(
                    sealed: stored[headerSize...], using: dataKey, nonce: header.nonce, authenticating: stored[0..<headerSize])
            else { throw ChainError.authenticationFailed(index: index) }
            length += Int64(plaintext.count)
            digest.update(data: plaintext)
            try await consume(plaintext)
        }
        guard let expected, expected.length == length, expected.sha256 == Array(digest.finalize()) else {
            throw ChainError.manifestMismatch
        }
        return summary
    }

    /// Opens `ciphertext ‖ 16-byte tag` with AES-256-GCM; nil when it does not authenticate.
    static func open(sealed: ArraySlice<UInt8>, using key: SymmetricKey, nonce: [UInt8], authenticating data: ArraySlice<UInt8>) -> [UInt8]?
    {
        guard sealed.count >= ChunkHeader.tagSize,
            let box = try? AES.GCM.SealedBox(
                nonce: AES.GCM.Nonce(data: nonce),
                ciphertext: sealed.dropLast(ChunkHeader.tagSize),
                tag: sealed.suffix(ChunkHeader.tagSize)
            ),
            let plaintext = try? AES.GCM.open(box, using: key, authenticating: data)
        else { return nil }
        return Array(plaintext)
    }

    /// Follows the pointers from `head`, checking each chunk before `visit` sees it.
    func walk(
        head: ChunkPointer,
        visit: (ChunkHeader, [UInt8], Int) async throws -> Void
    ) async throws -> ChainSummary {
        var pointer = head
        var index = 0
        var chainId: [UInt8] = []
        var count = 0
        var chunks: [ChainSummary.ChunkInfo] = []
        while true {
            let stored: [UInt8]
            do {
                guard let bytes = try await store.get(key: pointer.key, bucket: pointer.bucket) else {
                    throw ChainError.missingChunk(index: index, bucket: pointer.bucket, key: pointer.key)
                }
                stored = bytes
            } catch let error as ChainError {
                throw error
            } catch {
                throw ChainError.store("reading chunk \(index) (\(pointer)): \(error)")
            }
            guard Array(SHA256.hash(data: stored)) == pointer.hash else {
                throw ChainError.hashMismatch(index: index, bucket: pointer.bucket, key: pointer.key)
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
            try await visit(header, stored, index)
            chunks.append(.init(index: index, pointer: pointer, size: stored.count, next: header.next))
            if header.isLast {
                guard header.next == nil else { throw ChainError.extraData(index: index) }
                guard index + 1 == count else { throw ChainError.truncated(chunksRead: index + 1, expected: count) }
                return ChainSummary(chainId: chainId, chunks: chunks)
            }
            guard let next = header.next else { throw ChainError.truncated(chunksRead: index + 1, expected: count) }
            guard index + 1 < count else { throw ChainError.extraData(index: index + 1) }
            pointer = next
            index += 1
        }
    }
}
