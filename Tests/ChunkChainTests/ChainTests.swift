import BucketStore
import ChunkChainTesting
import Crypto
import Foundation
import TestSupport
import Testing

@testable import ChunkChain

/// A deterministic random source for tests (SplitMix64), so chains are reproducible.
final class SeededRandom: @unchecked Sendable {
    // Only used from one test at a time, sequentially; the lock makes concurrent use safe anyway.
    private var state: UInt64
    private let lock = NSLock()
    init(seed: UInt64) { state = seed }

    func bytes(_ count: Int) -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        var out: [UInt8] = []
        while out.count < count {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            out += withUnsafeBytes(of: z) { Array($0) }
        }
        return Array(out.prefix(count))
    }

    var source: @Sendable (Int) -> [UInt8] { { [self] in self.bytes($0) } }
}

func report(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) } }

struct Fixture {
    let store = MemoryChunkStore()
    let random = SeededRandom(seed: 42)
    let keyring: Keyring
    let writer: ChainWriter
    let reader: ChainReader

    init(chunkSize: Int = 64) {
        keyring = Keyring.generate(random: random.source, now: 0)
        writer = ChainWriter(store: store, keyring: keyring, chunkSize: chunkSize, random: random.source)
        reader = ChainReader(store: store)
    }

    func read(_ head: ChunkPointer, keyring: Keyring? = nil) async throws -> [UInt8] {
        var output: [UInt8] = []
        _ = try await reader.read(head: head, keyring: keyring ?? self.keyring) { output += $0 }
        return output
    }
}

@Suite struct ChainRoundTripTests {
    @Test(arguments: [0, 1, 2, 3, 100, 64, 128, 64 * 5, 64 * 5 + 1, 1000])
    func writeThenRead(_ size: Int) async throws {
        let fixture = Fixture()
        let head = try await fixture.writer.write(BytesSource(report(size)))
        #expect(head.length == Int64(size))
        #expect(head.sha256 == Array(SHA256.hash(data: report(size))))
        #expect(try await fixture.read(head.pointer) == report(size))
        let summary = try await fixture.reader.verify(head: head.pointer)
        #expect(summary.chunks.count == head.chunkCount)
        #expect(head.chunkCount == (size <= 1 ? 1 : max(2, (size + 63) / 64)))
        if head.chunkCount >= 2 {
            #expect(Set(summary.chunks.map(\.pointer.bucket)).count == 2, "a chain of 2+ chunks uses both buckets")
        }
        // Content addressing: every object's key is the SHA-256 of its bytes.
        for object in await fixture.store.all() {
            #expect(SHA256.hash(data: object.bytes).map { String(format: "%02x", $0) }.joined() == object.key)
        }
    }

    @Test func splittingRule() {
        #expect(ChainWriter.ranges(length: 0, chunkSize: 10) == [0..<0])
        #expect(ChainWriter.ranges(length: 1, chunkSize: 10) == [0..<1])
        #expect(ChainWriter.ranges(length: 2, chunkSize: 10) == [0..<1, 1..<2])
        #expect(ChainWriter.ranges(length: 7, chunkSize: 10) == [0..<4, 4..<7])
        #expect(ChainWriter.ranges(length: 10, chunkSize: 10) == [0..<5, 5..<10])
        #expect(ChainWriter.ranges(length: 21, chunkSize: 10) == [0..<10, 10..<20, 20..<21])
    }

