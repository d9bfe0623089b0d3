import BucketStore
import ChunkChainTesting
import Foundation
import NIOCore
import TestSupport
import Testing

@testable import ChunkChain

/// A memory store whose stages take a random while (so concurrent stages finish out of order) and that
/// records, at every put, whether the chunk the new one points to was already there.
actor OrderCheckingStore: ChunkStore {
    let inner = MemoryChunkStore()
    private(set) var puts = 0
    private(set) var danglingPuts: [String] = []
    private(set) var stagesAtOnce = 0
    private var staging = 0
    /// Fail the stage of this many-th chunk (1-based), if set.
    var failingStage: Int?
    private var stages = 0

    init(failingStage: Int? = nil) { self.failingStage = failingStage }

    func stage(_ bytes: [UInt8], key: String, bucket: ChainBucket) async throws -> StagedChunk {
        stages += 1
        if stages == failingStage { throw ChainError.store("stage \(stages) fails") }
        staging += 1
        stagesAtOnce = max(stagesAtOnce, staging)
        try await Task.sleep(for: .milliseconds(Int.random(in: 0...3)))
        staging -= 1
        return StagedChunk(key: key, bucket: bucket, content: .bytes(bytes))
    }

    func put(_ bytes: [UInt8], key: String, bucket: ChainBucket) async throws {
        let header = try ChunkHeader.parse(bytes[...], position: 0)
        if let next = header.next, try await !inner.head(key: next.key, bucket: next.bucket) {
            danglingPuts.append(key)
        }
        puts += 1
        try await inner.put(bytes, key: key, bucket: bucket)
    }

    func sync() async throws {}
    func get(key: String, bucket: ChainBucket) async throws -> [UInt8]? { try await inner.get(key: key, bucket: bucket) }
    func prefix(key: String, bucket: ChainBucket, count: Int) async throws -> [UInt8]? {
        try await inner.prefix(key: key, bucket: bucket, count: count)
    }
    func head(key: String, bucket: ChainBucket) async throws -> Bool { try await inner.head(key: key, bucket: bucket) }
    func delete(key: String, bucket: ChainBucket) async throws { try await inner.delete(key: key, bucket: bucket) }
    func list(bucket: ChainBucket) async throws -> [ChunkListing] { try await inner.list(bucket: bucket) }
}

@Suite struct WritePipelineTests {
    @Test func chunksAreWrittenAtOnceButEachIsPublishedAfterTheOneItPointsTo() async throws {
        let store = OrderCheckingStore()
        let random = SeededRandom(seed: 7)
        let writer = ChainWriter(
            store: store, keyring: Keyring.generate(random: random.source, now: 0), chunkSize: 64, random: random.source)
        let head = try await writer.write(BytesSource(report(64 * 40 + 3)))
        #expect(await store.puts == 41)
        #expect(await store.danglingPuts.isEmpty, "no chunk appears before the chunk it points to")
        #expect(await store.stagesAtOnce > 1, "stages overlap")
        #expect(await store.stagesAtOnce <= ChainWriter.writesInFlight)
        var output: [UInt8] = []
        _ = try await ChainReader(store: store).read(head: head.pointer, keyring: writer.keyring) { output += $0 }
        #expect(output == report(64 * 40 + 3))
    }

    @Test func aFailedStagePublishesNothingAfterItAndLeavesNoTempFile() async throws {
        let store = OrderCheckingStore(failingStage: 5)
        let random = SeededRandom(seed: 8)
        let writer = ChainWriter(
            store: store, keyring: Keyring.generate(random: random.source, now: 0), chunkSize: 64, random: random.source)
        await #expect(throws: ChainError.store("stage 5 fails")) { try await writer.write(BytesSource(report(64 * 20))) }
        // Chunks 19...16 were staged before the failure; whatever was published precedes it in the chain.
        #expect(await store.puts <= 4)
        #expect(await store.danglingPuts.isEmpty)
    }

