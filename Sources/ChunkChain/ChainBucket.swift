import Foundation
import Hex

/// One of the two buckets a chain spreads over.
public enum ChainBucket: UInt8, Sendable, CaseIterable, Codable, CustomStringConvertible {
    case a = 0
    case b = 1

    public var description: String { self == .a ? "A" : "B" }

    var other: ChainBucket { self == .a ? .b : .a }

    /// Keys under this prefix are not chunks (a chunk's key is 64 hex digits): the hospital keeps the
    /// audit ledger's latest signed checkpoint in both buckets under it, and where the chains' index is
    /// (``chainIndexMarkerKey``). `chain orphans` and `chain rebuild-index` skip them.
    public static let reservedPrefix = "chainvault-audit-"

    /// The audit ledger's latest signed checkpoint (a C2SP signed note), in each bucket. A top-level key,
    /// so that a local store makes its name durable with the bucket's own directory.
    public static let auditCheckpointKey = reservedPrefix + "checkpoint"

    /// Present in both buckets when the chains' index is not in a data root but in a hospital database
    /// that several instances share (its text: ``sharedIndexMarker``): a command that reads a data root's
    /// index would see every chain as unindexed and every chunk as an orphan.
    public static let chainIndexMarkerKey = reservedPrefix + "chain-index"

    /// The marker's text.
    public static let sharedIndexMarker = "database\n"

    /// Whether either bucket says that the chains' index is in a shared database.
    public static func indexIsShared(in store: any ChunkStore) async throws -> Bool {
        for bucket in allCases {
            if let bytes = try await store.get(key: chainIndexMarkerKey, bucket: bucket), bytes == Array(sharedIndexMarker.utf8) {
                return true
            }
        }
        return false
    }

    /// Marks both buckets as those of a hospital whose chain index is in a shared database (once).
    public static func markIndexShared(in store: any ChunkStore) async throws {
        let marker = Array(sharedIndexMarker.utf8)
        for bucket in allCases where try await store.get(key: chainIndexMarkerKey, bucket: bucket) != marker {
            try await store.put(marker, key: chainIndexMarkerKey, bucket: bucket)
        }
        try await store.sync()
    }
}

/// Where a chunk is: its bucket and the SHA-256 of its stored bytes (its object key is the hex of it).
public struct ChunkPointer: Sendable, Hashable, Codable, CustomStringConvertible {
    public var bucket: ChainBucket
    public var hash: [UInt8]

    public init(bucket: ChainBucket, hash: [UInt8]) {
        self.bucket = bucket
        self.hash = hash
    }

    /// The object key: lowercase hex SHA-256.
    public var key: String { Hex.encode(hash) }

    public var description: String { "\(bucket):\(key)" }

    /// Parses `A:<64 hex>` or `B:<64 hex>`.
    public init?(_ text: String) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let bucket = parts[0] == "A" ? ChainBucket.a : parts[0] == "B" ? .b : nil,
            parts[1].utf8.count == 64, let bytes = Hex.decode(parts[1])
        else { return nil }
        self.init(bucket: bucket, hash: Array(bytes))
    }
}
