import BucketStore
import ChunkChainTesting
import Crypto
import Foundation
import Hex
import TestSupport
import Testing

@testable import ChunkChain

/// A fresh index directory, removed by the caller.
func temporaryIndex() throws -> ChainIndexDirectory {
    try ChainIndexDirectory(directory: temporaryPath("cv-index"))
}

@Suite struct MirrorTests {
    func mirroredChain(_ fixture: Fixture) async throws -> (ChainHead, [ChunkPointer]) {
        let writer = ChainWriter(store: fixture.store, keyring: fixture.keyring, chunkSize: 64, mirror: true, random: fixture.random.source)
        let head = try await writer.write(BytesSource(report(64 * 4)))
        return (head, try await fixture.reader.verify(head: head.pointer, mirrored: true).chunks.map(\.pointer))
    }

    @Test func everyChunkIsInBothBuckets() async throws {
        let fixture = Fixture()
        let (_, chunks) = try await mirroredChain(fixture)
        for chunk in chunks {
            #expect(try await fixture.store.head(key: chunk.key, bucket: .a))
            #expect(try await fixture.store.head(key: chunk.key, bucket: .b))
        }
    }

    @Test func aReadUsesTheGoodCopyAndRepairsTheBadOne() async throws {
        let fixture = Fixture()
        let (head, chunks) = try await mirroredChain(fixture)
        let good = try #require(try await fixture.store.get(key: chunks[1].key, bucket: chunks[1].bucket))
        await fixture.store.remove(key: chunks[1].key, bucket: chunks[1].bucket)
        var rotten = good
        rotten[150] ^= 0x10
        await fixture.store.replace(key: chunks[2].key, bucket: chunks[2].bucket, with: rotten)

        var output: [UInt8] = []
        let summary = try await fixture.reader.read(head: head.pointer, keyring: fixture.keyring, mirrored: true) { output += $0 }
        #expect(output == report(64 * 4))
        #expect(summary.repaired == [chunks[1], chunks[2]])
        #expect(try await fixture.store.get(key: chunks[1].key, bucket: chunks[1].bucket) == good)
        #expect(
            try await fixture.store.get(key: chunks[2].key, bucket: chunks[2].bucket).map { Array(SHA256.hash(data: $0)) } == chunks[2].hash
        )
    }

    @Test func verificationChecksAndRepairsTheMirrorCopies() async throws {
        let fixture = Fixture()
        let (head, chunks) = try await mirroredChain(fixture)
        let copy = ChunkPointer(bucket: chunks[3].bucket.other, hash: chunks[3].hash)
        await fixture.store.remove(key: copy.key, bucket: copy.bucket)
        let summary = try await fixture.reader.verify(head: head.pointer, mirrored: true)
        #expect(summary.repaired == [copy])
        #expect(try await fixture.store.head(key: copy.key, bucket: copy.bucket))
        #expect(try await fixture.reader.verify(head: head.pointer, mirrored: true).repaired.isEmpty)
    }

    @Test func bothCopiesBadIsStillAnError() async throws {
        let fixture = Fixture()
        let (head, chunks) = try await mirroredChain(fixture)
        await fixture.store.remove(key: chunks[2].key, bucket: .a)
        await fixture.store.remove(key: chunks[2].key, bucket: .b)
        await #expect(throws: ChainError.missingChunk(index: 2, bucket: chunks[2].bucket, key: chunks[2].key)) {
            try await fixture.reader.verify(head: head.pointer, mirrored: true)
        }
    }
}

@Suite struct IndexAndMaintenanceTests {
    @Test func indexEntriesRoundTripDurablyWithMode0600() async throws {
        let fixture = Fixture()
        let index = try temporaryIndex()
        defer { try? FileManager.default.removeItem(atPath: index.directory) }
        let head = try await fixture.writer.write(BytesSource(report(300)))
        let entry = ChainIndexEntry(head: head, mirrored: false, created: 7)
        try await index.put(entry)
        #expect(try await index.entry(head: head.pointer) == entry)
        #expect(try await index.all() == [entry])
        let attributes = try FileManager.default.attributesOfItem(atPath: index.path(head.pointer))
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let text = try String(contentsOfFile: index.path(head.pointer), encoding: .utf8)
        #expect(!text.contains(Hex.encode(head.sha256)), "the index never holds the plaintext digest")
        try await index.remove(head: head.pointer)
        #expect(try await index.all().isEmpty)
    }

