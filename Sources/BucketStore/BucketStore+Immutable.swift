#if canImport(Glibc)
    import Glibc
#endif

/// Objects that never change once written and are named by their content (the chunk chain's chunks):
/// written without a metadata record (the gateway computes their ETag from the bytes when first
/// asked), read straight into memory, and made durable a directory at a time.
extension BucketStore {
    /// Writes `bytes` under `key`: temp file, `fdatasync`, rename. The new name is durable only after
    /// ``syncBucketDirectory(_:)`` (for a key without `/`); a crash before that loses the object, never tears it.
    /// - Throws: ``StorageError`` (`noSuchBucket`, key errors, `io`).
    public func putImmutableObject(bucket: String, key: String, bytes: [UInt8]) async throws(StorageError) {
        let objectKey = try ObjectKey(key)
        let temporary = newTemporaryPath()
        try await blocking { () throws(StorageError) in
            let bucketPath = try self.existingBucketPath(bucket)
            do throws(StorageError) {
                try FileOperations.writeFile(temporary, bytes: bytes, dataOnly: true)
                try Self.checkPlacement(bucketPath: bucketPath, key: objectKey, bucket: bucket)
                try FileOperations.makeDirectories(base: bucketPath, relative: Array(objectKey.segments.dropLast()))
                try FileOperations.rename(temporary, bucketPath + "/" + objectKey.relativePath)
            } catch {
                _ = try? FileOperations.removeFile(temporary)
                throw error
            }
        }
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
            let bucketPath = try self.existingBucketPath(bucket)
            guard (try? Self.existingObject(bucketPath: bucketPath, key: objectKey, bucket: bucket)) != nil else { return nil }
            return try FileOperations.readPrefix(bucketPath + "/" + objectKey.relativePath, count: count)
        }
    }
}
