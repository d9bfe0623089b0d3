import Crypto
import Foundation
import Hex
public import Logging
import NIOConcurrencyHelpers
import NIOCore
public import NIOPosix
import _NIOFileSystem

/// Buckets as directories under one data root, objects as plain files at their key paths (every key S3
/// allows: those that cannot be a plain file path are kept under `.chainvault/keys/`, see ``ObjectKey``).
///
/// Layout of the data root:
///
/// ```
/// <root>/<bucket>/<key path>             the object's bytes, a plain file
/// <root>/.chainvault/buckets/<bucket>.json  owner and creation time
/// <root>/.chainvault/layout             the layout version of the data root (see ``layoutVersion``)
/// <root>/.chainvault/meta/<bucket>/<2 hex>/<sha256(key)>.json  layout 1's metadata records, still read
/// <root>/.chainvault/keys/<bucket>/<hex of the key>/object  keys that cannot be a plain file (``ObjectKey``)
/// <root>/.chainvault/tmp/                in-flight writes (same file system, so renames are atomic)
/// ```
///
/// An object's ETag, content type and user metadata live in the extended attribute
/// `user.chainvault.meta` of its file (``MetadataAttribute``), set before the file is renamed into
/// place. `docs/storage-layout.md` describes the layout and how it evolves.
///
/// A write streams into a temporary file, is fsynced, then renamed over the key and the directory is
/// fsynced: an acknowledged write survives power loss, a crash or a client that disconnects mid-body
/// leaves no partial object, and a reader sees the whole old or the whole new object.
public final class BucketStore: Sendable {
    /// The data root (absolute path).
    public let root: String
    /// The store's own folder inside the data root.
    public let systemPath: String
    let threadPool: NIOThreadPool
    let locks = KeyLocks()
    /// Keeps a bucket's deletion and the writes into it apart.
    let gate = BucketGate()
    /// Object metadata read before (``MetadataAttribute/Cache``).
    let metadataCache = MetadataAttribute.Cache()
    /// Owners of the buckets seen so far (a bucket's record never changes; deleting it forgets it).
    let owners = NIOLockedValueBox<[String: String?]>([:])
    let logger: Logger
    /// Bytes reserved by writes in flight (``reserveSpace(for:bucket:key:)``).
    let reserved = NIOLockedValueBox<Int64>(0)
    /// Bytes of the file system that writes of a known length must leave free (see ``ensureSpace(for:bucket:key:)``).
    public let freeSpaceReserve: Int64

    /// Opens (creating if needed) the store at `root`.
    /// - Parameters:
    ///   - root: The data root directory.
    ///   - freeSpaceReserve: Bytes a write of known length must leave free on the file system.
    ///   - threadPool: The pool that runs blocking file-system calls.
    /// - Throws: ``StorageError/io(operation:path:errno:)`` when the root cannot be created or read.
    public init(
        root: String, freeSpaceReserve: Int64 = 0, threadPool: NIOThreadPool = .singleton,
        logger: Logger = Logger(label: "chainvault.store")
    ) throws(StorageError) {
        self.freeSpaceReserve = freeSpaceReserve
        let absolute = root.hasPrefix("/") ? root : FileManager.default.currentDirectoryPath + "/" + root
        self.root = absolute.count > 1 && absolute.hasSuffix("/") ? String(absolute.dropLast()) : absolute
        self.systemPath = self.root + "/.chainvault"
        self.threadPool = threadPool
        self.logger = logger
        try FileOperations.makeDirectory(self.root)
        for folder in ["", "/tmp", "/buckets", "/meta", "/uploads", "/keys"] {
            try FileOperations.makeDirectory(systemPath + folder, mode: 0o700)
        }
        try Self.checkLayout(systemPath: systemPath)
    }

    /// The data-root layout this build writes. 1: metadata in records under `.chainvault/meta/`, matched
    /// to the file by size and time. 2: metadata in an extended attribute of the object file; layout-1
    /// records are still read for files that have no attribute, so a layout-1 root opens unchanged.
    /// 3: every key S3 allows, those that cannot be a plain file under `.chainvault/keys/` (an older
    /// build would not see them, so it must refuse the root).
    public static let layoutVersion = 3

