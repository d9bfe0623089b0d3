import Foundation
import NIOCore
import TestSupport
import Testing

@testable import BucketStore

/// A fresh data root per test, removed afterwards.
func withStore<T>(_ body: (BucketStore, String) async throws -> T) async throws -> T {
    let root = temporaryPath("cv-store")
    defer { try? FileManager.default.removeItem(atPath: root) }
    let store = try BucketStore(root: root)
    return try await body(store, root)
}

/// A body of byte buffers, optionally failing after the chunks.
struct Chunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    var chunks: [[UInt8]]
    var failure: (any Error & Sendable)?

    struct AsyncIterator: AsyncIteratorProtocol {
        var chunks: [[UInt8]]
        var failure: (any Error & Sendable)?
        mutating func next() async throws -> ByteBuffer? {
            if chunks.isEmpty {
                if let failure { throw failure }
                return nil
            }
            return ByteBuffer(bytes: chunks.removeFirst())
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(chunks: chunks, failure: failure) }
}

struct ClientWentAway: Error {}

extension BucketStore {
    @discardableResult
    func put(_ bucket: String, _ key: String, _ text: String, attributes: ObjectAttributes = ObjectAttributes()) async throws -> ObjectInfo
    {
        try await putObject(bucket: bucket, key: key, attributes: attributes, body: Chunks(chunks: [Array(text.utf8)]))
    }

    func read(_ bucket: String, _ key: String) async throws -> String {
        let reader = try await openObject(bucket: bucket, key: key)
        var bytes: [UInt8] = []
        for try await chunk in reader.chunks(in: 0..<reader.info.size) { bytes += Array(buffer: chunk) }
        await reader.close()
        return String(decoding: bytes, as: UTF8.self)
    }

    func keys(_ bucket: String, _ request: ListRequest = ListRequest()) async throws -> [String] {
        try await listObjects(bucket: bucket, request).objects.map(\.key)
    }
}

@Suite struct BucketTests {
    @Test func createListHeadDelete() async throws {
        try await withStore { store, root in
            try await store.createBucket("reports", owner: "AK1", now: 1000)
            #expect(FileManager.default.fileExists(atPath: root + "/reports"))
            let info = try await store.bucket("reports")
            #expect(info.owner == "AK1")
            #expect(info.created == 1000)
            #expect(try await store.listBuckets().map(\.name) == ["reports"])
            try await store.deleteBucket("reports")
            #expect(try await store.listBuckets().isEmpty)
            await #expect(throws: StorageError.noSuchBucket("reports")) { try await store.bucket("reports") }
        }
    }

    @Test func namesAreGlobal() async throws {
        try await withStore { store, _ in
            try await store.createBucket("shared", owner: "AK1", now: 0)
            await #expect(throws: StorageError.bucketAlreadyOwnedByYou("shared")) {
                try await store.createBucket("shared", owner: "AK1", now: 0)
            }
            await #expect(throws: StorageError.bucketAlreadyExists("shared")) {
                try await store.createBucket("shared", owner: "AK2", now: 0)
            }
        }
    }

    @Test func nonEmptyBucketIsKept() async throws {
        try await withStore { store, _ in
            try await store.createBucket("b1b", owner: "AK1", now: 0)
            try await store.put("b1b", "a/b/c", "x")
            await #expect(throws: StorageError.bucketNotEmpty("b1b")) { try await store.deleteBucket("b1b") }
            #expect(try await store.read("b1b", "a/b/c") == "x")
            try await store.deleteObject(bucket: "b1b", key: "a/b/c")
            try await store.deleteBucket("b1b")
        }
    }

    @Test(arguments: [
        ("abc", true), ("a.b-c", true), ("ab", false), (String(repeating: "a", count: 64), false), ("Abc", false),
        ("a..b", false), ("-ab", false), ("ab-", false), (".chainvault", false), ("192.168.1.1", false), ("a_b", false),
        ("xn--abc", false), ("abc-s3alias", false), ("a.-b", false),
    ])
    func bucketNames(_ name: String, _ valid: Bool) {
        #expect(BucketName.isValid(name) == valid)
    }
}

