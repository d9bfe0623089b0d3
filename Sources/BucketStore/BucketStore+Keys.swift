#if canImport(Glibc)
    import Glibc
#endif

/// Where each key's file is (``ObjectKey`` states the rule): found, placed and removed here alone.
extension BucketStore {
    /// A condition on the object a write replaces, decided atomically with the write (S3's conditional
    /// writes: `If-None-Match: *` and `If-Match: "<etag>"` on PutObject, CompleteMultipartUpload and
    /// CopyObject's destination).
    public enum WriteCondition: Sendable, Equatable {
        /// Write whatever is there.
        case none
        /// Write only when no object has the key (`If-None-Match: *`).
        case absent
        /// Write only over an object whose ETag is one of these (`If-Match`; `*` is any object).
        case matches([String])
    }

    /// The folder of a bucket's reserved keys.
    func reservedBucketPath(_ bucket: String) -> String { systemPath + "/keys/" + bucket }

    func reservedPath(bucket: String, key: ObjectKey) -> String {
        reservedBucketPath(bucket) + "/" + key.reservedSegments.joined(separator: "/")
    }

    /// The object's file: the plain file at its path when there is one, else its reserved file; nil when
    /// the key has no object.
    func locate(bucketPath: String, bucket: String, key: ObjectKey) throws(StorageError) -> String? {
        if let segments = key.plainSegments, let path = try Self.plainObject(bucketPath: bucketPath, segments: segments) {
            return path
        }
        let reserved = reservedPath(bucket: bucket, key: key)
        guard try FileOperations.status(reserved)?.isRegular == true else { return nil }
        return reserved
    }

    /// The regular file at `segments` below the bucket, every folder on the way a real directory: symbolic
    /// links are never followed, so no key reaches outside its bucket.
    static func plainObject(bucketPath: String, segments: [Substring]) throws(StorageError) -> String? {
        var path = bucketPath
        for (index, segment) in segments.enumerated() {
            path += "/" + segment
            guard let status = try FileOperations.status(path) else { return nil }
            if index == segments.count - 1 { return status.isRegular ? path : nil }
            guard status.isDirectory else { return nil }
        }
        return nil
    }

    /// Whether a file can be renamed to `segments` now — every existing folder on the way is a directory
    /// and the path itself is free or a regular file — and how many of its folders exist already; nil
    /// when it cannot.
    static func plainPathFolders(bucketPath: String, segments: [Substring]) throws(StorageError) -> Int? {
        var path = bucketPath
        for (index, segment) in segments.enumerated() {
            path += "/" + segment
            guard let status = try FileOperations.status(path) else { return index }
            if index == segments.count - 1 { return status.isRegular ? index : nil }
            guard status.isDirectory else { return nil }
        }
        return segments.count - 1
    }

    /// Checks `condition` against the key's current object. Call holding the key's lock.
    /// - Throws: ``StorageError/preconditionFailed(bucket:key:)``, or ``StorageError/noSuchKey(bucket:key:)``
    ///   for `If-Match` on a key without an object (as S3 answers).
    func check(_ condition: WriteCondition, bucketPath: String, bucket: String, key: ObjectKey) throws(StorageError) {
        guard condition != .none else { return }
        var current: ObjectInfo?
        if let path = try locate(bucketPath: bucketPath, bucket: bucket, key: key) {
            current = try info(bucket: bucket, key: key.key, path: path)
        }
        switch condition {
        case .none: return
        case .absent:
            if current != nil { throw .preconditionFailed(bucket: bucket, key: key.key) }
        case .matches(let etags):
            guard let current else { throw .noSuchKey(bucket: bucket, key: key.key) }
            guard etags.contains(where: { $0 == "*" || $0 == current.etag }) else {
                throw .preconditionFailed(bucket: bucket, key: key.key)
            }
        }
    }

