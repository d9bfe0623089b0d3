package import ChunkChain
package import Foundation
import Metrics
package import NIOCore
import NIOPosix

/// Report bytes as chunk chains: an upload is spooled (encrypted) to a temporary file, written as a
/// chain over the two report buckets and indexed, so that `chainvault chain verify --all`, `keys rotate`
/// and `chain orphans` see hospital reports like any other chain. The database keeps only the head.
package struct ReportVault: Sendable {
    let store: any ChunkStore
    /// The master keys, read again for every report: `chainvault keys rotate` may run beside the server.
    let keyring: @Sendable () async throws -> Keyring
    let index: (any ChainIndex)?
    let spoolDirectory: String
    let chunkSize: Int
    let mirror: Bool
    let random: @Sendable (Int) -> [UInt8]
    let clock: @Sendable () -> Int64
    /// Bytes of chunks a download reads ahead of the one being sent.
    let readAhead: Int

    /// One chunk of the default size: a download holds the chunk being sent and at most one more, however
    /// slowly its client reads (64 slow readers must not hold 8 MiB each).
    package static let defaultReadAhead = ChainWriter.defaultChunkSize

    /// - Parameters:
    ///   - index: The chain index to record every report's chain in; nil keeps none (tests).
    ///   - spoolDirectory: Where uploads are spooled, encrypted, while their chain is written.
    package init(
        store: any ChunkStore, keyring: @escaping @Sendable () async throws -> Keyring, index: (any ChainIndex)?, spoolDirectory: String,
        chunkSize: Int = ChainWriter.defaultChunkSize, mirror: Bool = false, random: @escaping @Sendable (Int) -> [UInt8] = systemRandom,
        readAhead: Int = defaultReadAhead, clock: @escaping @Sendable () -> Int64
    ) {
        self.readAhead = readAhead
        self.store = store
        self.keyring = keyring
        self.index = index
        self.spoolDirectory = spoolDirectory
        self.chunkSize = chunkSize
        self.mirror = mirror
        self.random = random
        self.clock = clock
    }

    /// Writes `body` as a chain and indexes it; returns once every chunk is durable.
    /// - Throws: ``SpoolError/tooLarge(limit:)`` beyond `limit` bytes (nothing is written then).
    package func write<Body: AsyncSequence>(_ body: Body, limit: Int64) async throws -> ChainHead where Body.Element == ByteBuffer {
        do {
            let head = try await store(body, limit: limit)
            Counter(label: "chainvault_chain_writes_total", dimensions: [("outcome", "success")]).increment()
            return head
        } catch {
            Counter(label: "chainvault_chain_writes_total", dimensions: [("outcome", "failure")]).increment()
            throw error
        }
    }

    func store<Body: AsyncSequence>(_ body: Body, limit: Int64) async throws -> ChainHead where Body.Element == ByteBuffer {
        try FileManager.default.createDirectory(
            atPath: spoolDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let writer = ChainWriter(store: store, keyring: try await keyring(), chunkSize: chunkSize, mirror: mirror, random: random)
        let spooled = try await SpooledReport.spool(body, in: spoolDirectory, blockSize: chunkSize, limit: limit)
        let head: ChainHead
        do {
            head = try await writer.write(spooled)
        } catch {
            await spooled.close()
            throw error
        }
        await spooled.close()
        if let index {
            // A write, fsync and rename: on NIO's thread pool, not Swift's cooperative one.
            let entry = ChainIndexEntry(head: head, mirrored: mirror, created: clock())
            try await index.put(entry)
        }
        return head
    }

    /// Checks that the chain's head chunk is there and intact, before a download commits to 200.
    /// - Throws: ``ChainError`` for a missing or damaged head.
    package func checkHead(_ head: ChunkPointer) async throws {
        let entry = try await indexEntry(head)
        try await ChainReader(store: store).checkHead(head, mirrored: entry?.mirrored ?? mirror)
    }

    /// Reads the chain at `head`, handing each authenticated piece of plaintext to `consume`.
    /// - Throws: ``ChainError`` naming what is wrong; nothing of a bad chunk is handed out.
    package func read(head: ChunkPointer, consume: (Data) async throws -> Void) async throws {
        do {
            let entry = try await indexEntry(head)
            _ = try await ChainReader(store: store, readAhead: readAhead).read(
                head: head, keyring: try await keyring(), wrappedKey: entry?.wrappedKey, mirrored: entry?.mirrored ?? mirror,
                consume: consume)
            Counter(label: "chainvault_chain_reads_total", dimensions: [("outcome", "success")]).increment()
        } catch let error as ChainError {
            // The chain itself is damaged: what verification would report.
            Counter(label: "chainvault_chain_reads_total", dimensions: [("outcome", "chain_error")]).increment()
            throw error
        } catch {
            Counter(label: "chainvault_chain_reads_total", dimensions: [("outcome", "failure")]).increment()
            throw error
        }
    }

    /// The chain index's record of `head`.
    func indexEntry(_ head: ChunkPointer) async throws -> ChainIndexEntry? {
        guard let index else { return nil }
        return try await index.entry(head: head)
    }
}
