#if canImport(Glibc)
    import Glibc
#endif

/// Objects that never change once written and are named by their content (the chunk chain's chunks):
/// written without a metadata record (the gateway computes their ETag from the bytes when first
/// asked), read straight into memory, and made durable a directory at a time.
extension BucketStore {
    /// An immutable object written and synced under a temporary name, not yet visible under its key.
    public struct StagedObject: Sendable {
        public let bucket: String
        public let key: String
        let objectKey: ObjectKey
        let temporaryPath: String
    }

    /// Writes `bytes` under `key`: temp file, `fdatasync`, rename. The new name is durable only after
    /// ``syncBucketDirectory(_:)`` (for a key without `/`); a crash before that loses the object, never tears it.
    /// - Throws: ``StorageError`` (`noSuchBucket`, key errors, `io`).
    public func putImmutableObject(bucket: String, key: String, bytes: [UInt8]) async throws(StorageError) {
        try await publish(try await stageImmutableObject(bucket: bucket, key: key, bytes: bytes))
    }

    /// The first half of ``putImmutableObject(bucket:key:bytes:)``: writes and `fdatasync`s the bytes
    /// under a temporary name. Several can be staged at once and then published in the order their
    /// names must appear; ``publish(_:)`` or ``discard(_:)`` each staged object.
    /// - Throws: ``StorageError`` (`noSuchBucket`, key errors, `io`); nothing is left behind then.
    public func stageImmutableObject(bucket: String, key: String, bytes: [UInt8]) async throws(StorageError) -> StagedObject {
        let objectKey = try ObjectKey(key)
        let staged = StagedObject(bucket: bucket, key: key, objectKey: objectKey, temporaryPath: newTemporaryPath())
        try await blocking { () throws(StorageError) in
            _ = try self.existingBucketPath(bucket)
            do throws(StorageError) {
                try FileOperations.writeFile(staged.temporaryPath, bytes: bytes, dataOnly: true)
            } catch {
                _ = try? FileOperations.removeFile(staged.temporaryPath)
                throw error
            }
        }
        return staged
    }

    /// Renames a staged object into place (the second half of ``putImmutableObject(bucket:key:bytes:)``).
    /// - Throws: ``StorageError``; the temporary file is removed then.
    public func publish(_ staged: StagedObject) async throws(StorageError) {
        try await blocking { () throws(StorageError) in
            do throws(StorageError) {
                try self.gate.whileOpen(staged.bucket) { () throws(StorageError) in
                    let bucketPath = try self.existingBucketPath(staged.bucket)
                    // The name becomes durable with the bucket directory's next sync (a reserved key's at once).
                    _ = try self.place(
                        staged.temporaryPath, bucketPath: bucketPath, bucket: staged.bucket, key: staged.objectKey, syncingDirectory: false)
                }
            } catch {
                _ = try? FileOperations.removeFile(staged.temporaryPath)
                throw error
            }
        }
    }

    /// Removes a staged object that will not be published.
    public func discard(_ staged: StagedObject) async {
        _ = try? await blocking { () throws(StorageError) in _ = try FileOperations.removeFile(staged.temporaryPath) }
    }

    /// fsyncs the bucket's own directory, making the names of every top-level object (a key without
    /// `/`) renamed into it so far durable.
    public func syncBucketDirectory(_ bucket: String) async throws(StorageError) {
        try await blocking { () throws(StorageError) in try FileOperations.syncDirectory(try self.existingBucketPath(bucket)) }
    }

    /// The object's first `count` bytes (all of them when shorter), or nil when there is no such object.
    /// Never follows a symbolic link.
    public func readObjectPrefix(bucket: String, key: String, count: Int) async throws(StorageError) -> [UInt8]? {
        guard let objectKey = try? Self.lookupKey(bucket: bucket, key: key) else { return nil }
        return try await blocking { () throws(StorageError) in
            guard let path = try self.locate(bucketPath: try self.existingBucketPath(bucket), bucket: bucket, key: objectKey) else {
                return nil
            }
            return try FileOperations.readPrefix(path, count: count)
        }
    }
}