    @Test func placementAlwaysUsesBothBuckets() {
        let zeros: @Sendable (Int) -> [UInt8] = { [UInt8](repeating: 0, count: $0) }
        let writer = ChainWriter(
            store: MemoryChunkStore(), keyring: Keyring.generate(random: SeededRandom(seed: 1).source, now: 0), random: zeros)
        for count in 2...10 { #expect(Set(writer.placement(count: count)).count == 2) }
        #expect(writer.placement(count: 1).count == 1)
    }

    @Test func headersAreAsDocumented() async throws {
        let fixture = Fixture(chunkSize: ChainWriter.defaultChunkSize)
        let head = try await fixture.writer.write(BytesSource(report(100)))
        let stored = try #require(try await fixture.store.get(key: head.pointer.key, bucket: head.pointer.bucket))
        // docs/chunk-format.md: a 100-byte report is two chunks of 50 bytes, stored as 282 and 162 bytes.
        #expect(stored.count == 282)
        #expect(Array(stored[0..<4]) == Array("CVCH".utf8))
        #expect(stored[4] == 1)
        #expect(stored[5] == 2, "head, not last")
        let summary = try await fixture.reader.verify(head: head.pointer)
        #expect(summary.chunks.map(\.size) == [282, 162])
        #expect(summary.chunks.last?.next == nil)
    }
}

@Suite struct ChainTamperTests {
    /// Rewrites a stored chunk's header (keeping its ciphertext and tag) and stores the result under its
    /// own hash: keyless checks pass, decryption cannot.
    static func forge(_ fixture: Fixture, _ pointer: ChunkPointer, bucket: ChainBucket? = nil, _ change: (inout ChunkHeader) -> Void)
        async throws -> ChunkPointer
    {
        let stored = try #require(try await fixture.store.get(key: pointer.key, bucket: pointer.bucket))
        var header = try ChunkHeader.parse(stored[...], position: 0)
        let body = stored[header.size...]
        change(&header)
        return try await store(fixture, header.encoded() + body, bucket: bucket ?? pointer.bucket)
    }

    static func store(_ fixture: Fixture, _ bytes: [UInt8], bucket: ChainBucket) async throws -> ChunkPointer {
        let pointer = ChunkPointer(bucket: bucket, hash: Array(SHA256.hash(data: bytes)))
        try await fixture.store.put(bytes, key: pointer.key, bucket: bucket)
        return pointer
    }

    func chain(_ fixture: Fixture, size: Int = 64 * 4) async throws -> (ChainHead, [ChunkPointer]) {
        let head = try await fixture.writer.write(BytesSource(report(size)))
        return (head, try await fixture.reader.verify(head: head.pointer).chunks.map(\.pointer))
    }

    func expectVerify(_ fixture: Fixture, _ head: ChunkPointer, throws expected: ChainError) async {
        await #expect(throws: expected) { try await fixture.reader.verify(head: head) }
    }

    @Test func swappedChunksAreAHashMismatch() async throws {
        let fixture = Fixture()
        let (head, chunks) = try await chain(fixture)
        let one = try #require(try await fixture.store.get(key: chunks[1].key, bucket: chunks[1].bucket))
        let two = try #require(try await fixture.store.get(key: chunks[2].key, bucket: chunks[2].bucket))
        await fixture.store.replace(key: chunks[1].key, bucket: chunks[1].bucket, with: two)
        await fixture.store.replace(key: chunks[2].key, bucket: chunks[2].bucket, with: one)
        await expectVerify(fixture, head.pointer, throws: .hashMismatch(index: 1, bucket: chunks[1].bucket, key: chunks[1].key))
    }

    @Test func droppedMiddleOrLastChunkIsMissing() async throws {
        let fixture = Fixture()
        let (head, chunks) = try await chain(fixture)
        await fixture.store.remove(key: chunks[3].key, bucket: chunks[3].bucket)
        await expectVerify(fixture, head.pointer, throws: .missingChunk(index: 3, bucket: chunks[3].bucket, key: chunks[3].key))
        await fixture.store.remove(key: chunks[2].key, bucket: chunks[2].bucket)
        await expectVerify(fixture, head.pointer, throws: .missingChunk(index: 2, bucket: chunks[2].bucket, key: chunks[2].key))
    }

    @Test func movedToTheOtherBucketIsMissing() async throws {
        let fixture = Fixture()
        let (head, chunks) = try await chain(fixture)
        let bytes = try #require(try await fixture.store.get(key: chunks[2].key, bucket: chunks[2].bucket))
        await fixture.store.remove(key: chunks[2].key, bucket: chunks[2].bucket)
        try await fixture.store.put(bytes, key: chunks[2].key, bucket: chunks[2].bucket.other)
        await expectVerify(fixture, head.pointer, throws: .missingChunk(index: 2, bucket: chunks[2].bucket, key: chunks[2].key))
    }

