/// Operator tasks over every chain of a store: verify them all, find orphan chunks, rebuild the index
/// from the buckets.
public struct ChainMaintenance: Sendable {
    public let store: any ChunkStore
    public let index: any ChainIndex

    public init(store: any ChunkStore, index: any ChainIndex) {
        self.store = store
        self.index = index
    }

    /// Checks one chain: with SHA-256 only, or with a keyring also opening every chunk. An index entry
    /// supplies the re-wrapped data key and whether both copies of every chunk are to be checked.
    /// - Parameter progress: Called with the bytes of each chunk checked (stored bytes keyless, plaintext with the key).
    public func verify(head: ChunkPointer, entry: ChainIndexEntry?, keyring: Keyring?, progress: (Int) -> Void = { _ in }) async throws
        -> ChainSummary
    {
        let reader = ChainReader(store: store)
        guard let keyring else { return try await reader.verify(head: head, mirrored: entry?.mirrored ?? false, progress: progress) }
        return try await reader.read(
            head: head, keyring: keyring, wrappedKey: entry?.wrappedKey, mirrored: entry?.mirrored ?? false, checkMirror: true
        ) { progress($0.count) }
    }

    /// What verifying one chain found.
    public struct Verification: Sendable {
        public var head: ChunkPointer
        /// The chain's index entry; nil for a head referenced elsewhere (the hospital database) but not indexed.
        public var entry: ChainIndexEntry?
        /// The walk's summary, or the first problem.
        public var result: Result<ChainSummary, ChainError>
    }

    /// Verifies every indexed chain and every head in `referenced` (heads another record points at, such
    /// as the hospital's reports, so that a chain deleted together with its index record is still
    /// found missing), keyless or (with a keyring) opening every chunk; `progress` sees each result.
    public func verifyAll(
        keyring: Keyring?, referenced: [ChunkPointer] = [], progress: (Verification) async -> Void = { _ in }
    ) async throws -> [Verification] {
        let entries = try await index.all()
        let indexed = Set(entries.map(\.head))
        var heads: [(ChunkPointer, ChainIndexEntry?)] = entries.map { ($0.head, $0) }
        var seen = indexed
        for head in referenced where seen.insert(head).inserted { heads.append((head, nil)) }
        var results: [Verification] = []
        for (head, entry) in heads {
            let result: Result<ChainSummary, ChainError>
            do {
                result = .success(try await verify(head: head, entry: entry, keyring: keyring))
            } catch let error as ChainError {
                result = .failure(error)
            }
            let verification = Verification(head: head, entry: entry, result: result)
            await progress(verification)
            results.append(verification)
        }
        return results
    }

    /// An object no indexed chain reaches.
    public struct Orphan: Sendable, Equatable, CustomStringConvertible {
        public var bucket: ChainBucket
        public var key: String
        /// Last modification, seconds since 1970; nil when the store does not say.
        public var modified: Int64?

        public var description: String { "\(bucket):\(key)" }
    }

    /// What an orphan search found.
    public struct Orphans: Sendable {
        /// Objects no indexed chain reaches, bucket A first, in key order (chunks and any other object).
        public var orphans: [Orphan]
        /// Chains whose walk stopped early: chunks after the break are listed as orphans.
        public var damaged: [(head: ChunkPointer, error: ChainError)]
    }

    /// Lists the objects of both buckets that no indexed chain reaches: chunks of chains whose write
    /// never finished, or of chains removed from the index. Keyless. Keys under
    /// ``ChainBucket/reservedPrefix`` (the audit ledger's checkpoints) are not chunks and never listed.
    public func orphans() async throws -> Orphans {
        let reader = ChainReader(store: store)
        var reached = Set<ChunkPointer>()
        var damaged: [(head: ChunkPointer, error: ChainError)] = []
        for entry in try await index.all() {
            var pointer: ChunkPointer? = entry.head
            do {
                let summary = try await reader.verify(head: entry.head)
                for chunk in summary.chunks {
                    reached.insert(chunk.pointer)
                    if entry.mirrored { reached.insert(ChunkPointer(bucket: chunk.pointer.bucket.other, hash: chunk.pointer.hash)) }
                }
                pointer = nil
            } catch let error as ChainError {
                damaged.append((entry.head, error))
            }
            // A damaged chain: keep what a plain walk reaches before the break.
            while let current = pointer, !reached.contains(current) {
                reached.insert(current)
                if entry.mirrored { reached.insert(ChunkPointer(bucket: current.bucket.other, hash: current.hash)) }
                guard let bytes = try? await store.prefix(key: current.key, bucket: current.bucket, count: ChunkHeader.baseSize),
                    let header = try? ChunkHeader.parse(bytes[...], position: 0)
                else { break }
                pointer = header.next
            }
        }
        var orphans: [Orphan] = []
        for bucket in ChainBucket.allCases {
            for object in try await store.list(bucket: bucket) where !object.key.hasPrefix(ChainBucket.reservedPrefix) {
                if let pointer = ChunkPointer(key: object.key, bucket: bucket), reached.contains(pointer) { continue }
                orphans.append(Orphan(bucket: bucket, key: object.key, modified: object.modified))
            }
        }
        return Orphans(orphans: orphans, damaged: damaged)
    }