    /// Refuses a data root of a newer layout, or on a file system without user extended attributes,
    /// and marks the root as layout ``layoutVersion`` (durably) when it is not yet.
    static func checkLayout(systemPath: String) throws(StorageError) {
        let marker = systemPath + "/layout"
        let root = FileOperations.parent(of: systemPath)
        if let bytes = try FileOperations.readFile(marker, limit: 64) {
            guard let found = Int(String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw .unusableDataRoot(path: root, reason: "\(marker) does not hold a layout version")
            }
            guard found <= layoutVersion else {
                throw .unusableDataRoot(
                    path: root, reason: "it has layout \(found), and this build knows layouts up to \(layoutVersion): upgrade chainvault")
            }
            if found == layoutVersion { return }
        }
        do {
            try MetadataAttribute.probe(directory: systemPath + "/tmp")
        } catch {
            throw .unusableDataRoot(
                path: root,
                reason: "its file system does not take user extended attributes (\(error)); object metadata is kept in them")
        }
        try FileOperations.replaceFile(
            marker, bytes: Array("\(layoutVersion)\n".utf8), temporaryPath: systemPath + "/tmp/layout-\(UInt64.random(in: 0...UInt64.max))",
            mode: 0o600)
    }

    var temporaryPath: String { systemPath + "/tmp" }

    /// Removes the leftovers of writes a crash interrupted. Call once at start, before serving:
    /// while serving, the folder holds the files of writes in flight.
    /// - Returns: How many files were removed.
    @discardableResult
    public func removeTemporaryFiles() async throws(StorageError) -> Int {
        let folder = temporaryPath
        let count = try await blocking { () throws(StorageError) in
            var count = 0
            for entry in try FileOperations.entries(folder) ?? [] where entry.kind == .file {
                try FileOperations.removeFile(folder + "/" + entry.name)
                count += 1
            }
            return count
        }
        if count > 0 { logger.info("removed leftover temporary files", metadata: ["count": "\(count)"]) }
        return count
    }

    /// A fresh temporary file path in the store's tmp folder.
    func newTemporaryPath() -> String {
        var generator = SystemRandomNumberGenerator()
        let suffix = String(generator.next(), radix: 16) + String(generator.next(), radix: 16)
        return temporaryPath + "/" + suffix
    }

    /// Runs blocking file-system work on the thread pool.
    func blocking<T: Sendable>(_ body: @escaping @Sendable () throws(StorageError) -> T) async throws(StorageError) -> T {
        do {
            return try await threadPool.runIfActive { () throws -> T in try body() }
        } catch let error as StorageError {
            throw error
        } catch {
            throw .io(operation: "thread pool", path: root, errno: 0)
        }
    }

    func bucketPath(_ bucket: String) -> String { root + "/" + bucket }
    func bucketRecordPath(_ bucket: String) -> String { systemPath + "/buckets/" + bucket + ".json" }
    func metadataBucketPath(_ bucket: String) -> String { systemPath + "/meta/" + bucket }

    /// Where an object's metadata record lives: `meta/<bucket>/<2 hex>/<sha256(key)>.json`.
    func metadataPath(bucket: String, key: String) -> (relativeDirectory: [Substring], file: String) {
        let name = Hex.encode(SHA256.hash(data: Array(key.utf8)))
        let relative = [bucket[...], name.prefix(2)]
        return (relative, systemPath + "/meta/" + relative.joined(separator: "/") + "/" + name + ".json")
    }

    /// The bucket's directory, after checking the name and that it exists.
    func existingBucketPath(_ bucket: String) throws(StorageError) -> String {
        guard BucketName.isValid(bucket) else { throw .invalidBucketName(bucket) }
        let path = bucketPath(bucket)
        guard try FileOperations.status(path)?.isDirectory == true else { throw .noSuchBucket(bucket) }
        return path
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