    @Test(arguments: [10, 200, 280])
    func oneFlippedBitIsAHashMismatchAndNeverReleased(offset: Int) async throws {
        let fixture = Fixture()
        let (head, chunks) = try await chain(fixture)
        var bytes = try #require(try await fixture.store.get(key: chunks[1].key, bucket: chunks[1].bucket))
        bytes[min(offset, bytes.count - 1)] ^= 1
        await fixture.store.replace(key: chunks[1].key, bucket: chunks[1].bucket, with: bytes)
        var released: [UInt8] = []
        await #expect(throws: ChainError.hashMismatch(index: 1, bucket: chunks[1].bucket, key: chunks[1].key)) {
            _ = try await fixture.reader.read(head: head.pointer, keyring: fixture.keyring) { released += $0 }
        }
        #expect(released == Array(report(64 * 4)[0..<64]), "only the chunks before the bad one are released")
    }

    @Test func olderChunkInPlaceIsAHashMismatch() async throws {
        let fixture = Fixture()
        let (head, chunks) = try await chain(fixture)
        let (_, older) = try await chain(fixture)
        let stale = try #require(try await fixture.store.get(key: older[1].key, bucket: older[1].bucket))
        await fixture.store.replace(key: chunks[1].key, bucket: chunks[1].bucket, with: stale)
        await expectVerify(fixture, head.pointer, throws: .hashMismatch(index: 1, bucket: chunks[1].bucket, key: chunks[1].key))
    }

    @Test func forgedPointersAreCaughtByHeaderChecks() async throws {
        let fixture = Fixture()
        let (headX, x) = try await chain(fixture)
        let (_, y) = try await chain(fixture)

        // Splice: X's head pointing at Y's chunk 1.
        let spliced = try await Self.forge(fixture, headX.pointer) { $0.next = y[1] }
        await expectVerify(fixture, spliced, throws: .foreignChunk(index: 1))
        // Reorder: X's head pointing at X's chunk 2.
        let reordered = try await Self.forge(fixture, headX.pointer) { $0.next = x[2] }
        await expectVerify(fixture, reordered, throws: .wrongIndex(expected: 1, found: 2))
        // Truncate: chunk 2 without a next pointer and not last, under a forged chain.
        let shortened = try await Self.forge(fixture, x[2]) { $0.next = nil }
        let toShort1 = try await Self.forge(fixture, x[1]) { $0.next = shortened }
        let toShortHead = try await Self.forge(fixture, headX.pointer) { $0.next = toShort1 }
        await expectVerify(fixture, toShortHead, throws: .truncated(chunksRead: 3, expected: 4))
        // A last flag before the count.
        let early = try await Self.forge(fixture, x[1]) {
            $0.isLast = true
            $0.next = nil
        }
        let toEarly = try await Self.forge(fixture, headX.pointer) { $0.next = early }
        await expectVerify(fixture, toEarly, throws: .truncated(chunksRead: 2, expected: 4))
        // An unknown format version.
        let future = try await Self.forge(fixture, headX.pointer) { _ in }
        var futureBytes = try #require(try await fixture.store.get(key: future.key, bucket: future.bucket))
        futureBytes[4] = 2
        await expectVerify(fixture, try await Self.store(fixture, futureBytes, bucket: .a), throws: .unsupportedVersion(2))
    }

    @Test func cutOrPaddedChunks() async throws {
        let fixture = Fixture()
        let (head, _) = try await chain(fixture)
        let stored = try #require(try await fixture.store.get(key: head.pointer.key, bucket: head.pointer.bucket))
        await expectVerify(fixture, try await Self.store(fixture, Array(stored.dropLast(3)), bucket: .a), throws: .truncatedChunk(index: 0))
        await expectVerify(fixture, try await Self.store(fixture, stored + [0], bucket: .a), throws: .extraData(index: 0))
    }

