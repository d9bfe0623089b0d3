#if canImport(Glibc)
    import Glibc
#endif

extension BucketStore {
    /// Bytes an unprivileged writer may still use on the data root's file system; nil if `statvfs(2)` fails.
    public func freeBytes() -> Int64? {
        var stats = statvfs()
        guard statvfs(root, &stats) == 0 else { return nil }
        return Int64(stats.f_bavail) * Int64(stats.f_frsize)
    }

    /// Refuses a write of `length` bytes that would eat into the free-space reserve, before any byte of
    /// it is read. Writes of unknown length, and a file system that cannot be asked, pass: the write
    /// itself still stops at `ENOSPC`.
    /// - Throws: ``StorageError/insufficientStorage(bucket:key:)``.
    public func ensureSpace(for length: Int64, bucket: String, key: String) throws(StorageError) {
        guard let free = freeBytes() else { return }
        if length > free - freeSpaceReserve {
            throw .insufficientStorage(bucket: bucket, key: key)
        }
    }
}

extension StorageError {
    /// The file system ran out of space (or quota) during the operation.
    public var isOutOfSpace: Bool {
        switch self {
        case .insufficientStorage: true
        case .io(_, _, let code): code == ENOSPC || code == EDQUOT
        default: false
        }
    }
}
