import NIOCore
import Testing

@testable import BucketStore

/// Large GETs read into pooled chunk blocks: a freed block is handed out again (no new mapping to
/// fault in), the idle pool is bounded, and other sizes are not pooled.
@Suite struct ChunkBuffersTests {
    let pool = ChunkBuffers(blockSize: 4096, maxIdle: 4)

    @Test func aFreedBlockIsHandedOutAgain() throws {
        let first = try #require(pool.allocate(100))
        first.storeBytes(of: 1, as: UInt8.self)
        pool.deallocate(first)
        #expect(pool.idleCount == 1)
        let second = try #require(pool.allocate(4096))
        #expect(second == first)
        #expect(pool.idleCount == 0)
        pool.deallocate(second)
    }

    @Test func theIdlePoolIsBounded() throws {
        let blocks = try (0..<10).map { _ in try #require(pool.allocate(4096)) }
        #expect(Set(blocks).count == 10)
        for block in blocks { pool.deallocate(block) }
        #expect(pool.idleCount == 4)
    }

    @Test func largerAllocationsAreNotPooled() throws {
        let large = try #require(pool.allocate(4097))
        large.storeBytes(of: 7, toByteOffset: 4096, as: UInt8.self)
        pool.deallocate(large)
        #expect(pool.idleCount == 0)
    }

    @Test func growingKeepsTheBytes() throws {
        let block = try #require(pool.allocate(16))
        for offset in 0..<4096 { block.storeBytes(of: UInt8(truncatingIfNeeded: offset), toByteOffset: offset, as: UInt8.self) }
        #expect(pool.reallocate(block, to: 4000) == block)
        let grown = try #require(pool.reallocate(block, to: 3 * 4096))
        #expect((0..<4096).allSatisfy { grown.load(fromByteOffset: $0, as: UInt8.self) == UInt8(truncatingIfNeeded: $0) })
        #expect(pool.idleCount == 1)
        pool.deallocate(grown)
    }

    /// The shared allocator is what chunked object reads use: ByteBuffers work on it as on any other.
    @Test func byteBuffersOnTheSharedAllocator() {
        var buffer = ChunkBuffers.allocator.buffer(capacity: 1000)
        buffer.writeBytes(Array(0..<255 as Range<UInt8>))
        buffer.writeRepeatingByte(9, count: 300_000)
        #expect(buffer.getBytes(at: 0, length: 255) == Array(0..<255 as Range<UInt8>))
        #expect(buffer.readableBytes == 300_255)
    }

    /// A reader takes a credit per chunk and gets it back when the chunk's storage is freed (the
    /// socket wrote it): with two out, the next read waits.
    @Test func creditsComeBackWhenChunksAreFreed() async throws {
        let credits = ChunkCredits(limit: 2)
        await credits.acquire()
        var first: ByteBuffer? = ChunkBuffers.allocator.buffer(capacity: 1024)
        ChunkBuffers.attach(credits, to: first!)
        await credits.acquire()
        #expect(credits.out == 2)
        let third = Task { await credits.acquire() }
        // The third read cannot go on until a chunk is freed; nothing here frees one but the line below.
        first = nil
        await third.value
        #expect(credits.out == 2)
        credits.release()
        credits.release()
        #expect(credits.out == 0)
        #expect(first == nil)
    }

    /// Freeing a chunk with credits attached releases exactly one, also from a pooled block.
    @Test func aFreedChunkReleasesOneCredit() async {
        let credits = ChunkCredits(limit: 4)
        for _ in 0..<3 {
            await credits.acquire()
            let chunk = ChunkBuffers.allocator.buffer(capacity: ChunkBuffers.shared.blockSize)
            ChunkBuffers.attach(credits, to: chunk)
        }
        #expect(credits.out == 0)
        // A block handed out again carries no credits of its previous reader.
        do {
            let reused = ChunkBuffers.allocator.buffer(capacity: ChunkBuffers.shared.blockSize)
            _ = reused
        }
        #expect(credits.out == 0, "no credit was given back twice")
    }
}
