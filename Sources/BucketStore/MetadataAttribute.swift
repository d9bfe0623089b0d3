import CPlatform
import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
    import Glibc
#endif

/// An object's ETag and attributes, bound to the very file that holds its bytes: the extended
/// attribute `user.chainvault.meta` of the object file, a small JSON document.
///
/// It is set on the temporary file before the file is fsynced and renamed under its key, so the bytes
/// and their metadata appear together, survive a crash together and go away together. A reader takes
/// both from one open file descriptor, so two writers racing on one key can never make a reader pair
/// one version's bytes with the other's ETag or Content-Type (data-root layout 2, see
/// `docs/storage-layout.md`). Files written by layout 1 keep their record under
/// `.chainvault/meta/`, which is read when the attribute is missing.
enum MetadataAttribute {
    /// The attribute's name.
    static let name = "user.chainvault.meta"
    /// The largest value written: ext4 keeps all of a file's extended attributes in the inode and one
    /// 4 KiB block, so the value stays well below that.
    static let maxSize = 3584

    /// The metadata, and the size and modification time the file had when it was set: a file an
    /// operator edited in place keeps its attribute but not its time, and is then hashed anew.
    struct Value: Codable, Equatable {
        var etag: String
        var attributes: ObjectAttributes
        var size: Int64
        var modificationNanos: Int64

        func matches(size: Int64, modificationNanos: Int64) -> Bool {
            self.size == size && self.modificationNanos == modificationNanos
        }
    }

    /// The attribute's bytes for an object.
    /// - Throws: ``StorageError/metadataTooLarge(bucket:key:)`` when they exceed ``maxSize``.
    static func encode(_ value: Value, bucket: String, key: String) throws(StorageError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let bytes = try? encoder.encode(value), bytes.count <= maxSize else {
            throw .metadataTooLarge(bucket: bucket, key: key)
        }
        return Array(bytes)
    }

    /// Sets the attribute on an open file.
    /// - Throws: ``StorageError/io(operation:path:errno:)`` (`ENOTSUP` where the file system has no
    ///   user extended attributes, `ENOSPC` when it is full).
    static func set(_ bytes: [UInt8], fd: Int32, path: String) throws(StorageError) {
        let result = bytes.withUnsafeBytes { fsetxattr(fd, name, $0.baseAddress, $0.count, 0) }
        guard result == 0 else { throw FileOperations.fail("fsetxattr", path) }
    }

    /// The attribute of an open file; nil when it has none or it does not decode.
    static func get(fd: Int32) -> Value? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { fgetxattr(fd, name, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        return try? JSONDecoder().decode(Value.self, from: Data(buffer[0..<count]))
    }

    /// Whether the file system at `directory` takes user extended attributes: probed once at start-up
    /// on a scratch file, so that a data root where metadata cannot be bound refuses to open.
    /// - Throws: ``StorageError/io(operation:path:errno:)`` naming `fsetxattr` and the errno.
    static func probe(directory: String) throws(StorageError) {
        let path = directory + "/.xattr-probe-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FileOperations.fail("open", path) }
        defer {
            close(fd)
            unlink(path)
        }
        try set(Array("{}".utf8), fd: fd, path: directory)
    }
}

extension MetadataAttribute {
    /// Decoded attributes of files read before, by device, inode, change time, size and modification
    /// time: a file's attribute is set before it gets its name and changing it (or the bytes) changes
    /// the inode's change time, so an entry can only ever describe the file it was read from. Spares a
    /// GET the attribute's read and JSON decoding, and a listing the opening of every file. Bounded:
    /// emptied when it reaches ``capacity`` entries.
    final class Cache: Sendable {
        struct Key: Hashable {
            var device: UInt64
            var inode: UInt64
            var changeNanos: Int64
            var size: Int64
            var modificationNanos: Int64

            init(_ status: FileOperations.Status) {
                (device, inode, changeNanos) = (status.device, status.inode, status.changeNanos)
                (size, modificationNanos) = (status.size, status.modificationNanos)
            }
        }

        static let capacity = 16_384
        /// A pthread mutex (NIO's lock), not `Synchronization.Mutex`: a listing takes this lock once per
        /// key on each of the store's 16 file threads, and `Mutex` spins while it waits — with 16
        /// listings on 2 cores, half the CPU went to spinning on it (1000-key LIST 135 -> 21 requests/s).
        private let entries = NIOLockedValueBox<[Key: Value]>([:])

        func value(for status: FileOperations.Status) -> Value? {
            entries.withLockedValue { $0[Key(status)] }
        }

        func store(_ value: Value, for status: FileOperations.Status) {
            entries.withLockedValue { entries in
                if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
                entries[Key(status)] = value
            }
        }
    }
}