    /// Found by the fuzz target FuzzChunk: a ciphertext length near 2^64 trapped converting it to Int.
    @Test(arguments: [UInt64.max, UInt64(Int.max) + 1, UInt64(64 << 20) + 4097])
    func aCiphertextLengthBeyondTheLargestChunkIsMalformedNotACrash(_ length: UInt64) async throws {
        let fixture = Fixture()
        let (head, _) = try await chain(fixture)
        var stored = try #require(try await fixture.store.get(key: head.pointer.key, bucket: head.pointer.bucket))
        stored.replaceSubrange(88..<96, with: withUnsafeBytes(of: length.bigEndian, Array.init))
        await expectVerify(
            fixture, try await Self.store(fixture, stored, bucket: .a),
            throws: .malformedChunk(index: 0, reason: "a ciphertext length beyond the largest chunk"))
    }

    @Test func forgedHeadersFailAuthenticationBeforeAnyPlaintext() async throws {
        let fixture = Fixture()
        let (head, x) = try await chain(fixture)
        // Chunks re-linked around a chunk with a flipped tag bit pass every keyless check, but the head's
        // header (the AEAD's associated data) changed, so nothing opens.
        var bytes = try #require(try await fixture.store.get(key: x[2].key, bucket: x[2].bucket))
        bytes[bytes.count - 1] ^= 0x80  // the tag
        let badTag = try await Self.store(fixture, bytes, bucket: x[2].bucket)
        let toBad1 = try await Self.forge(fixture, x[1]) { $0.next = badTag }
        let toBadHead = try await Self.forge(fixture, head.pointer) { $0.next = toBad1 }
        _ = try await fixture.reader.verify(head: toBadHead)  // keyless: fine
        var released: [UInt8] = []
        await #expect(throws: ChainError.authenticationFailed(index: 0)) {
            _ = try await fixture.reader.read(head: toBadHead, keyring: fixture.keyring) { released += $0 }
        }
        #expect(released.isEmpty)
    }

    @Test func wrongOrUnknownMasterKey() async throws {
        let fixture = Fixture()
        let (head, _) = try await chain(fixture)
        let other = Keyring.generate(random: SeededRandom(seed: 7).source, now: 0)
        await #expect(throws: ChainError.unknownKeyId(fixture.keyring.active.idHex)) {
            _ = try await fixture.read(head.pointer, keyring: other)
        }
        let impostor = Keyring.generate(
            random: { count in count == 8 ? fixture.keyring.active.id : [UInt8](repeating: 9, count: count) }, now: 0)
        await #expect(throws: ChainError.wrongMasterKey(fixture.keyring.active.idHex)) {
            _ = try await fixture.read(head.pointer, keyring: impostor)
        }
    }
}

@Suite struct KeyringTests {
    @Test func rotationKeepsOldKeysAndSavesWithMode0600() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cv-keyring-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("keyring.json").path
        let random = SeededRandom(seed: 3)
        var keyring = try await Keyring.openOrCreate(
            path: path, index: try ChainIndexDirectory(directory: directory.path + "/chains"), store: MemoryChunkStore(),
            random: random.source,
            now: 1)
        let first = keyring.active.id
        let second = keyring.rotate(random: random.source, now: 2)
        try keyring.save(path: path)
        let loaded = try #require(try Keyring.load(path: path))
        #expect(loaded.activeId == second.id)
        #expect(loaded.keys.map(\.id) == [first, second.id])
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(!String(describing: loaded.active).contains(loaded.active.key.withUnsafeBytes { Data($0).base64EncodedString() }))
    }
}

