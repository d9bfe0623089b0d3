import Foundation
import TestSupport
import Testing

@testable import BucketStore

/// Where a key's file is: its plain path below the bucket, or `.chainvault/keys/<bucket>/…/object`.
func location(of key: String, bucket: String = "bkt", root: String) throws -> String? {
    let objectKey = try ObjectKey(key)
    if let plain = objectKey.plainPath {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: root + "/" + bucket + "/" + plain, isDirectory: &isDirectory), !isDirectory.boolValue {
            return "plain"
        }
    }
    let reserved = root + "/.chainvault/keys/" + bucket + "/" + objectKey.reservedSegments.joined(separator: "/")
    return FileManager.default.fileExists(atPath: reserved) ? "reserved" : nil
}

@Suite struct KeyMappingTests {
    /// Keys put in this order, and where each one is stored.
    static let table: [(key: String, place: String)] = [
        ("sales/2026/q1.parquet", "plain"),
        ("sales/", "reserved"),  // a folder marker
        ("sales/2026/", "reserved"),
        ("photos", "plain"),
        ("photos/2026.jpg", "reserved"),  // its prefix `photos` is a file
        ("docs/a.txt", "plain"),
        ("docs", "reserved"),  // its path is a folder
        ("/leading", "reserved"),
        ("a//b", "reserved"),
        ("a/./b", "reserved"),
        ("a/../../escape", "reserved"),
        ("..", "reserved"),
        (String(repeating: "x", count: 300), "reserved"),
        ("long/" + String(repeating: "y", count: 256) + "/tail", "reserved"),
        (String(repeating: "z", count: 1024), "reserved"),
        ("ordinary", "plain"),
    ]

    @Test func everyKeyIsStoredReadListedAndDeleted() async throws {
        try await withStore { store, root in
            try await store.createBucket("bkt", owner: "AK1", now: 0)
            for (key, _) in Self.table { try await store.put("bkt", key, "bytes of " + key) }
            for (key, place) in Self.table {
                #expect(try location(of: key, root: root) == place, "\(key.prefix(40))")
                #expect(try await store.read("bkt", key) == "bytes of " + key)
                #expect(try await store.objectInfo(bucket: "bkt", key: key).size == Int64(("bytes of " + key).utf8.count))
            }
            // Nothing escaped the bucket: `..` segments are names, never resolved.
            #expect(!FileManager.default.fileExists(atPath: root + "/escape"))
            #expect(!FileManager.default.fileExists(atPath: root + "/bkt/../escape"))
            let sorted = Self.table.map(\.key).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            #expect(try await store.keys("bkt") == sorted)
            for (key, _) in Self.table.shuffled() { try await store.deleteObject(bucket: "bkt", key: key) }
            #expect(try await store.keys("bkt").isEmpty)
            #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/bkt").isEmpty)
            #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/.chainvault/keys/bkt").isEmpty)
            try await store.deleteBucket("bkt")
        }
    }

    @Test func aKeyAndKeysBelowItInEitherOrder() async throws {
        try await withStore { store, root in
            try await store.createBucket("bkt", owner: "AK1", now: 0)
            for (first, second) in [("p", "p/q"), ("r/s", "r")] {
                try await store.put("bkt", first, first)
                try await store.put("bkt", second, second)
                #expect(try await store.read("bkt", first) == first)
                #expect(try await store.read("bkt", second) == second)
                #expect(try location(of: first, root: root) == "plain")
                #expect(try location(of: second, root: root) == "reserved")
            }
            let page = try await store.listObjects(bucket: "bkt", ListRequest(delimiter: "/"))
            #expect(page.objects.map(\.key) == ["p", "r"])
            #expect(page.commonPrefixes == ["p/", "r/"])
            // Once `r/s` is gone, a new write of `r` takes its plain path and the reserved copy goes.
            try await store.deleteObject(bucket: "bkt", key: "r/s")
            #expect(try await store.read("bkt", "r") == "r")
            try await store.put("bkt", "r", "r again")
            #expect(try location(of: "r", root: root) == "plain")
            #expect(try await store.keys("bkt") == ["p", "p/q", "r"])
            #expect(try await store.read("bkt", "r") == "r again")
        }
    }

