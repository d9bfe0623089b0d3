import Crypto

/// Chunks read ahead of a walk, each hashed on its own task, so that SHA-256 of the chunks to come runs
/// on the other cores while the walk opens and hands out the current one.
///
/// The pointer to chunk i + 1 sits in chunk i's header, which is parsed for this before chunk i is
/// known to be intact: a read-ahead chunk is only ever used once its own hash matched the pointer the
/// walk checked, and a chunk that is missing, damaged or not read ahead is left to the walk's own
/// fetch, which names the error or repairs from the mirror. At most ``budget`` bytes are held ahead.
struct ChunkPrefetcher {
    let store: any ChunkStore
    /// The most bytes read ahead of the walk.
    let budget: Int

    private struct Entry {
        let pointer: ChunkPointer
        /// Where the chunk's (unchecked) header says the next one is.
        let next: ChunkPointer?
        let size: Int
        /// The bytes when their SHA-256 matches the pointer; nil when missing, unreadable or damaged.
        let checked: Task<[UInt8]?, Never>
    }
    private var entries: [Entry] = []
    private var heldBytes = 0

    init(store: any ChunkStore, budget: Int) {
        self.store = store
        self.budget = budget
    }

    /// The chunk at `pointer` when it was read ahead and its hash matched; nil otherwise (the caller
    /// then fetches it itself, which reports what is wrong).
    mutating func take(_ pointer: ChunkPointer) async -> [UInt8]? {
        guard let first = entries.first else { return nil }
        guard first.pointer == pointer else {
            cancel()
            return nil
        }
        entries.removeFirst()
        heldBytes -= first.size
        return await first.checked.value
    }

    /// Reads ahead from `pointer` (the next chunk of the walk, nil after the last) up to the budget.
    mutating func fill(after pointer: ChunkPointer?, index: Int) async {
        var next = entries.last.map(\.next) ?? pointer
        var position = index + entries.count
        while let target = next, heldBytes < budget {
            guard let bytes = try? await store.get(key: target.key, bucket: target.bucket) else {
                // Missing or unreadable: the walk's own fetch will say which.
                next = nil
                break
            }
            let header = try? ChunkHeader.parse(bytes[...], position: position)
            entries.append(
                Entry(
                    pointer: target, next: header?.next, size: bytes.count,
                    checked: Task { Array(SHA256.hash(data: bytes)) == target.hash ? bytes : nil }
                ))
            heldBytes += bytes.count
            next = header?.next
            position += 1
        }
    }

    /// Drops everything read ahead.
    mutating func cancel() {
        entries.removeAll()
        heldBytes = 0
    }
}