@Suite struct ObjectTests {
    @Test func roundTripWithMetadata() async throws {
        try await withStore { store, root in
            try await store.createBucket("bkt", owner: "AK1", now: 0)
            let attributes = ObjectAttributes(contentType: "text/plain", userMetadata: ["patient": "42"])
            let info = try await store.put("bkt", "dir/file.txt", "hello", attributes: attributes)
            #expect(info.etag == "5d41402abc4b2a76b9719d911017c592")
            #expect(info.size == 5)
            // The object is a plain file an operator can read.
            #expect(try String(contentsOfFile: root + "/bkt/dir/file.txt", encoding: .utf8) == "hello")
            let head = try await store.objectInfo(bucket: "bkt", key: "dir/file.txt")
            #expect(head.attributes == attributes)
            #expect(head.etag == info.etag)
            #expect(try await store.read("bkt", "dir/file.txt") == "hello")
        }
    }

    @Test func overwriteReplacesBytesAndMetadata() async throws {
        try await withStore { store, _ in
            try await store.createBucket("bkt", owner: "AK1", now: 0)
            try await store.put("bkt", "k", "first", attributes: ObjectAttributes(contentType: "a/a"))
            try await store.put("bkt", "k", "second!", attributes: ObjectAttributes(contentType: "b/b"))
            let info = try await store.objectInfo(bucket: "bkt", key: "k")
            #expect(info.attributes.contentType == "b/b")
            #expect(info.size == 7)
            #expect(try await store.read("bkt", "k") == "second!")
        }
    }

    @Test func failedBodyLeavesOldObjectAndNoTemporaryFile() async throws {
        try await withStore { store, root in
            try await store.createBucket("bkt", owner: "AK1", now: 0)
            try await store.put("bkt", "k", "old")
            await #expect(throws: ClientWentAway.self) {
                try await store.putObject(
                    bucket: "bkt",
                    key: "k",
                    attributes: ObjectAttributes(),
                    body: Chunks(chunks: [Array("new-partial".utf8)], failure: ClientWentAway())
                )
            }
            await #expect(throws: ClientWentAway.self) {
                try await store.putObject(
                    bucket: "bkt",
                    key: "fresh/key",
                    attributes: ObjectAttributes(),
                    body: Chunks(chunks: [[1, 2, 3]], failure: ClientWentAway())
                )
            }
            #expect(try await store.read("bkt", "k") == "old")
            #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/.chainvault/tmp").isEmpty)
            #expect(!FileManager.default.fileExists(atPath: root + "/bkt/fresh"))
            await #expect(throws: StorageError.noSuchKey(bucket: "bkt", key: "fresh/key")) {
                try await store.objectInfo(bucket: "bkt", key: "fresh/key")
            }
        }
    }

    @Test func fileCopiedInByAnOperatorGetsAComputedETag() async throws {
        try await withStore { store, root in
            try await store.createBucket("bkt", owner: "AK1", now: 0)
            try FileManager.default.createDirectory(atPath: root + "/bkt/in", withIntermediateDirectories: true)
            try Data("hello".utf8).write(to: URL(fileURLWithPath: root + "/bkt/in/by-hand.txt"))
            let info = try await store.objectInfo(bucket: "bkt", key: "in/by-hand.txt")
            #expect(info.etag == "5d41402abc4b2a76b9719d911017c592")
            #expect(try await store.keys("bkt") == ["in/by-hand.txt"])
        }
    }

    @Test func editedInPlaceFileIsNotPairedWithStaleMetadata() async throws {
        try await withStore { store, root in
            try await store.createBucket("bkt", owner: "AK1", now: 0)
            try await store.put("bkt", "k", "hello", attributes: ObjectAttributes(contentType: "text/plain"))
            try Data("HELLO, world".utf8).write(to: URL(fileURLWithPath: root + "/bkt/k"))
            let info = try await store.objectInfo(bucket: "bkt", key: "k")
            #expect(info.size == 12)
            #expect(info.etag == "64d21aab743154ee1345df46f0d3ee7e")
            #expect(info.attributes.contentType == nil)
        }
    }

    @Test func deleteRemovesEmptiedFoldersAndMissingKeysSucceed() async throws {
        try await withStore { store, root in
            try await store.createBucket("bkt", owner: "AK1", now: 0)
            try await store.put("bkt", "a/b/c", "1")
            try await store.put("bkt", "a/d", "2")
            try await store.deleteObject(bucket: "bkt", key: "a/b/c")
            #expect(!FileManager.default.fileExists(atPath: root + "/bkt/a/b"))
            #expect(FileManager.default.fileExists(atPath: root + "/bkt/a/d"))
            try await store.deleteObject(bucket: "bkt", key: "a/b/c")
            try await store.deleteObject(bucket: "bkt", key: "never/was")
            try await store.deleteObject(bucket: "bkt", key: "a//b")
            // Once a/b is gone, "a/b" is a plain file again.
            try await store.put("bkt", "a/b", "3")
            #expect(try String(contentsOfFile: root + "/bkt/a/b", encoding: .utf8) == "3")
            await #expect(throws: StorageError.noSuchBucket("nope")) { try await store.deleteObject(bucket: "nope", key: "k") }
        }
    }
}