    @Test func localStagesThatFailAreRemoved() async throws {
        let root = temporaryPath("cv-stage")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let bucketStore = try BucketStore(root: root)
        let local = LocalChunkStore(store: bucketStore)
        try await local.createBuckets(owner: "test", now: 0)
        let staged = try await local.stage([1, 2, 3], key: "abc", bucket: .a)
        let temporary = root + "/.chainvault/tmp"
        #expect(try FileManager.default.contentsOfDirectory(atPath: temporary).count == 1)
        #expect(try await local.get(key: "abc", bucket: .a) == nil, "a staged chunk is not visible yet")
        await local.discard(staged)
        #expect(try FileManager.default.contentsOfDirectory(atPath: temporary).isEmpty)
        try await local.publish(try await local.stage([4, 5], key: "def", bucket: .b))
        #expect(try await local.get(key: "def", bucket: .b) == [4, 5])
        #expect(try FileManager.default.contentsOfDirectory(atPath: temporary).isEmpty)
    }
}

@Suite struct ReadAheadTests {
    @Test(arguments: [0, 100, 1 << 20])
    func anyReadAheadReadsTheSameChain(_ readAhead: Int) async throws {
        let fixture = Fixture()
        let head = try await fixture.writer.write(BytesSource(report(64 * 30)))
        var output: [UInt8] = []
        _ = try await ChainReader(store: fixture.store, readAhead: readAhead).read(head: head.pointer, keyring: fixture.keyring) {
            output += $0
        }
        #expect(output == report(64 * 30))
    }

    /// A damaged chunk read ahead is never used: the walk stops at it with the hash error, after handing
    /// out only the chunks before it.
    @Test func aDamagedChunkReadAheadStopsTheWalkThere() async throws {
        let fixture = Fixture()
        let head = try await fixture.writer.write(BytesSource(report(64 * 10)))
        let chunks = try await fixture.reader.verify(head: head.pointer).chunks
        let target = chunks[6].pointer
        var bytes = try #require(try await fixture.store.get(key: target.key, bucket: target.bucket))
        bytes[bytes.count - 20] ^= 1
        await fixture.store.replace(key: target.key, bucket: target.bucket, with: bytes)
        var released = 0
        await #expect(throws: ChainError.hashMismatch(index: 6, bucket: target.bucket, key: target.key)) {
            _ = try await fixture.reader.read(head: head.pointer, keyring: fixture.keyring) { released += $0.count }
        }
        #expect(released == 64 * 6)
    }
}

@Suite struct SpooledReportTests {
    func directory() throws -> String {
        let path = temporaryPath("cv-spool")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// `pieces` of the report as a body delivers them.
    func body(_ bytes: [UInt8], pieces: Int) -> AsyncStream<ByteBuffer> {
        AsyncStream { continuation in
            var rest = bytes[...]
            while !rest.isEmpty {
                continuation.yield(ByteBuffer(bytes: rest.prefix(pieces)))
                rest = rest.dropFirst(pieces)
            }
            continuation.finish()
        }
    }

    @Test(arguments: [0, 1, 99, 100, 101, 1000])
    func readsBackAnyRangeAndLeavesNoFile(_ size: Int) async throws {
        let folder = try directory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let spooled = try await SpooledReport.spool(body(report(size), pieces: 37), in: folder, blockSize: 100)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty, "the spool file has no name")
        #expect(spooled.length == Int64(size))
        #expect(try await spooled.read(offset: 0, count: size) == report(size))
        if size > 150 {
            #expect(try await spooled.read(offset: 95, count: 10) == Array(report(size)[95..<105]), "across a block boundary")
            #expect(try await spooled.read(offset: 200, count: 0) == [])
        }
        await spooled.close()
    }

    @Test func aChainWrittenFromASpoolReadsBack() async throws {
        let folder = try directory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let fixture = Fixture()
        let spooled = try await SpooledReport.spool(body(report(64 * 7 + 5), pieces: 1000), in: folder, blockSize: 64)
        let head = try await fixture.writer.write(spooled)
        await spooled.close()
        #expect(try await fixture.read(head.pointer) == report(64 * 7 + 5))
    }

    @Test func beyondTheLimitIsRefused() async throws {
        let folder = try directory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        await #expect(throws: SpoolError.tooLarge(limit: 500)) {
            _ = try await SpooledReport.spool(body(report(501), pieces: 64), in: folder, blockSize: 100, limit: 500)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
        let exact = try await SpooledReport.spool(body(report(500), pieces: 64), in: folder, blockSize: 100, limit: 500)
        #expect(exact.length == 500)
        await exact.close()
    }
}
