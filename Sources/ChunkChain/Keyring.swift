public import Crypto
import DurableFiles
import Foundation
import Hex

/// A report's data key sealed under a master key: AES-256-GCM, associated data chain id ‖ key id.
public struct WrappedDataKey: Sendable, Equatable {
    /// The id of the master key that sealed it.
    public var keyId: [UInt8]
    /// 12 random bytes.
    public var nonce: [UInt8]
    /// The 32-byte key's ciphertext and the 16-byte tag.
    public var sealed: [UInt8]

    public init(keyId: [UInt8], nonce: [UInt8], sealed: [UInt8]) {
        self.keyId = keyId
        self.nonce = nonce
        self.sealed = sealed
    }
}

/// A master key: an 8-byte id and a 256-bit AES key. Master keys only wrap per-report data keys.
public struct MasterKey: Sendable, CustomStringConvertible {
    public let id: [UInt8]
    let key: SymmetricKey
    /// Creation time, seconds since 1970.
    public let created: Int64

    public var idHex: String { Hex.encode(id) }
    public var description: String { "MasterKey(\(idHex), redacted)" }

    public init(id: [UInt8], keyBytes: [UInt8], created: Int64) {
        self.id = id
        self.key = SymmetricKey(data: keyBytes)
        self.created = created
    }
}

/// The master keys: one active key that wraps new data keys, older keys kept to unwrap old ones.
///
/// Stored as JSON in `<data>/.chainvault/keyring.json` (mode 0600), or where `CHAINVAULT_MASTER_KEY_FILE` points.
public struct Keyring: Sendable {
    public private(set) var keys: [MasterKey]
    public private(set) var activeId: [UInt8]

    struct File: Codable {
        struct Entry: Codable {
            var id: String
            var key: String
            var created: Int64
        }
        var active: String
        var keys: [Entry]
    }

    /// A keyring with one fresh key from `random`.
    public static func generate(random: @Sendable (Int) -> [UInt8], now: Int64) -> Keyring {
        let key = MasterKey(id: random(8), keyBytes: random(32), created: now)
        return Keyring(keys: [key], activeId: key.id)
    }

    /// The key that wraps new data keys.
    public var active: MasterKey { keys.first { $0.id == activeId }! }

    /// The key with this id.
    /// - Throws: ``ChainError/unknownKeyId(_:)``.
    public func key(id: [UInt8]) throws(ChainError) -> MasterKey {
        guard let key = keys.first(where: { $0.id == id }) else {
            throw .unknownKeyId(Hex.encode(id))
        }
        return key
    }

    /// Adds a fresh key and makes it the active one; older keys stay for unwrapping.
    public mutating func rotate(random: @Sendable (Int) -> [UInt8], now: Int64) -> MasterKey {
        let key = MasterKey(id: random(8), keyBytes: random(32), created: now)
        keys.append(key)
        activeId = key.id
        return key
    }

    /// Wraps a report's data key under the active master key, bound to the chain id and the key id.
    public func wrap(dataKey: SymmetricKey, chainId: [UInt8], random: @Sendable (Int) -> [UInt8]) throws -> WrappedDataKey {
        let master = active
        let nonce = random(12)
        let sealed = try AES.GCM.seal(
            dataKey.withUnsafeBytes { Array($0) },
            using: master.key,
            nonce: try AES.GCM.Nonce(data: nonce),
            authenticating: chainId + master.id
        )
        return WrappedDataKey(keyId: master.id, nonce: nonce, sealed: Array(sealed.ciphertext) + Array(sealed.tag))
    }

    /// Unwraps a report's data key.
    /// - Throws: ``ChainError/unknownKeyId(_:)`` when no key has its id, ``ChainError/wrongMasterKey(_:)``
    ///   when the key with that id does not open it.
    public func unwrap(_ wrapped: WrappedDataKey, chainId: [UInt8]) throws(ChainError) -> SymmetricKey {
        let master = try key(id: wrapped.keyId)
        guard
            let bytes = ChainReader.open(
                sealed: wrapped.sealed[...], using: master.key, nonce: wrapped.nonce, authenticating: (chainId + wrapped.keyId)[...]),
            bytes.count == 32
        else { throw .wrongMasterKey(master.idHex) }
        return SymmetricKey(data: bytes)
    }

