/// Serialises the publish step of writes and deletes of one key (the rename, the folders it needs and
/// the delete's cleanup of emptied folders), so that they never interleave for one key.
actor KeyLocks {
    private var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]

    private func lock(_ id: String) async {
        if waiters[id] == nil {
            waiters[id] = []
            return
        }
        await withCheckedContinuation { waiters[id, default: []].append($0) }
    }

    private func unlock(_ id: String) {
        guard var queue = waiters[id], !queue.isEmpty else {
            waiters[id] = nil
            return
        }
        let next = queue.removeFirst()
        waiters[id] = queue
        next.resume()
    }

    /// Runs `body` while holding the lock for `id`.
    nonisolated func withLock<T: Sendable>(_ id: String, _ body: () async throws -> T) async throws -> T {
        await lock(id)
        do {
            let result = try await body()
            await unlock(id)
            return result
        } catch {
            await unlock(id)
            throw error
        }
    }
}