    @Test func aCrashBetweenAPlainWriteAndTheReservedCopysRemovalKeepsTheNewer() async throws {
        try await withStore { store, root in
            try await store.createBucket("bkt", owner: "AK1", now: 0)
            try await store.put("bkt", "k/x", "x")
            try await store.put("bkt", "k", "old")
            #expect(try location(of: "k", root: root) == "reserved")
            try await store.deleteObject(bucket: "bkt", key: "k/x")
            // What a crash right after the plain rename leaves: both files.
            let reserved = root + "/.chainvault/keys/bkt/" + (try ObjectKey("k")).reservedSegments.joined(separator: "/")
            try FileManager.default.copyItem(atPath: reserved, toPath: root + "/bkt/k")
            try Data("new".utf8).write(to: URL(fileURLWithPath: root + "/bkt/k"))
            #expect(try await store.read("bkt", "k") == "new")
            #expect(try await store.keys("bkt") == ["k"])
            try await store.deleteObject(bucket: "bkt", key: "k")
            #expect(!FileManager.default.fileExists(atPath: reserved))
            await #expect(throws: StorageError.noSuchKey(bucket: "bkt", key: "k")) { try await store.objectInfo(bucket: "bkt", key: "k") }
        }
    }

    @Test func aBucketWithOnlyReservedKeysIsNotEmpty() async throws {
        try await withStore { store, _ in
            try await store.createBucket("bkt", owner: "AK1", now: 0)
            try await store.put("bkt", "dir/", "")
            await #expect(throws: StorageError.bucketNotEmpty("bkt")) { try await store.deleteBucket("bkt") }
            #expect(try await store.usage().first?.objects == 1)
            try await store.deleteObject(bucket: "bkt", key: "dir/")
            try await store.deleteBucket("bkt")
        }
    }

    @Test func reservedNamesDecodeBack() throws {
        for key in ["a", "sales/", String(repeating: "é", count: 512), "/", "x/../y"] {
            let segments = try ObjectKey(key).reservedSegments
            #expect(segments.last == "object")
            #expect(segments.dropLast().allSatisfy { $0.utf8.count <= ObjectKey.reservedDigitsPerFolder })
            #expect(ObjectKey.reservedKey(hexDigits: segments.dropLast().joined()) == key)
        }
        #expect(ObjectKey.reservedKey(hexDigits: "zz") == nil)
        #expect(ObjectKey.reservedKey(hexDigits: "ff") == nil)  // not UTF-8
    }
}