@Suite struct KeyRuleTests {
    @Test(arguments: ["a\u{0}b", ""])
    func keysS3DoesNotAllow(_ key: String) {
        #expect(throws: StorageError.self) { try ObjectKey(key) }
    }

    @Test func longKeys() throws {
        let key = String(repeating: "k", count: 1024)
        #expect(try ObjectKey(key).plainSegments == nil)
        #expect(throws: StorageError.keyTooLong(key + "k")) { try ObjectKey(key + "k") }
        let segment = String(repeating: "k", count: 255)
        #expect(try ObjectKey([segment, segment].joined(separator: "/")).plainSegments?.count == 2)
    }

    @Test func keysWithDotsSpacesAndUnicodeAreFiles() async throws {
        try await withStore { store, root in
            try await store.createBucket("bkt", owner: "AK1", now: 0)
            for key in [".hidden", "a b+c", "naïve/résumé.pdf", "..x", "x..", "a/.b/c"] {
                try await store.put("bkt", key, key)
                #expect(try await store.read("bkt", key) == key)
                #expect(FileManager.default.fileExists(atPath: root + "/bkt/" + key))
            }
        }
    }

    @Test func symlinksAreNotFollowed() async throws {
        try await withStore { store, root in
            try await store.createBucket("bkt", owner: "AK1", now: 0)
            try "secret".write(toFile: root + "/outside.txt", atomically: true, encoding: .utf8)
            try FileManager.default.createSymbolicLink(atPath: root + "/bkt/link", withDestinationPath: root + "/outside.txt")
            await #expect(throws: StorageError.noSuchKey(bucket: "bkt", key: "link")) {
                try await store.openObject(bucket: "bkt", key: "link")
            }
            // A linked folder does not lead out of the bucket either, for reads, deletes or writes.
            try FileManager.default.createDirectory(atPath: root + "/elsewhere", withIntermediateDirectories: true)
            try "outside".write(toFile: root + "/elsewhere/file", atomically: true, encoding: .utf8)
            try FileManager.default.createSymbolicLink(atPath: root + "/bkt/dir", withDestinationPath: root + "/elsewhere")
            await #expect(throws: StorageError.noSuchKey(bucket: "bkt", key: "dir/file")) {
                try await store.objectInfo(bucket: "bkt", key: "dir/file")
            }
            await #expect(throws: StorageError.noSuchKey(bucket: "bkt", key: "dir/file")) {
                try await store.openObject(bucket: "bkt", key: "dir/file")
            }
            try await store.deleteObject(bucket: "bkt", key: "dir/file")
            #expect(FileManager.default.fileExists(atPath: root + "/elsewhere/file"))
            // A write through the link is kept in the bucket's reserved keys, never beside the link's target.
            try await store.put("bkt", "dir/new", "x")
            #expect(!FileManager.default.fileExists(atPath: root + "/elsewhere/new"))
            #expect(try await store.keys("bkt") == ["dir/new"])
            #expect(try await store.read("bkt", "dir/new") == "x")
        }
    }
}

@Suite struct ListingTests {
    static let keys = [
        "a-b", "a/1", "a/2", "a/b/c", "a/b/d", "a+c", "b", "c/x/y/z", "photos/2026/jan.jpg", "photos/2026/feb.jpg",
        "photos/index.html", "zeta",
    ]

    func withKeys(_ body: (BucketStore) async throws -> Void) async throws {
        try await withStore { store, _ in
            try await store.createBucket("bkt", owner: "AK1", now: 0)
            for key in Self.keys { try await store.put("bkt", key, key) }
            try await body(store)
        }
    }

    @Test func allKeysInByteOrder() async throws {
        try await withKeys { store in
            let keys = try await store.keys("bkt")
            #expect(keys == Self.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
            #expect(keys.first == "a+c")  // '+' < '-' < '/'
        }
    }

