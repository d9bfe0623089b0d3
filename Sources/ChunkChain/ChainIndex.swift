import DurableFiles
import Foundation
import Hex

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

    init(
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

/// The chains this vault knows: one small JSON record per chain in a directory (by default
/// `<data>/.chainvault/chains/`), named by the head's hash, each replaced atomically and fsynced.
///
/// The index holds no plaintext digest and no key material but data keys wrapped by a master key.
/// It can always be rebuilt from the buckets with the master keys (``ChainMaintenance/rebuildIndex(into:now:)``).
public struct ChainIndex: Sendable {
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

    /// Adds or replaces the entry of a chain, durably.
    public func put(_ entry: ChainIndexEntry) throws {
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
        try DurableFile.replace(path(entry.head), bytes: Array(try encoder.encode(record)), mode: 0o600)
    }

    /// The entry of the chain with this head, or nil.
    public func entry(head: ChunkPointer) throws -> ChainIndexEntry? {
        guard let bytes = try DurableFile.read(path(head), limit: 64 * 1024) else { return nil }
        return try decode(bytes, name: "\(head.key).json")
    }

    /// Every entry, in head-key order.
    public func all() throws -> [ChainIndexEntry] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".json") }.sorted()
        return try names.compactMap { name in
            guard let bytes = try DurableFile.read("\(directory)/\(name)", limit: 64 * 1024) else { return nil }
            return try decode(bytes, name: name)
        }
    }

    /// Forgets a chain (its chunks stay; they become orphans).
    public func remove(head: ChunkPointer) throws {
        try DurableFile.remove(path(head))
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
