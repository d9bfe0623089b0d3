import Foundation
import TestSupport
import Testing

@testable import BucketStore

/// A bucket's deletion racing writes of every kind of key (issue 27, N2): each write either lands before
/// the deletion (which is then refused as not empty) or is told the bucket does not exist, never an
/// I/O error; and a bucket made again under the same name never shows the deleted one's objects.
@Suite struct BucketDeletionRaceTests {
    /// Plain keys and reserved ones (a folder marker, an empty segment, a key whose path is a folder).
    static let keys = ["plain", "folder/", "a//b", "deep/er/", "x/../y", "docs", "docs/a"]

    enum Outcome: Sendable, Equatable {
        case written, noSuchBucket
        case other(String)
    }

    @Test func deletionRacingWritesNeverLeavesObjectsBehind() async throws {
        try await withStore { store, root in
            var deletedRounds = 0
            for round in 0..<300 {
                try await store.createBucket("race", owner: "AK\(round % 2)", now: 0)
                async let outcomes: [Outcome] = withTaskGroup(of: Outcome.self) { group in
                    for key in Self.keys {
                        group.addTask {
                            do {
                                try await store.put("race", key, "round \(round)")
                                return .written
                            } catch StorageError.noSuchBucket {
                                return .noSuchBucket
                            } catch {
                                return .other("\(error)")
                            }
                        }
                    }
                    return await group.reduce(into: []) { $0.append($1) }
                }
                async let deletion: Bool = {
                    do {
                        try await store.deleteBucket("race")
                        return true
                    } catch StorageError.bucketNotEmpty {
                        return false
                    } catch {
                        Issue.record("round \(round): deleteBucket threw \(error)")
                        return false
                    }
                }()
                let (results, deleted) = await (outcomes, deletion)
                #expect(!results.contains { if case .other = $0 { true } else { false } }, "round \(round): \(results)")
                if deleted {
                    deletedRounds += 1
                    // Whatever was acknowledged went with the bucket; nothing of it may reappear.
                    try await store.createBucket("race", owner: "AK9", now: 0)
                    #expect(try await store.keys("race", ListRequest(maxKeys: 1000)).isEmpty, "round \(round)")
                    #expect(!FileManager.default.fileExists(atPath: root + "/.chainvault/keys/race/a"), "round \(round)")
                } else {
                    #expect(!results.contains(.noSuchBucket), "round \(round): refused writes, yet the bucket stayed")
                }
                for key in try await store.keys("race", ListRequest(maxKeys: 1000)) {
                    try await store.deleteObject(bucket: "race", key: key)
                }
                for key in Self.keys { try await store.deleteObject(bucket: "race", key: key) }
                try await store.deleteBucket("race")
            }
            // Both outcomes happen in a run of this length; if not, the race was not tried.
            #expect(deletedRounds > 0)
        }
    }
}

/// Two writes that each fit above the free-space reserve alone cannot together eat it (issue 27, N16):
/// a declared length is reserved against the writes in flight in the step that checks it.
@Suite struct SpaceReservationTests {
    @Test func writesInFlightHoldTheirDeclaredLength() async throws {
        let root = temporaryPath("cv-space")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let probe = try BucketStore(root: root)
        let free = try #require(probe.freeBytes())
        // About 100 MiB above the reserve; two writes of 60 MiB each fit alone, not together.
        let store = try BucketStore(root: root, freeSpaceReserve: free - 100 * 1024 * 1024)
        var first = try store.reserveSpace(for: 60 * 1024 * 1024, bucket: "b", key: "one")
        #expect(first != nil)
        #expect(throws: StorageError.insufficientStorage(bucket: "b", key: "two")) {
            _ = try store.reserveSpace(for: 60 * 1024 * 1024, bucket: "b", key: "two")
        }
        #expect(throws: StorageError.insufficientStorage(bucket: "b", key: "three")) {
            try store.ensureSpace(for: 60 * 1024 * 1024, bucket: "b", key: "three")
        }
        // The first write ends: its bytes are given back.
        first = nil
        #expect(try store.reserveSpace(for: 60 * 1024 * 1024, bucket: "b", key: "two") != nil)
    }
}