    @Test func prefixAndDelimiter() async throws {
        try await withKeys { store in
            let page = try await store.listObjects(bucket: "bkt", ListRequest(prefix: "", delimiter: "/"))
            #expect(page.objects.map(\.key) == ["a+c", "a-b", "b", "zeta"])
            #expect(page.commonPrefixes == ["a/", "c/", "photos/"])
            let photos = try await store.listObjects(bucket: "bkt", ListRequest(prefix: "photos/", delimiter: "/"))
            #expect(photos.objects.map(\.key) == ["photos/index.html"])
            #expect(photos.commonPrefixes == ["photos/2026/"])
            let partial = try await store.listObjects(bucket: "bkt", ListRequest(prefix: "photos/2026/f"))
            #expect(partial.objects.map(\.key) == ["photos/2026/feb.jpg"])
            let dash = try await store.listObjects(bucket: "bkt", ListRequest(prefix: "a", delimiter: "-"))
            #expect(dash.commonPrefixes == ["a-"])
            #expect(dash.objects.map(\.key) == ["a+c", "a/1", "a/2", "a/b/c", "a/b/d"])
        }
    }

    @Test func paginationVisitsEveryItemOnce() async throws {
        try await withKeys { store in
            for delimiter in [nil, "/"] as [String?] {
                for pageSize in 1...4 {
                    var seen: [String] = []
                    var after: String?
                    var pages = 0
                    repeat {
                        let page = try await store.listObjects(
                            bucket: "bkt",
                            ListRequest(delimiter: delimiter, startAfter: after, maxKeys: pageSize)
                        )
                        seen += page.objects.map(\.key) + page.commonPrefixes
                        #expect(page.objects.count + page.commonPrefixes.count <= pageSize)
                        after = page.isTruncated ? page.lastItem : nil
                        pages += 1
                    } while after != nil && pages < 50
                    let whole = try await store.listObjects(bucket: "bkt", ListRequest(delimiter: delimiter))
                    let expected = (whole.objects.map(\.key) + whole.commonPrefixes).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
                    #expect(
                        seen.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) } == expected,
                        "delimiter \(delimiter ?? "none"), page size \(pageSize)")
                    #expect(Set(seen).count == seen.count)
                }
            }
        }
    }

    @Test func startAfterInsideAFolder() async throws {
        try await withKeys { store in
            let afterC = try await store.keys("bkt", ListRequest(startAfter: "a/b/c"))
            #expect(afterC == ["a/b/d", "b", "c/x/y/z", "photos/2026/feb.jpg", "photos/2026/jan.jpg", "photos/index.html", "zeta"])
            let afterZeta = try await store.keys("bkt", ListRequest(startAfter: "zeta"))
            #expect(afterZeta.isEmpty)
        }
    }

    @Test func emptyFoldersAreNotListed() async throws {
        try await withStore { store, root in
            try await store.createBucket("bkt", owner: "AK1", now: 0)
            try FileManager.default.createDirectory(atPath: root + "/bkt/empty/deeper", withIntermediateDirectories: true)
            try await store.put("bkt", "k", "v")
            let page = try await store.listObjects(bucket: "bkt", ListRequest(delimiter: "/"))
            #expect(page.commonPrefixes.isEmpty)
            #expect(page.objects.map(\.key) == ["k"])
        }
    }

    @Test func maxKeysZero() async throws {
        try await withKeys { store in
            let page = try await store.listObjects(bucket: "bkt", ListRequest(maxKeys: 0))
            #expect(page.objects.isEmpty && !page.isTruncated)
        }
    }
}

@Suite struct FreeSpaceTests {
    @Test func aDeclaredLengthBeyondFreeSpaceMinusTheReserveIsRefused() throws {
        let root = temporaryPath("cv-space")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let open = try BucketStore(root: root)
        let free = try #require(open.freeBytes())
        #expect(free > 0)
        try open.ensureSpace(for: 1024, bucket: "b", key: "k")
        #expect(throws: StorageError.insufficientStorage(bucket: "b", key: "k")) {
            try open.ensureSpace(for: free * 2, bucket: "b", key: "k")
        }

        let reserved = try BucketStore(root: root, freeSpaceReserve: free * 2)
        #expect(throws: StorageError.insufficientStorage(bucket: "b", key: "k"), "the reserve is not for objects") {
            try reserved.ensureSpace(for: 1, bucket: "b", key: "k")
        }
    }

    @Test func outOfSpaceIsRecognisedWhereverItComesFrom() {
        #expect(StorageError.insufficientStorage(bucket: "b", key: "k").isOutOfSpace)
        #expect(StorageError.io(operation: "write", path: "/x", errno: ENOSPC).isOutOfSpace)
        #expect(StorageError.io(operation: "write", path: "/x", errno: EDQUOT).isOutOfSpace)
        #expect(!StorageError.io(operation: "write", path: "/x", errno: EIO).isOutOfSpace)
        #expect(!StorageError.noSuchBucket("b").isOutOfSpace)
    }
}