    /// Reads a keyring file; nil when there is none.
    /// - Throws: ``ChainError/keyring(_:)`` when the file is unreadable or malformed.
    public static func load(path: String) throws(ChainError) -> Keyring? {
        do {
            guard let bytes = try DurableFile.read(path) else { return nil }
            let file = try JSONDecoder().decode(File.self, from: Data(bytes))
            let keys = try file.keys.map { entry in
                guard let id = Hex.decode(entry.id), id.count == 8, let bytes = Data(base64Encoded: entry.key), bytes.count == 32 else {
                    throw ChainError.keyring("an entry of \(path) is not an 8-byte id with a 32-byte key")
                }
                return MasterKey(id: Array(id), keyBytes: Array(bytes), created: entry.created)
            }
            guard let active = Hex.decode(file.active), keys.contains(where: { $0.id == Array(active) }) else {
                throw ChainError.keyring("the active key of \(path) is not in the keyring")
            }
            return Keyring(keys: keys, activeId: Array(active))
        } catch let error as ChainError {
            throw error
        } catch {
            throw .keyring("\(path) cannot be read", cause: .init(error))
        }
    }

    /// Writes the keyring atomically with mode 0600.
    public func save(path: String) throws(ChainError) {
        let file = File(
            active: Hex.encode(activeId),
            keys: keys.map { key in
                File.Entry(id: key.idHex, key: key.key.withUnsafeBytes { Data($0).base64EncodedString() }, created: key.created)
            }
        )
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try DurableFile.replace(path, bytes: Array(try encoder.encode(file)), mode: 0o600)
        } catch {
            throw .keyring("\(path) cannot be written", cause: .init(error))
        }
    }

    /// The keyring at `path`, which must exist.
    /// - Throws: ``ChainError/keyringMissing(path:indexedChains:chunks:keyIds:)`` when there is no file,
    ///   ``ChainError/keyring(_:)`` when it is unreadable or malformed.
    public static func open(path: String) throws -> Keyring {
        guard let keyring = try load(path: path) else {
            throw ChainError.keyringMissing(path: path, indexedChains: 0, chunks: 0, keyIds: [])
        }
        return keyring
    }

    /// The keyring at `path`, which must exist; a missing one's error names the key ids `index`'s chains need.
    public static func open(path: String, index: any ChainIndex) async throws -> Keyring {
        guard let keyring = try load(path: path) else {
            let entries = try await index.all()
            throw ChainError.keyringMissing(
                path: path, indexedChains: entries.count, chunks: 0, keyIds: Set(entries.map { Hex.encode($0.wrappedKey.keyId) }).sorted())
        }
        return keyring
    }

    /// The keyring at `path`; when there is none, a new one is generated and saved, but only for a vault
    /// with no chains: no index entry and no object in either bucket.
    ///
    /// - Important: Fails closed. A missing keyring beside existing chains is a restore that forgot it
    ///   or a wrong path; a fresh key would wrap new reports under a stray key.
    /// - Parameter created: Called when a new keyring was written (to tell the operator).
    /// - Throws: ``ChainError/keyringMissing(path:indexedChains:chunks:keyIds:)`` naming the key ids the indexed
    ///   chains need; ``ChainError/keyring(_:)``; the store's and index's errors.
    public static func openOrCreate(
        path: String, index: any ChainIndex, store: any ChunkStore, random: @Sendable (Int) -> [UInt8], now: Int64,
        created: (MasterKey) -> Void = { _ in }
    ) async throws -> Keyring {
        if let keyring = try load(path: path) { return keyring }
        let entries = try await index.all()
        var objects = 0
        for bucket in ChainBucket.allCases { objects += try await store.list(bucket: bucket).count }
        guard entries.isEmpty, objects == 0 else {
            let keyIds = Set(entries.map { Hex.encode($0.wrappedKey.keyId) }).sorted()
            throw ChainError.keyringMissing(path: path, indexedChains: entries.count, chunks: objects, keyIds: keyIds)
        }
        let keyring = generate(random: random, now: now)
        try keyring.save(path: path)
        created(keyring.active)
        return keyring
    }
}

/// Randomness from the system CSPRNG, the default everywhere outside tests.
public let systemRandom: @Sendable (Int) -> [UInt8] = { count in
    var generator = SystemRandomNumberGenerator()
    return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
}
