import Foundation
import NIOConcurrencyHelpers

extension BucketStore {
    /// Creates a bucket owned by `owner`.
    /// - Throws: ``StorageError/invalidBucketName(_:)``, ``StorageError/bucketAlreadyOwnedByYou(_:)``,
    ///   ``StorageError/bucketAlreadyExists(_:)``, ``StorageError/io(operation:path:errno:)``.
    public func createBucket(_ name: String, owner: String, now: Int64) async throws(StorageError) {
        guard BucketName.isValid(name) else { throw .invalidBucketName(name) }
        let path = bucketPath(name)
        let recordPath = bucketRecordPath(name)
        let root = self.root
        let temporary = newTemporaryPath()
        try await blocking { () throws(StorageError) in
            // mkdir is the atomic claim on the name; the record follows.
            guard try FileOperations.makeDirectory(path) else {
                let existing = try Self.readBucketRecord(recordPath)
                if (existing?.owner ?? "") == owner { throw .bucketAlreadyOwnedByYou(name) }
                throw .bucketAlreadyExists(name)
            }
            let record = BucketInfo(name: name, owner: owner, created: now)
            try FileOperations.replaceFile(recordPath, bytes: Array(try Self.encode(record)), temporaryPath: temporary, mode: 0o600)
            try FileOperations.syncDirectory(root)
        }
    }

    /// The bucket's owner and creation time.
    /// - Throws: ``StorageError/invalidBucketName(_:)``, ``StorageError/noSuchBucket(_:)``.
    public func bucket(_ name: String) async throws(StorageError) -> BucketInfo {
        let recordPath = bucketRecordPath(name)
        return try await blocking { () throws(StorageError) in
            let path = try self.existingBucketPath(name)
            if let record = try Self.readBucketRecord(recordPath) { return record }
            let created = (try FileOperations.status(path)?.modificationNanos ?? 0) / 1_000_000_000
            return BucketInfo(name: name, owner: nil, created: created)
        }
    }

    /// The bucket's owner (nil: made by hand), from memory after the first time: the check every
    /// request makes before its operation. A bucket removed behind the server's back is still found
    /// missing by the operation itself.
    /// - Throws: ``StorageError/invalidBucketName(_:)``, ``StorageError/noSuchBucket(_:)``.
    public func bucketOwner(_ name: String) async throws(StorageError) -> String? {
        if let owner = owners.withLockedValue({ $0[name] }) { return owner }
        let owner = try await bucket(name).owner
        owners.withLockedValue { $0[name] = .some(owner) }
        return owner
    }

    /// Every bucket, sorted by name.
    public func listBuckets() async throws(StorageError) -> [BucketInfo] {
        let root = self.root
        let names = try await blocking { () throws(StorageError) in
            try (FileOperations.entries(root) ?? [])
                .filter { $0.kind == .directory && BucketName.isValid($0.name) }
                .map(\.name)
        }
        var buckets: [BucketInfo] = []
        for name in names.sorted() {
            if let info = try? await bucket(name) { buckets.append(info) }
        }
        return buckets
    }

    /// Deletes an empty bucket. A write into the bucket that is in its last step (the rename into place)
    /// makes it not empty; one that comes later finds no bucket (``BucketGate``).
    /// - Throws: ``StorageError/noSuchBucket(_:)``, ``StorageError/bucketNotEmpty(_:)``.
    public func deleteBucket(_ name: String) async throws(StorageError) {
        let recordPath = bucketRecordPath(name)
        let metadataPath = metadataBucketPath(name)
        let uploadsPath = uploadsPath(name)
        let reservedPath = reservedBucketPath(name)
        let root = self.root
        try await blocking { () throws(StorageError) in
            try self.gate.whileDeleting(name) { () throws(StorageError) in
                let path = try self.existingBucketPath(name)
                // An in-flight multipart upload keeps the bucket from being empty, as in S3.
                for entry in try FileOperations.entries(uploadsPath) ?? [] where entry.kind == .directory {
                    if try FileOperations.status(uploadsPath + "/" + entry.name + "/completed.json") == nil { throw .bucketNotEmpty(name) }
                }
                // Only empty folders may remain; removing them bottom-up fails if a file appears meanwhile.
                // Reserved keys first: the bucket's own folder is the claim on its name.
                if try FileOperations.status(reservedPath) != nil, try !Self.removeEmptyTree(reservedPath) { throw .bucketNotEmpty(name) }
                guard try Self.removeEmptyTree(path) else { throw .bucketNotEmpty(name) }
                self.owners.withLockedValue { $0[name] = nil }
                try FileOperations.syncDirectory(root)
                try FileOperations.removeFile(recordPath)
                try Self.removeTree(metadataPath)
                try Self.removeTree(uploadsPath)
            }
        }
    }

    static func encode<T: Encodable>(_ value: T) throws(StorageError) -> Data {
        do {
            return try JSONEncoder().encode(value)
        } catch {
            throw .io(operation: "encode", path: "\(T.self)", errno: 0)
        }
    }

    static func readBucketRecord(_ path: String) throws(StorageError) -> BucketInfo? {
        guard let bytes = try FileOperations.readFile(path) else { return nil }
        return try? JSONDecoder().decode(BucketInfo.self, from: Data(bytes))
    }

    /// Removes a directory tree that holds no files; false (and the tree partly kept) when it holds one.
    static func removeEmptyTree(_ path: String) throws(StorageError) -> Bool {
        for entry in try FileOperations.entries(path) ?? [] {
            guard entry.kind == .directory else { return false }
            guard try removeEmptyTree(path + "/" + entry.name) else { return false }
        }
        return FileOperations.removeDirectory(path)
    }

    /// Removes a directory tree of the store's own files.
    static func removeTree(_ path: String) throws(StorageError) {
        for entry in try FileOperations.entries(path) ?? [] {
            let child = path + "/" + entry.name
            if entry.kind == .directory {
                try removeTree(child)
            } else {
                try FileOperations.removeFile(child)
            }
        }
        FileOperations.removeDirectory(path)
    }
}