    /// Renames a finished, synced file under its key and makes the name durable: at its plain path when
    /// the key can be one and the path is free, else at its reserved path. A reserved copy the plain
    /// write supersedes is removed after the rename (a crash in between leaves it shadowed, never newer).
    /// Call holding the key's lock.
    /// - Parameter syncingDirectory: false to leave a plain name's directory sync to the caller (the chain
    ///   syncs a bucket directory once for many chunks); a reserved copy of the key then stays, shadowed
    ///   by the plain file, until the key is written or deleted again.
    /// - Returns: The path the file now has.
    func place(
        _ temporary: String, bucketPath: String, bucket: String, key: ObjectKey, syncingDirectory: Bool = true
    ) throws(StorageError) -> String {
        if let segments = key.plainSegments,
            let path = try placePlain(temporary, bucketPath: bucketPath, segments: segments, syncingDirectory: syncingDirectory)
        {
            // Only once the plain name is durable may a reserved copy go; until then it is shadowed.
            if syncingDirectory { try removeReserved(bucket: bucket, key: key) }
            return path
        }
        let base = systemPath + "/keys"
        let segments = [Substring(bucket)] + key.reservedSegments
        try FileOperations.makeDirectories(base: base, relative: Array(segments.dropLast()), mode: 0o700)
        let destination = reservedPath(bucket: bucket, key: key)
        try FileOperations.rename(temporary, destination)
        try FileOperations.syncDirectory(FileOperations.parent(of: destination))
        return destination
    }

    /// The plain half of ``place(_:bucketPath:bucket:key:)``; nil when the path is taken (by a folder of
    /// other keys, or a file where a folder would go), also when another key takes it meanwhile.
    private func placePlain(
        _ temporary: String, bucketPath: String, segments: [Substring], syncingDirectory: Bool
    ) throws(StorageError) -> String? {
        let destination = bucketPath + "/" + segments.joined(separator: "/")
        // A concurrent delete may remove an emptied parent folder between mkdir and rename: retry.
        for attempt in 0... {
            guard let existing = try Self.plainPathFolders(bucketPath: bucketPath, segments: segments) else { return nil }
            do throws(StorageError) {
                let folders = segments.dropLast()
                if existing < folders.count {
                    let base = ([bucketPath[...]] + folders.prefix(existing)).joined(separator: "/")
                    try FileOperations.makeDirectories(base: base, relative: Array(folders.dropFirst(existing)))
                }
                try FileOperations.rename(temporary, destination)
                break
            } catch .io("mkdir", _, let code) where code == EEXIST || code == ENOTDIR {
                return nil
            } catch .io("rename", _, let code) where code == EISDIR || code == ENOTDIR || code == ENOTEMPTY {
                return nil
            } catch .io("rename", _, ENOENT) where attempt < 3 {
                continue
            }
        }
        if syncingDirectory { try FileOperations.syncDirectory(FileOperations.parent(of: destination)) }
        return destination
    }

    /// Removes the key's object wherever it is, durably; false when it had none. The reserved file goes
    /// first, so that a crash half-way leaves the newer plain file rather than bringing back an older one.
    /// Call holding the key's lock.
    func remove(bucketPath: String, bucket: String, key: ObjectKey) throws(StorageError) -> Bool {
        var removed = try removeReserved(bucket: bucket, key: key)
        if let segments = key.plainSegments, let path = try Self.plainObject(bucketPath: bucketPath, segments: segments) {
            try FileOperations.removeFile(path)
            try FileOperations.syncDirectory(FileOperations.parent(of: path))
            try FileOperations.removeFile(metadataPath(bucket: bucket, key: key.key).file)
            Self.removeEmptyFolders(from: FileOperations.parent(of: path), downTo: bucketPath)
            removed = true
        }
        return removed
    }

    /// Removes the key's reserved file, if any, and the folders that leaves empty.
    @discardableResult
    private func removeReserved(bucket: String, key: ObjectKey) throws(StorageError) -> Bool {
        let path = reservedPath(bucket: bucket, key: key)
        guard try FileOperations.removeFile(path) else { return false }
        try FileOperations.syncDirectory(FileOperations.parent(of: path))
        Self.removeEmptyFolders(from: FileOperations.parent(of: path), downTo: reservedBucketPath(bucket))
        return true
    }

    /// Removes `folder` and its parents while they are empty, stopping above `base`: a folder a delete
    /// emptied must not keep its name from becoming an object.
    static func removeEmptyFolders(from folder: String, downTo base: String) {
        var folder = folder
        while folder.count > base.count, FileOperations.removeDirectory(folder) {
            folder = FileOperations.parent(of: folder)
        }
    }
}
