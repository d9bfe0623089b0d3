import DurableFiles
import Foundation
import Hex
import NIOPosix

/// One chain the vault knows: where its head is and its data key as last wrapped.
public struct ChainIndexEntry: Sendable, Equatable {
    public var head: ChunkPointer
    public var chainId: [UInt8]
    public var chunkCount: Int
    public var length: Int64
    /// Every chunk is in both buckets.
    public var mirrored: Bool
    /// Seconds since 1970 when the chain was written or indexed.
    public var created: Int64
    /// The data key under the master key that wrapped it last (a rotation re-wraps it here, not in the head).
    public var wrappedKey: WrappedDataKey

    public init(head: ChainHead, mirrored: Bool, created: Int64) {
        self.head = head.pointer
        self.chainId = head.chainId
        self.chunkCount = head.chunkCount
        self.length = head.length
        self.mirrored = mirrored
        self.created = created
        self.wrappedKey = head.wrappedKey
    }

    public init(
        head: ChunkPointer, chainId: [UInt8], chunkCount: Int, length: Int64, mirrored: Bool, created: Int64,
        wrappedKey: WrappedDataKey
    ) {
        self.head = head
        self.chainId = chainId
        self.chunkCount = chunkCount
        self.length = length
        self.mirrored = mirrored
        self.created = created
        self.wrappedKey = wrappedKey
    }
}

/// The chains a vault knows, by head: where each chain starts, whether it is mirrored, and its data key
/// as last wrapped (a key rotation re-wraps it here, not in the head chunk). Read by downloads (the
/// re-wrapped key), `chain verify --all`, `chain orphans` (what is not reached is an orphan) and
/// `keys rotate`/`rewrap`. One vault alone keeps it in a directory of its data root
/// (``ChainIndexDirectory``); instances sharing a hospital keep it in the hospital's database.
///
/// An index holds no plaintext digest and no key material but data keys wrapped by a master key, and can
/// always be rebuilt from the buckets with the master keys (``ChainMaintenance/rebuildIndex(keyring:now:)``).
public protocol ChainIndex: Sendable {
    /// Adds or replaces the entry of a chain, durably.
    func put(_ entry: ChainIndexEntry) async throws
    /// The entry of the chain with this head, or nil.
    func entry(head: ChunkPointer) async throws -> ChainIndexEntry?
    /// Every entry, in head-key order.
    func all() async throws -> [ChainIndexEntry]
    /// Forgets a chain (its chunks stay; they become orphans).
    func remove(head: ChunkPointer) async throws
}

/// The chain index of one vault: one small JSON record per chain in a directory (by default
/// `<data>/.chainvault/chains/`), named by the head's hash, each replaced atomically and fsynced. Its
/// file calls run on NIO's thread pool, off the cooperative one.
public struct ChainIndexDirectory: ChainIndex {
    public let directory: String

    /// Opens the index, creating its directory (mode 0700) when missing.
    public init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    /// On-disk form: hex and base64 strings, readable by an operator.
    struct Record: Codable {
        var head: String
        var chainId: String
        var chunkCount: Int
        var length: Int64
        var mirrored: Bool
        var created: Int64
        var keyId: String
        var wrapNonce: String
        var wrappedKey: String
    }

    func path(_ head: ChunkPointer) -> String { "\(directory)/\(head.key).json" }

    public func put(_ entry: ChainIndexEntry) async throws {
        let record = Record(
            head: entry.head.description,
            chainId: Hex.encode(entry.chainId),
            chunkCount: entry.chunkCount,
            length: entry.length,
            mirrored: entry.mirrored,
            created: entry.created,
            keyId: Hex.encode(entry.wrappedKey.keyId),
            wrapNonce: Data(entry.wrappedKey.nonce).base64EncodedString(),
            wrappedKey: Data(entry.wrappedKey.sealed).base64EncodedString()
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let (path, bytes) = (path(entry.head), Array(try encoder.encode(record)))
        try await NIOThreadPool.singleton.runIfActive { try DurableFile.replace(path, bytes: bytes, mode: 0o600) }
    }

    public func entry(head: ChunkPointer) async throws -> ChainIndexEntry? {
        let path = path(head)
        guard let bytes = try await NIOThreadPool.singleton.runIfActive({ try DurableFile.read(path, limit: 64 * 1024) }) else {
            return nil
        }
        return try decode(bytes, name: "\(head.key).json")
    }

    public func all() async throws -> [ChainIndexEntry] {
        let directory = directory
        let records = try await NIOThreadPool.singleton.runIfActive {
            let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".json") }.sorted()
            return try names.compactMap { name in
                try DurableFile.read("\(directory)/\(name)", limit: 64 * 1024).map { (name, $0) }
            }
        }
        return try records.map { try decode($0.1, name: $0.0) }
    }

    public func remove(head: ChunkPointer) async throws {
        let path = path(head)
        try await NIOThreadPool.singleton.runIfActive { try DurableFile.remove(path) }
    }

    func decode(_ bytes: [UInt8], name: String) throws -> ChainIndexEntry {
        let record = try JSONDecoder().decode(Record.self, from: Data(bytes))
        guard let head = ChunkPointer(record.head), let chainId = Hex.decode(record.chainId), let keyId = Hex.decode(record.keyId),
            let nonce = Data(base64Encoded: record.wrapNonce), let sealed = Data(base64Encoded: record.wrappedKey)
        else { throw ChainError.store("index record \(directory)/\(name) is malformed") }
        return ChainIndexEntry(
            head: head,
            chainId: Array(chainId),
            chunkCount: record.chunkCount,
            length: record.length,
            mirrored: record.mirrored,
            created: record.created,
            wrappedKey: WrappedDataKey(keyId: Array(keyId), nonce: Array(nonce), sealed: Array(sealed))
        )
    }
}