    /// Deletes orphans. A chain being written right now is made of orphans until it is indexed, so only
    /// orphans last modified before `cutoff` go; younger ones, and ones whose store does not tell their
    /// age, stay. A nil cutoff deletes every orphan given (when nothing writes).
    /// - Returns: The orphans deleted and the ones kept.
    public func remove(_ orphans: [Orphan], modifiedBefore cutoff: Int64?) async throws -> (removed: [Orphan], kept: [Orphan]) {
        var removed: [Orphan] = []
        var kept: [Orphan] = []
        for orphan in orphans {
            if let cutoff {
                guard let modified = orphan.modified, modified < cutoff else {
                    kept.append(orphan)
                    continue
                }
            }
            try await store.delete(key: orphan.key, bucket: orphan.bucket)
            removed.append(orphan)
        }
        return (removed, kept)
    }

    /// What a rebuild found.
    public struct Rebuild: Sendable {
        /// Chains found whose head the keyring opens, with their entries as now indexed.
        public var chains: [ChainIndexEntry]
        /// Chains that were not in the index before.
        public var added: Int
        /// Heads that could not be indexed, and why.
        public var failures: [(head: ChunkPointer, error: ChainError)]
    }

    /// Rebuilds the index from the buckets alone: every object whose header says it is a head chunk is
    /// walked keyless and its data key unwrapped with the keyring. Entries already indexed keep their
    /// (possibly re-wrapped) key; a head found in both buckets is a mirrored chain.
    public func rebuildIndex(keyring: Keyring, now: Int64) async throws -> Rebuild {
        var heads: [[UInt8]: Set<ChainBucket>] = [:]
        for bucket in ChainBucket.allCases {
            for key in try await store.list(bucket: bucket).map(\.key) where !key.hasPrefix(ChainBucket.reservedPrefix) {
                guard let pointer = ChunkPointer(key: key, bucket: bucket),
                    let bytes = try await store.prefix(
                        key: key, bucket: bucket, count: ChunkHeader.baseSize + ChunkHeader.headExtensionSize),
                    let header = try? ChunkHeader.parse(bytes[...], position: 0), header.head != nil, header.index == 0
                else { continue }
                heads[pointer.hash, default: []].insert(bucket)
            }
        }
        let reader = ChainReader(store: store)
        var result = Rebuild(chains: [], added: 0, failures: [])
        for (hash, buckets) in heads.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            let pointer = ChunkPointer(bucket: buckets.contains(.a) ? .a : .b, hash: hash)
            do {
                if var existing = try await index.entry(head: pointer) {
                    existing.mirrored = existing.mirrored || buckets.count == 2
                    try await index.put(existing)
                    result.chains.append(existing)
                    continue
                }
                let mirrored = buckets.count == 2
                // The head's fields are taken from the bytes the walk checked against the pointer, not re-read.
                var head: (header: ChunkHeader, fields: ChunkHeader.HeadExtension)?
                let summary = try await reader.walk(head: pointer, mirror: mirrored ? .checkBoth : .none) { header, _, index in
                    if index == 0, let fields = header.head { head = (header, fields) }
                }
                guard let (header, fields) = head else {
                    throw ChainError.malformedChunk(index: 0, reason: "the head chunk has no head fields")
                }
                let wrapped = WrappedDataKey(keyId: header.keyId, nonce: fields.wrapNonce, sealed: fields.wrappedKey)
                let manifest = try ChainReader.manifest(
                    fields, chainId: header.chainId, dataKey: try keyring.unwrap(wrapped, chainId: header.chainId))
                let entry = ChainIndexEntry(
                    head: pointer, chainId: summary.chainId, chunkCount: summary.chunks.count, length: manifest.length, mirrored: mirrored,
                    created: now, wrappedKey: wrapped)
                try await index.put(entry)
                result.chains.append(entry)
                result.added += 1
            } catch let error as ChainError {
                result.failures.append((pointer, error))
            }
        }
        return result
    }
}

extension ChainIndex {
    /// Re-wraps, under the keyring's active key, every indexed data key wrapped by another key. No chunk
    /// is rewritten. Idempotent: run it again to finish an interrupted rotation.
    /// - Returns: How many entries were re-wrapped.
    public func rewrap(keyring: Keyring, random: @Sendable (Int) -> [UInt8] = systemRandom) async throws -> Int {
        var count = 0
        for var entry in try await all() where entry.wrappedKey.keyId != keyring.activeId {
            let dataKey = try keyring.unwrap(entry.wrappedKey, chainId: entry.chainId)
            entry.wrappedKey = try keyring.wrap(dataKey: dataKey, chainId: entry.chainId, random: random)
            try await put(entry)
            count += 1
        }
        return count
    }
}

extension ChunkPointer {
    /// The pointer to an object of `bucket` named by a 64-hex-digit key; nil for other names.
    init?(key: String, bucket: ChainBucket) {
        self.init("\(bucket):\(key)")
        guard self.key == key else { return nil }
    }
}