@Suite struct KeyringFailClosedTests {
    /// A data root whose chains were written under a keyring that is then lost (a restore that forgot it).
    func vaultWithAChain() async throws -> (directory: String, index: ChainIndexDirectory, store: MemoryChunkStore, keyId: String) {
        let directory = temporaryPath("cv-failclosed")
        let index = try ChainIndexDirectory(directory: directory + "/chains")
        let store = MemoryChunkStore()
        let random = SeededRandom(seed: 5)
        let keyring = Keyring.generate(random: random.source, now: 0)
        let head = try await ChainWriter(store: store, keyring: keyring, chunkSize: 100, random: random.source).write(
            BytesSource(report(500)))
        try await index.put(ChainIndexEntry(head: head, mirrored: false, created: 0))
        return (directory, index, store, keyring.active.idHex)
    }

    @Test func aMissingKeyringBesideChainsIsNeverRecreated() async throws {
        let vault = try await vaultWithAChain()
        defer { try? FileManager.default.removeItem(atPath: vault.directory) }
        let path = vault.directory + "/keyring.json"
        await #expect(throws: ChainError.keyringMissing(path: path, indexedChains: 1, chunks: 5, keyIds: [vault.keyId])) {
            _ = try await Keyring.openOrCreate(path: path, index: vault.index, store: vault.store, random: systemRandom, now: 1)
        }
        await #expect(throws: ChainError.keyringMissing(path: path, indexedChains: 1, chunks: 0, keyIds: [vault.keyId])) {
            _ = try await Keyring.open(path: path, index: vault.index)
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func chunksWithoutAnIndexAlsoKeepTheKeyringFromBeingMade() async throws {
        let vault = try await vaultWithAChain()
        defer { try? FileManager.default.removeItem(atPath: vault.directory) }
        let emptyIndex = try ChainIndexDirectory(directory: vault.directory + "/other-index")
        let path = vault.directory + "/keyring.json"
        await #expect(throws: ChainError.keyringMissing(path: path, indexedChains: 0, chunks: 5, keyIds: [])) {
            _ = try await Keyring.openOrCreate(path: path, index: emptyIndex, store: vault.store, random: systemRandom, now: 1)
        }
    }

    @Test func anEmptyVaultGetsAKeyringOnceAndKeepsIt() async throws {
        let directory = temporaryPath("cv-newvault")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let index = try ChainIndexDirectory(directory: directory + "/chains")
        let path = directory + "/keyring.json"
        var made: [String] = []
        let first = try await Keyring.openOrCreate(path: path, index: index, store: MemoryChunkStore(), random: systemRandom, now: 1) {
            made.append($0.idHex)
        }
        let second = try await Keyring.openOrCreate(path: path, index: index, store: MemoryChunkStore(), random: systemRandom, now: 2) {
            made.append($0.idHex)
        }
        #expect(made == [first.active.idHex] && second.activeId == first.activeId)
    }
}

@Suite struct LocalChunkStoreTests {
    @Test func chainsAreFsyncedPlainFilesInTwoBuckets() async throws {
        let root = temporaryPath("cv-chain")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = LocalChunkStore(store: try BucketStore(root: root))
        try await store.createBuckets(owner: "chainvault", now: 0)
        try await store.createBuckets(owner: "chainvault", now: 0)
        let random = SeededRandom(seed: 11)
        let keyring = Keyring.generate(random: random.source, now: 0)
        let writer = ChainWriter(store: store, keyring: keyring, chunkSize: 1000, random: random.source)
        let data = report(10_500)
        let head = try await writer.write(BytesSource(data))
        #expect(head.chunkCount == 11)
        var output: [UInt8] = []
        let summary = try await ChainReader(store: store).read(head: head.pointer, keyring: keyring) { output += $0 }
        #expect(output == data)
        let a = try await store.list(bucket: .a)
        let b = try await store.list(bucket: .b)
        #expect(a.count + b.count == 11 && !a.isEmpty && !b.isEmpty)
        for chunk in summary.chunks {
            let path = root + "/" + (chunk.pointer.bucket == .a ? "reports-a" : "reports-b") + "/" + chunk.pointer.key
            #expect(FileManager.default.fileExists(atPath: path))
        }
        #expect(try await store.get(key: String(repeating: "0", count: 64), bucket: .a) == nil)
        #expect(try await store.head(key: head.pointer.key, bucket: head.pointer.bucket))
    }
}
