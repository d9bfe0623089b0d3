import ChunkChain
import Foundation
import TestSupport
import Testing

@testable import HospitalPostgres

/// The chain index's promise on each of its homes: a data root's directory, and the database that
/// instances share — entries kept whole, replaced by head, listed in head-key order, forgotten.
@Suite struct ChainIndexTests {
    enum Home: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case directory, postgres
        var testDescription: String { rawValue }
        static var available: [Home] { allCases.filter { $0 != .postgres || TestPostgres.url != nil } }

        func run(_ body: @escaping @Sendable (any ChainIndex) async throws -> Void) async throws {
            switch self {
            case .directory:
                let folder = temporaryPath("chain-index")
                defer { try? FileManager.default.removeItem(atPath: folder) }
                try await body(try ChainIndexDirectory(directory: folder))
            case .postgres:
                try await TestPostgres.withStorage { storage, _ in try await body(PostgresChainIndex(storage: storage)) }
            }
        }
    }

    static func entry(_ byte: UInt8, bucket: ChainBucket, keyId: UInt8 = 1) -> ChainIndexEntry {
        ChainIndexEntry(
            head: ChunkPointer(bucket: bucket, hash: [UInt8](repeating: byte, count: 32)), chainId: [UInt8](repeating: byte, count: 16),
            chunkCount: Int(byte), length: Int64(byte) * 1000, mirrored: byte % 2 == 0, created: 1_800_000_000 + Int64(byte),
            wrappedKey: WrappedDataKey(
                keyId: [UInt8](repeating: keyId, count: 8), nonce: [UInt8](repeating: 7, count: 12),
                sealed: [UInt8](repeating: byte, count: 48)))
    }

    @Test(arguments: Home.available) func entriesAreKeptReplacedListedAndForgotten(_ home: Home) async throws {
        try await home.run { index in
            let (first, second, third) = (Self.entry(0x30, bucket: .b), Self.entry(0x10, bucket: .a), Self.entry(0x20, bucket: .b))
            for entry in [first, second, third] { try await index.put(entry) }
            #expect(try await index.entry(head: first.head) == first)
            // Found by its head chunk's hash, whichever bucket is asked (a mirrored chain's head is in both).
            #expect(try await index.entry(head: ChunkPointer(bucket: .a, hash: first.head.hash)) == first)
            #expect(try await index.entry(head: ChunkPointer(bucket: .a, hash: [UInt8](repeating: 9, count: 32))) == nil)
            #expect(try await index.all() == [second, third, first])
            // A rotation re-wraps the key: the entry is replaced, not added.
            let rewrapped = Self.entry(0x20, bucket: .b, keyId: 2)
            try await index.put(rewrapped)
            #expect(try await index.all() == [second, rewrapped, first])
            try await index.remove(head: second.head)
            #expect(try await index.all() == [rewrapped, first])
        }
    }
}