    @Test func rotationRewrapsDataKeysWithoutRewritingAnyChunk() async throws {
        let fixture = Fixture()
        let index = try temporaryIndex()
        defer { try? FileManager.default.removeItem(atPath: index.directory) }
        var heads: [ChainHead] = []
        for size in [0, 100, 1000] {
            let head = try await fixture.writer.write(BytesSource(report(size)))
            try await index.put(ChainIndexEntry(head: head, mirrored: false, created: 0))
            heads.append(head)
        }
        let before = await fixture.store.all().map { "\($0.bucket)/\($0.key)/\(SHA256.hash(data: $0.bytes))" }.sorted()

        var keyring = fixture.keyring
        let old = keyring.active
        let new = keyring.rotate(random: fixture.random.source, now: 1)
        #expect(try await index.rewrap(keyring: keyring, random: fixture.random.source) == 3)
        #expect(try await index.rewrap(keyring: keyring, random: fixture.random.source) == 0, "idempotent")

        let after = await fixture.store.all().map { "\($0.bucket)/\($0.key)/\(SHA256.hash(data: $0.bytes))" }.sorted()
        #expect(before == after, "every chunk object byte-identical")

        // A keyring holding only the new key reads every chain through the index, and not through the head.
        let onlyNew = Keyring(keys: [new], activeId: new.id)
        for head in heads {
            let entry = try #require(try await index.entry(head: head.pointer))
            #expect(entry.wrappedKey.keyId == new.id)
            var output: [UInt8] = []
            _ = try await fixture.reader.read(head: head.pointer, keyring: onlyNew, wrappedKey: entry.wrappedKey) { output += $0 }
            #expect(output == report(Int(head.length)))
            await #expect(throws: ChainError.unknownKeyId(old.idHex)) {
                _ = try await fixture.reader.read(head: head.pointer, keyring: onlyNew) { _ in }
            }
        }
    }

    @Test func verifyAllReportsEachChain() async throws {
        let fixture = Fixture()
        let index = try temporaryIndex()
        defer { try? FileManager.default.removeItem(atPath: index.directory) }
        let good = try await fixture.writer.write(BytesSource(report(200)))
        let bad = try await fixture.writer.write(BytesSource(report(200)))
        try await index.put(ChainIndexEntry(head: good, mirrored: false, created: 0))
        try await index.put(ChainIndexEntry(head: bad, mirrored: false, created: 0))
        let chunks = try await fixture.reader.verify(head: bad.pointer).chunks.map(\.pointer)
        await fixture.store.remove(key: chunks[2].key, bucket: chunks[2].bucket)

        let maintenance = ChainMaintenance(store: fixture.store, index: index)
        for keyring in [nil, fixture.keyring] {
            let results = try await maintenance.verifyAll(keyring: keyring)
            #expect(results.count == 2)
            for result in results {
                if result.head == good.pointer {
                    #expect((try? result.result.get())?.chunks.count == 4)
                } else {
                    #expect(throws: ChainError.missingChunk(index: 2, bucket: chunks[2].bucket, key: chunks[2].key)) {
                        try result.result.get()
                    }
                }
            }
        }
    }

    @Test func orphansAreTheObjectsNoIndexedChainReaches() async throws {
        let fixture = Fixture()
        let index = try temporaryIndex()
        defer { try? FileManager.default.removeItem(atPath: index.directory) }
        let indexed = try await fixture.writer.write(BytesSource(report(200)))
        try await index.put(ChainIndexEntry(head: indexed, mirrored: false, created: 0))
        let unindexed = try await fixture.writer.write(BytesSource(report(130)))
        try await fixture.store.put([1, 2, 3], key: "notes.txt", bucket: .a)

        let found = try await ChainMaintenance(store: fixture.store, index: index).orphans()
        let unindexedChunks = try await fixture.reader.verify(head: unindexed.pointer).chunks.map(\.pointer)
        let listed = found.orphans.map { "\($0.bucket):\($0.key)" }
        #expect(Set(listed) == Set(unindexedChunks.map(\.description) + ["A:notes.txt"]), "chunks no chain reaches, and the stray object")
        #expect(found.damaged.isEmpty)
    }

    @Test func deletingOrphansSparesYoungOnesAndEveryIndexedChain() async throws {
        let root = temporaryPath("cv-orphans")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = LocalChunkStore(store: try BucketStore(root: root))
        try await store.createBuckets(owner: "test", now: 0)
        let index = try temporaryIndex()
        defer { try? FileManager.default.removeItem(atPath: index.directory) }
        let random = SeededRandom(seed: 5)
        let keyring = Keyring.generate(random: random.source, now: 0)
        let writer = ChainWriter(store: store, keyring: keyring, chunkSize: 100, random: random.source)
        let indexed = try await writer.write(BytesSource(report(450)))
        try await index.put(ChainIndexEntry(head: indexed, mirrored: false, created: 0))
        _ = try await writer.write(BytesSource(report(250)))  // an interrupted write: never indexed
        let maintenance = ChainMaintenance(store: store, index: index)
        let found = try await maintenance.orphans()
        #expect(found.orphans.count == 3)
        let now = Int64(Date().timeIntervalSince1970)
        #expect(found.orphans.allSatisfy { abs(($0.modified ?? 0) - now) < 60 }, "the local store tells each chunk's age")

        let young = try await maintenance.remove(found.orphans, modifiedBefore: now - 3600)
        #expect(young.removed.isEmpty && young.kept == found.orphans, "written within the hour: maybe a write in flight")
        let old = try await maintenance.remove(found.orphans, modifiedBefore: now + 60)
        #expect(old.removed == found.orphans && old.kept.isEmpty)
        #expect(try await maintenance.orphans().orphans.isEmpty)
        #expect(try await ChainReader(store: store).verify(head: indexed.pointer).chunks.count == 5, "the indexed chain is whole")
    }

    @Test func orphansOfUnknownAgeGoOnlyWithoutACutoff() async throws {
        let fixture = Fixture()
        let index = try temporaryIndex()
        defer { try? FileManager.default.removeItem(atPath: index.directory) }
        _ = try await fixture.writer.write(BytesSource(report(130)))
        let maintenance = ChainMaintenance(store: fixture.store, index: index)
        let found = try await maintenance.orphans().orphans
        #expect(!found.isEmpty && found.allSatisfy { $0.modified == nil })
        #expect(try await maintenance.remove(found, modifiedBefore: 0).removed.isEmpty)
        #expect(try await maintenance.remove(found, modifiedBefore: nil).removed == found)
        #expect(await fixture.store.all().isEmpty)
    }

    @Test func rebuildFindsEveryChainFromTheBucketsAlone() async throws {
        let fixture = Fixture()
        let index = try temporaryIndex()
        defer { try? FileManager.default.removeItem(atPath: index.directory) }
        let plain = try await fixture.writer.write(BytesSource(report(500)))
        let empty = try await fixture.writer.write(BytesSource([]))
        let mirroredWriter = ChainWriter(
            store: fixture.store, keyring: fixture.keyring, chunkSize: 64, mirror: true, random: fixture.random.source)
        let mirrored = try await mirroredWriter.write(BytesSource(report(150)))
        try await fixture.store.put(Array("not a chunk".utf8), key: String(repeating: "ab", count: 32), bucket: .b)

        let rebuild = try await ChainMaintenance(store: fixture.store, index: index).rebuildIndex(keyring: fixture.keyring, now: 5)
        #expect(rebuild.added == 3)
        #expect(rebuild.failures.isEmpty)
        let entries = Dictionary(uniqueKeysWithValues: try await index.all().map { ($0.head.hash, $0) })
        #expect(entries[plain.pointer.hash]?.length == 500)
        #expect(entries[plain.pointer.hash]?.chunkCount == plain.chunkCount)
        #expect(entries[empty.pointer.hash]?.length == 0)
        #expect(entries[mirrored.pointer.hash]?.mirrored == true)
        #expect(entries[plain.pointer.hash]?.mirrored == false)
        #expect(entries[plain.pointer.hash]?.wrappedKey == plain.wrappedKey)

        // A keyring without the chains' key cannot index them.
        let stranger = Keyring.generate(random: SeededRandom(seed: 9).source, now: 0)
        let other = try temporaryIndex()
        defer { try? FileManager.default.removeItem(atPath: other.directory) }
        let refused = try await ChainMaintenance(store: fixture.store, index: other).rebuildIndex(keyring: stranger, now: 5)
        #expect(refused.chains.isEmpty && refused.failures.count == 3)
        #expect(refused.failures.allSatisfy { $0.error == .unknownKeyId(fixture.keyring.active.idHex) })
    }
}
