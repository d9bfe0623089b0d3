import BucketStore
import ChunkChainTesting
import Foundation
import TestSupport
import Testing

@testable import ChunkChain

/// What the stores throw: only ``ChainError``, a full store as ``ChainError/storeFull(_:)`` and any other
/// failure as ``ChainError/store(_:cause:)`` with the store's own error kept as the cause.
@Suite struct StoreErrorTests {
    @Test func aFullFileSystemIsStoreFullAndOtherFailuresKeepTheirCause() async throws {
        let full = StorageError.io(operation: "write", path: "/b/k", errno: ENOSPC)
        await #expect(throws: ChainError.storeFull("writing A:k: \(full)")) {
            try await ChainError.mapping("writing A:k", isFull: { ($0 as? StorageError)?.isOutOfSpace == true }, { throw full })
        }
        let broken = StorageError.io(operation: "read", path: "/b/k", errno: EIO)
        do {
            _ = try await ChainError.mapping("reading A:k", isFull: { _ in false }, { throw broken })
            Issue.record("the failure was swallowed")
        } catch .store(let operation, let cause) {
            #expect(operation == "reading A:k")
            #expect(cause?.error as? StorageError == broken, "the cause stays the store's typed error")
        } catch {
            Issue.record("\(error)")
        }
        await #expect(throws: ChainError.manifestMismatch) {
            try await ChainError.mapping("reading", isFull: { _ in true }, { throw ChainError.manifestMismatch })
        }
    }

    @Test func aLocalStoreThrowsChainErrors() async throws {
        let root = temporaryPath("store-errors")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = LocalChunkStore(store: try BucketStore(root: root))
        // No buckets yet: the bucket store's NoSuchBucket, as the cause of a chain error.
        do {
            try await store.put([1, 2, 3], key: "k", bucket: .a)
            Issue.record("a put into a missing bucket succeeded")
        } catch ChainError.store(let operation, let cause) {
            #expect(operation == "writing A:k")
            #expect(cause?.error as? StorageError == .noSuchBucket("reports-a"))
        }
        try await store.createBuckets(owner: "test", now: 0)
        try await store.createBuckets(owner: "test", now: 0)  // again: the buckets exist, which is fine
        try await store.put([1, 2, 3], key: "k", bucket: .a)
        #expect(try await store.get(key: "k", bucket: .a) == [1, 2, 3])
    }

    @Test func aFullMemoryStoreIsStoreFull() async throws {
        let store = MemoryChunkStore(capacity: 2)
        await #expect(throws: ChainError.storeFull("no room for A:k")) { try await store.put([1, 2, 3], key: "k", bucket: .a) }
    }
}

/// The keyring as the server reads it: cached, and read again once the file changed.
@Suite struct KeyringFileTests {
    @Test func aRotatedKeyringIsReadAgainAndAMissingOneIsAnError() async throws {
        let root = temporaryPath("keyring-file")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let path = root + "/keyring.json"
        await #expect(throws: ChainError.self) { try await KeyringFile(path: path).current() }
        let first = Keyring.generate(random: systemRandom, now: 1)
        try first.save(path: path)
        let watching = KeyringFile(path: path, recheckInterval: .zero)
        let cached = KeyringFile(path: path, recheckInterval: .seconds(3600))
        #expect(try await watching.current().active.id == first.active.id)
        #expect(try await cached.current().active.id == first.active.id)
        let second = Keyring.generate(random: systemRandom, now: 2)
        try second.save(path: path)
        #expect(try await watching.current().active.id == second.active.id, "a rotation is seen")
        #expect(try await cached.current().active.id == first.active.id, "within the interval the file is not looked at")
    }
}
