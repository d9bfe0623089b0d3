import DurableFiles
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The access keys, kept in `<data>/.chainvault/credentials.json` (mode 0600).
///
/// The server reads the file at start and again when it changed, so keys added with `chainvault
/// credentials add` work without a restart (and removed ones stop working). Whether it changed is
/// asked at most once a second (one `stat`), not on every request.
public final class CredentialStore: Sendable {
    struct File: Codable {
        var keys: [AccessKey]
    }

    /// Where the keys are stored.
    public let path: String
    /// A root pair given in the environment, which takes the place of the stored root key.
    private let rootOverride: AccessKey?
    /// The stored keys by id (without stored root keys when there is a root override), read again
    /// when the file changed.
    private let stored: WatchedFile<[String: AccessKey]>

    /// Opens the credential file inside `configDirectory`.
    /// - Parameters:
    ///   - configDirectory: The data root's config folder.
    ///   - rootOverride: The root key from `CHAINVAULT_ACCESS_KEY` / `CHAINVAULT_SECRET_KEY`, if set.
    ///   - recheckInterval: How long the keys read are used before the file is looked at again.
    public init(configDirectory: String, rootOverride: AccessKey? = nil, recheckInterval: Duration = .seconds(1)) {
        self.path = configDirectory + "/credentials.json"
        self.rootOverride = rootOverride
        self.stored = WatchedFile(path: path, recheckInterval: recheckInterval) { path in
            var map: [String: AccessKey] = [:]
            // With a root override, stored root keys are not valid; an unreadable file holds no key.
            for key in (try? Self.storedKeys(path: path)) ?? [] where !(rootOverride != nil && key.isRoot) { map[key.accessKeyId] = key }
            return map
        }
    }

    /// The stored keys (the root override not included).
    public func storedKeys() throws -> [AccessKey] { try Self.storedKeys(path: path) }

    static func storedKeys(path: String) throws -> [AccessKey] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try JSONDecoder().decode(File.self, from: data).keys
    }

    /// The root key in force: the override, else the stored one.
    public func rootKey() throws -> AccessKey? {
        try rootOverride ?? storedKeys().first(where: \.isRoot)
    }

    /// Makes sure a root key exists, generating and storing one on first start.
    /// - Returns: The generated key, or nil when one already existed (or the environment sets it).
    public func ensureRootKey() throws -> AccessKey? {
        if rootOverride != nil { return nil }
        var keys = try storedKeys()
        if keys.contains(where: \.isRoot) { return nil }
        var generator = SystemRandomNumberGenerator()
        let root = AccessKey.generate(isRoot: true, using: &generator)
        keys.insert(root, at: 0)
        try save(keys)
        return root
    }

    /// Adds a non-root key.
    public func add(readOnly: Bool, buckets: [String]) throws -> AccessKey {
        var generator = SystemRandomNumberGenerator()
        let key = AccessKey.generate(isRoot: false, readOnly: readOnly, buckets: buckets, using: &generator)
        try save(try storedKeys() + [key])
        return key
    }

    /// Writes the key file atomically with mode 0600.
    func save(_ keys: [AccessKey]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try DurableFile.replace(path, bytes: Array(try encoder.encode(File(keys: keys))), mode: 0o600)
        stored.invalidate()
    }

    /// Looks up a key by id, rereading the file when it changed since it was last read (looked at
    /// most once per recheck interval).
    public func key(for accessKeyId: String) -> AccessKey? {
        if let override = rootOverride, override.accessKeyId == accessKeyId { return override }
        return (try? stored.value())?[accessKeyId]
    }
}
