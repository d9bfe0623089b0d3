import ChunkChainTesting
import Foundation
import Hex
import TestSupport
import Testing

@testable import ChunkChain

/// Golden chains made with a fixed random source (SplitMix64, seed 2026) and 16-byte chunks. They pin
/// format v1 byte for byte: a change to any of them is a format change (docs/chunk-format.md).
/// Regenerate with `CHAINVAULT_REGENERATE_VECTORS=1 swift test --filter GoldenVectorTests` only together
/// with a new format version.
@Suite struct GoldenVectorTests {
    struct Vector: Codable, Equatable {
        struct Chunk: Codable, Equatable {
            var bucket: String
            var key: String
            var hex: String
        }
        var name: String
        var seed: UInt64
        var chunkSize: Int
        var masterKeyId: String
        var plaintextHex: String
        var head: String
        var chunks: [Chunk]
    }

    static let cases: [(String, Int)] = [
        ("empty", 0), ("one-byte", 1), ("one-chunk-of-two", 2), ("exactly-three-chunks", 48), ("three-chunks-and-one-byte", 49),
    ]

    static func make(_ name: String, size: Int) async throws -> Vector {
        let random = SeededRandom(seed: 2026)
        let keyring = Keyring.generate(random: random.source, now: 0)
        let store = MemoryChunkStore()
        let plaintext = report(size)
        let head = try await ChainWriter(store: store, keyring: keyring, chunkSize: 16, random: random.source).write(BytesSource(plaintext))
        let summary = try await ChainReader(store: store).verify(head: head.pointer)
        var chunks: [Vector.Chunk] = []
        for chunk in summary.chunks {
            let bytes = try #require(try await store.get(key: chunk.pointer.key, bucket: chunk.pointer.bucket))
            chunks.append(.init(bucket: chunk.pointer.bucket.description, key: chunk.pointer.key, hex: Hex.encode(bytes)))
        }
        return Vector(
            name: name,
            seed: 2026,
            chunkSize: 16,
            masterKeyId: keyring.active.idHex,
            plaintextHex: Hex.encode(plaintext),
            head: head.pointer.description,
            chunks: chunks
        )
    }

    static let directory = Bundle.module.resourceURL!.appendingPathComponent("Vectors")

    @Test(arguments: cases.map(\.0))
    func chainMatchesGoldenBytes(_ name: String) async throws {
        let size = Self.cases.first { $0.0 == name }!.1
        let made = try await Self.make(name, size: size)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        if ProcessInfo.processInfo.environment["CHAINVAULT_REGENERATE_VECTORS"] == "1" {
            let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors/\(name).json")
            try encoder.encode(made).write(to: source)
            return
        }
        let golden = try JSONDecoder().decode(Vector.self, from: Data(contentsOf: Self.directory.appendingPathComponent("\(name).json")))
        #expect(made == golden)
    }

    /// The golden files read back through a fresh store, independently of the writer.
    @Test(arguments: cases.map(\.0))
    func goldenChainsRead(_ name: String) async throws {
        let golden = try JSONDecoder().decode(Vector.self, from: Data(contentsOf: Self.directory.appendingPathComponent("\(name).json")))
        let store = MemoryChunkStore()
        for chunk in golden.chunks {
            try await store.put(try #require(Hex.decode(chunk.hex)), key: chunk.key, bucket: chunk.bucket == "A" ? .a : .b)
        }
        let keyring = Keyring.generate(random: SeededRandom(seed: golden.seed).source, now: 0)
        var output: [UInt8] = []
        _ = try await ChainReader(store: store).read(head: try #require(ChunkPointer(golden.head)), keyring: keyring) { output += $0 }
        #expect(Hex.encode(output) == golden.plaintextHex)
    }
}
