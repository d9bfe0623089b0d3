import NIOConcurrencyHelpers

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

    /// Refuses a write of `length` bytes that would eat into the free-space reserve, counting what writes
    /// in flight have reserved. A file system that cannot be asked passes: the write itself still stops
    /// at `ENOSPC`. For a body that streams in pieces of unknown total (checked every few MiB).
    /// - Throws: ``StorageError/insufficientStorage(bucket:key:)``.
    public func ensureSpace(for length: Int64, bucket: String, key: String) throws(StorageError) {
        guard let free = freeBytes() else { return }
        if length > free - freeSpaceReserve - reserved.withLockedValue({ $0 }) {
            throw .insufficientStorage(bucket: bucket, key: key)
        }
    }

    /// Reserves `length` bytes for a write of declared length, before any byte of it is read: refused when
    /// the file system's free space, less the reserve and less what other writes in flight reserved, cannot
    /// hold it. Checked and counted in one step, so two writes that each fit alone cannot together eat the
    /// reserve. The bytes are given back when the returned reservation is released (its last reference
    /// goes: the write finished, failed or was never read).
    /// - Returns: The reservation; nil when the file system cannot be asked.
    /// - Throws: ``StorageError/insufficientStorage(bucket:key:)``.
    public func reserveSpace(for length: Int64, bucket: String, key: String) throws(StorageError) -> SpaceReservation? {
        guard let free = freeBytes() else { return nil }
        let available = free - freeSpaceReserve
        let granted = reserved.withLockedValue { inFlight in
            guard length <= available - inFlight else { return false }
            inFlight += length
            return true
        }
        guard granted else { throw .insufficientStorage(bucket: bucket, key: key) }
        return SpaceReservation(bytes: length, ledger: reserved)
    }
}

/// Bytes a write in flight holds against the free space (``BucketStore/reserveSpace(for:bucket:key:)``),
/// given back when the last reference to it goes.
public final class SpaceReservation: Sendable {
    let bytes: Int64
    let ledger: NIOLockedValueBox<Int64>

    init(bytes: Int64, ledger: NIOLockedValueBox<Int64>) {
        self.bytes = bytes
        self.ledger = ledger
    }

    deinit { ledger.withLockedValue { $0 -= bytes } }
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