/// Listings compared with a model of S3's: random keys of every kind, put and deleted at random, listed
/// with random prefixes, delimiters, start-after and page sizes.
@Suite struct ListingModelTests {
    /// S3's listing over a set of keys.
    static func model(_ keys: Set<String>, _ request: ListRequest) -> (items: [String], truncated: Bool) {
        let precedes: (String, String) -> Bool = { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var items: [String] = []
        for key in keys.sorted(by: precedes) where key.utf8.starts(with: request.prefix.utf8) {
            if let start = request.startAfter, !precedes(start, key) { continue }
            if let delimiter = request.delimiter, let range = key.dropFirst(request.prefix.count).range(of: delimiter) {
                let prefix = String(key[..<range.upperBound])
                if let start = request.startAfter, start.utf8.starts(with: prefix.utf8) { continue }
                if items.last != prefix { items.append(prefix) }
                continue
            }
            items.append(key)
        }
        return (Array(items.prefix(request.maxKeys)), items.count > request.maxKeys)
    }

    static let segments = ["a", "b", "", ".", "..", "a.b", "a-b", "a+", "é", "!", String(repeating: "s", count: 256)]

    static func randomKey(_ random: inout SplitMix) -> String {
        let count = Int.random(in: 1...4, using: &random)
        let key = (0..<count).map { _ in segments.randomElement(using: &random)! }.joined(separator: "/")
        return key.isEmpty ? "/" : key
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6])
    func listingsMatchTheModel(seed: UInt64) async throws {
        var random = SplitMix(state: seed)
        try await withStore { store, _ in
            try await store.createBucket("bkt", owner: "AK1", now: 0)
            var keys = Set<String>()
            for _ in 0..<60 {
                let key = Self.randomKey(&random)
                if keys.contains(key), Bool.random(using: &random) {
                    try await store.deleteObject(bucket: "bkt", key: key)
                    keys.remove(key)
                } else {
                    try await store.put("bkt", key, key)
                    keys.insert(key)
                }
            }
            for key in keys { #expect(try await store.read("bkt", key) == key, "seed \(seed)") }
            for _ in 0..<40 {
                let someKey = keys.randomElement(using: &random) ?? "a"
                let prefix = Bool.random(using: &random) ? "" : String(someKey.prefix(Int.random(in: 0...someKey.count, using: &random)))
                let delimiter = ["/", "a", "-", nil].randomElement(using: &random)!
                let pageSize = Int.random(in: 1...7, using: &random)
                var after: String? = Bool.random(using: &random) ? Self.randomKey(&random) : nil
                // One page against the model, then the whole listing page by page.
                let request = ListRequest(prefix: prefix, delimiter: delimiter, startAfter: after, maxKeys: pageSize)
                let page = try await store.listObjects(bucket: "bkt", request)
                let expected = Self.model(keys, request)
                let items = (page.objects.map(\.key) + page.commonPrefixes).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
                #expect(items == expected.items, "seed \(seed): \(request)")
                #expect(page.isTruncated == expected.truncated, "seed \(seed): \(request)")
                after = nil
                var seen: [String] = []
                for _ in 0..<100 {
                    let page = try await store.listObjects(
                        bucket: "bkt", ListRequest(prefix: prefix, delimiter: delimiter, startAfter: after, maxKeys: pageSize))
                    seen += (page.objects.map(\.key) + page.commonPrefixes).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
                    guard page.isTruncated else { break }
                    after = page.lastItem
                }
                let whole = Self.model(keys, ListRequest(prefix: prefix, delimiter: delimiter, maxKeys: 10_000)).items
                #expect(seen == whole, "seed \(seed): prefix \(prefix) delimiter \(delimiter ?? "none") pages of \(pageSize)")
            }
        }
    }
}

@Suite struct ConditionalWriteTests {
    @Test func createOnlyAndReplaceOnlyThatVersion() async throws {
        try await withStore { store, _ in
            try await store.createBucket("bkt", owner: "AK1", now: 0)
            let first = try await store.putObject(
                bucket: "bkt", key: "lock", condition: .absent, attributes: ObjectAttributes(), body: Chunks(chunks: [[1]]))
            await #expect(throws: StorageError.preconditionFailed(bucket: "bkt", key: "lock")) {
                try await store.putObject(
                    bucket: "bkt", key: "lock", condition: .absent, attributes: ObjectAttributes(), body: Chunks(chunks: [[2]]))
            }
            await #expect(throws: StorageError.preconditionFailed(bucket: "bkt", key: "lock")) {
                try await store.putObject(
                    bucket: "bkt", key: "lock", condition: .matches(["0123"]), attributes: ObjectAttributes(), body: Chunks(chunks: [[2]]))
            }
            await #expect(throws: StorageError.noSuchKey(bucket: "bkt", key: "none")) {
                try await store.putObject(
                    bucket: "bkt", key: "none", condition: .matches(["*"]), attributes: ObjectAttributes(), body: Chunks(chunks: [[2]]))
            }
            let second = try await store.putObject(
                bucket: "bkt", key: "lock", condition: .matches([first.etag]), attributes: ObjectAttributes(), body: Chunks(chunks: [[3]]))
            #expect(try await store.objectInfo(bucket: "bkt", key: "lock").etag == second.etag)
            // The same for a reserved key.
            _ = try await store.putObject(
                bucket: "bkt", key: "dir/", condition: .absent, attributes: ObjectAttributes(), body: Chunks(chunks: []))
            await #expect(throws: StorageError.preconditionFailed(bucket: "bkt", key: "dir/")) {
                try await store.putObject(
                    bucket: "bkt", key: "dir/", condition: .absent, attributes: ObjectAttributes(), body: Chunks(chunks: []))
            }
        }
    }

    @Test func ofConcurrentCreateOnlyWritesExactlyOneWins() async throws {
        try await withStore { store, _ in
            try await store.createBucket("bkt", owner: "AK1", now: 0)
            for round in 0..<5 {
                let key = "race-\(round)"
                let outcomes = try await withThrowingTaskGroup(of: String.self) { group in
                    for writer in 0..<16 {
                        group.addTask {
                            do {
                                _ = try await store.putObject(
                                    bucket: "bkt", key: key, condition: .absent, attributes: ObjectAttributes(),
                                    body: Chunks(chunks: [Array("writer \(writer)".utf8)]))
                                return "won"
                            } catch StorageError.preconditionFailed, StorageError.conditionalRequestConflict {
                                return "lost"
                            }
                        }
                    }
                    return try await group.reduce(into: [String]()) { $0.append($1) }
                }
                #expect(outcomes.filter { $0 == "won" }.count == 1)
                #expect(outcomes.count == 16)
            }
        }
    }
}
