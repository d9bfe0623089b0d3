import Crypto
import Foundation
import NIOCore
import _NIOFileSystem

#if canImport(Glibc)
    import Glibc
#endif

extension BucketStore {
    /// Stores an object from a stream of bytes, atomically and durably.
    ///
    /// The body streams into a temporary file; the object appears under its key only after the stream
    /// ended without error and the file was fsynced. An error thrown by `body` (a failed checksum, a
    /// client that went away) leaves the previous object, if any, untouched.
    ///
    /// - Parameters:
    ///   - bucket: The bucket name.
    ///   - key: The object key (see ``ObjectKey`` for where it is stored).
    ///   - condition: What the replaced object must be, decided atomically with the write.
    ///   - attributes: Content type, user metadata and checksums to keep with the object.
    ///   - body: The bytes.
    /// - Returns: The stored object's info (size, ETag, time).
    /// - Throws: ``StorageError`` (`noSuchBucket`, key errors, `preconditionFailed`, `noSuchKey` for a
    ///   failed If-Match, `insufficientStorage`, `io`) or whatever `body` throws.
    public func putObject<Body: AsyncSequence>(
        bucket: String,
        key: String,
        condition: WriteCondition = .none,
        attributes: ObjectAttributes,
        body: Body
    ) async throws -> ObjectInfo where Body.Element == ByteBuffer {
        try await putObject(bucket: bucket, key: key, condition: condition, attributes: { attributes }, body: body)
    }

    /// Stores an object whose attributes are known only once the body ended (a checksum sent in an
    /// aws-chunked trailer): `attributes` is called after the last byte, before the object is published.
    public func putObject<Body: AsyncSequence>(
        bucket: String,
        key: String,
        condition: WriteCondition = .none,
        attributes: @Sendable () -> ObjectAttributes,
        body: Body
    ) async throws -> ObjectInfo where Body.Element == ByteBuffer {
        let objectKey = try ObjectKey(key)
        // A condition that already fails is answered before the body is read; it is decided again,
        // atomically, when the object is published.
        try await blocking { () throws(StorageError) in
            try self.check(condition, bucketPath: try self.existingBucketPath(bucket), bucket: bucket, key: objectKey)
        }
        return try await withStagedBody(body, bucket: bucket, key: key) { temporary, etag in
            try await publish(
                temporary: temporary, bucket: bucket, key: objectKey, condition: condition, etag: etag, attributes: attributes())
        }
    }

    /// Streams `body` into a new temporary file, then hands its path and hex MD5 to `publish`, which
    /// must move the file into place. The temporary file is removed when streaming or `publish` fails.
    func withStagedBody<Body: AsyncSequence, Result: Sendable>(
        _ body: Body,
        bucket: String,
        key: String,
        publish: (_ temporary: String, _ etag: String) async throws -> Result
    ) async throws -> Result where Body.Element == ByteBuffer {
        let temporary = newTemporaryPath()
        do {
            let etag: String
            do {
                etag = try await writeTemporary(temporary, body: body)
            } catch {
                throw Self.mapFileSystemError(error, bucket: bucket, key: key)
            }
            return try await publish(temporary, etag)
        } catch {
            _ = try? await blocking { () throws(StorageError) in try FileOperations.removeFile(temporary) }
            throw error
        }
    }

    /// Streams `body` into a new file at `path` and returns the hex MD5 of what was written. The file is
    /// fsynced by ``publish(temporary:bucket:key:etag:attributes:)``, once its metadata is set on it.
    func writeTemporary<Body: AsyncSequence>(_ path: String, body: Body) async throws -> String
    where Body.Element == ByteBuffer {
        let handle = try await fileSystem.openFile(forWritingAt: FilePath(path), options: .newFile(replaceExisting: false))
        do {
            var md5 = Insecure.MD5()
            try await handle.withBufferedWriter(capacity: .kibibytes(256)) { writer in
                for try await chunk in body {
                    chunk.withUnsafeReadableBytes { md5.update(bufferPointer: $0) }
                    _ = try await writer.write(contentsOf: chunk)
                }
            }
            try await handle.close()
            return Self.hex(md5.finalize())
        } catch {
            try? await handle.close()
            throw error
        }
    }

    /// Moves a finished temporary file under its key, durably: its metadata is set on the file as an
    /// extended attribute (``MetadataAttribute``), the file fsynced, renamed (``place(_:bucketPath:bucket:key:)``),
    /// and its directory fsynced. `condition` is checked again under the key's lock, just before the rename:
    /// the caller checked it when the request began, so failing now means a concurrent write won
    /// (``StorageError/conditionalRequestConflict(bucket:key:)``).
    func publish(
        temporary: String,
        bucket: String,
        key: ObjectKey,
        condition: WriteCondition = .none,
        etag: String,
        attributes: ObjectAttributes
    ) async throws -> ObjectInfo {
        // Bytes and metadata become durable together, before the name points at them.
        let written = try await blocking { () throws(StorageError) in
            try FileOperations.withFile(temporary, flags: O_RDONLY) { fd throws(StorageError) in
                let status = try FileOperations.status(fd: fd, path: temporary)
                let value = MetadataAttribute.Value(
                    etag: etag, attributes: attributes, size: status.size, modificationNanos: status.modificationNanos)
                try MetadataAttribute.set(try MetadataAttribute.encode(value, bucket: bucket, key: key.key), fd: fd, path: temporary)
                guard fsync(fd) == 0 else { throw FileOperations.fail("fsync", temporary) }
                return status
            }
        }
        return try await locks.withLock(bucket + "/" + key.key) {
            try await blocking { () throws(StorageError) in
                let bucketPath = try self.existingBucketPath(bucket)
                do throws(StorageError) {
                    try self.check(condition, bucketPath: bucketPath, bucket: bucket, key: key)
                } catch .preconditionFailed, .noSuchKey {
                    throw .conditionalRequestConflict(bucket: bucket, key: key.key)
                }
                _ = try self.place(temporary, bucketPath: bucketPath, bucket: bucket, key: key)
                return ObjectInfo(
                    bucket: bucket,
                    key: key.key,
                    size: written.size,
                    modificationNanos: written.modificationNanos,
                    etag: etag,
                    attributes: attributes
                )
            }
        }
    }

    /// The object's size, time, ETag and attributes, all taken from one open file.
    /// - Throws: ``StorageError/noSuchBucket(_:)``, ``StorageError/noSuchKey(bucket:key:)``.
    public func objectInfo(bucket: String, key: String) async throws(StorageError) -> ObjectInfo {
        let objectKey = try Self.lookupKey(bucket: bucket, key: key)
        return try await blocking { () throws(StorageError) in
            guard let path = try self.locate(bucketPath: try self.existingBucketPath(bucket), bucket: bucket, key: objectKey),
                let info = try self.info(bucket: bucket, key: key, path: path)
            else { throw .noSuchKey(bucket: bucket, key: key) }
            return info
        }
    }

    /// The info of the object file at `path`, size, time and metadata from one open descriptor; nil when
    /// the file is gone (or became something else than a regular file) since it was found.
    func info(bucket: String, key: String, path: String) throws(StorageError) -> ObjectInfo? {
        do throws(StorageError) {
            return try FileOperations.withFile(path, flags: O_RDONLY | O_NOFOLLOW) { fd throws(StorageError) in
                let status = try FileOperations.status(fd: fd, path: path)
                guard status.isRegular else { return nil }
                return try self.info(bucket: bucket, key: key, fd: fd, size: status.size, modificationNanos: status.modificationNanos)
            }
        } catch .io("open", _, let code) where code == ENOENT || code == ELOOP || code == ENOTDIR {
            return nil
        }
    }

    /// Opens an object for reading. The reader's info and bytes come from the same open file, so a
    /// concurrent overwrite never mixes the old object's headers with the new one's bytes.
    /// - Throws: ``StorageError/noSuchBucket(_:)``, ``StorageError/noSuchKey(bucket:key:)``.
    public func openObject(bucket: String, key: String) async throws(StorageError) -> ObjectReader {
        let objectKey = try Self.lookupKey(bucket: bucket, key: key)
        let path = try await blocking { () throws(StorageError) in
            guard let path = try self.locate(bucketPath: try self.existingBucketPath(bucket), bucket: bucket, key: objectKey) else {
                throw .noSuchKey(bucket: bucket, key: key)
            }
            return path
        }
        let handle: ReadFileHandle
        let fileInfo: FileInfo
        do {
            handle = try await fileSystem.openFile(forReadingAt: FilePath(path), options: .init(followSymbolicLinks: false))
        } catch {
            throw .noSuchKey(bucket: bucket, key: key)
        }
        do {
            fileInfo = try await handle.info()
        } catch {
            try? await handle.close()
            throw .io(operation: "fstat", path: path, errno: 0)
        }
        let modification = fileInfo.lastDataModificationTime
        let nanos = Int64(modification.seconds) * 1_000_000_000 + Int64(modification.nanoseconds)
        do {
            let info = try await handle.withUnsafeDescriptor { descriptor in
                try self.info(bucket: bucket, key: key, fd: descriptor.rawValue, size: fileInfo.size, modificationNanos: nanos)
            }
            return ObjectReader(info: info, handle: handle)
        } catch let error as StorageError {
            try? await handle.close()
            throw error
        } catch {
            try? await handle.close()
            throw .io(operation: "fgetxattr", path: path, errno: 0)
        }
    }

    /// Deletes an object; deleting a missing key succeeds, as in S3.
    /// - Throws: ``StorageError/noSuchBucket(_:)``, ``StorageError/io(operation:path:errno:)``.
    public func deleteObject(bucket: String, key: String) async throws(StorageError) {
        guard let objectKey = try? ObjectKey(key) else {
            // A key that cannot be stored cannot exist; only the bucket must.
            try await blocking { () throws(StorageError) in _ = try self.existingBucketPath(bucket) }
            return
        }
        do {
            try await locks.withLock(bucket + "/" + key) {
                try await blocking { () throws(StorageError) in
                    _ = try self.remove(bucketPath: try self.existingBucketPath(bucket), bucket: bucket, key: objectKey)
                }
            }
        } catch let error as StorageError {
            throw error
        } catch {
            throw .io(operation: "delete", path: key, errno: 0)
        }
    }

    // MARK: - Helpers

    /// Validates a key for lookup: a key that cannot be stored is simply not there.
    static func lookupKey(bucket: String, key: String) throws(StorageError) -> ObjectKey {
        guard BucketName.isValid(bucket) else { throw .invalidBucketName(bucket) }
        do {
            return try ObjectKey(key)
        } catch .keyTooLong(let key) {
            throw .keyTooLong(key)
        } catch {
            throw .noSuchKey(bucket: bucket, key: key)
        }
    }

    static func readMetadata(_ path: String) throws(StorageError) -> MetadataRecord? {
        guard let bytes = try FileOperations.readFile(path) else { return nil }
        return try? JSONDecoder().decode(MetadataRecord.self, from: Data(bytes))
    }

    /// The object's info from the open file `fd`: its metadata attribute; for a file written by layout 1,
    /// its record in `.chainvault/meta/` matched by size and time; for a file without either (an operator
    /// copied it in, a chain chunk) the ETag computed from the bytes. The last two are then set on the
    /// file as its attribute (best effort), so the next read takes the first path.
    func info(bucket: String, key: String, fd: Int32, size: Int64, modificationNanos: Int64) throws(StorageError) -> ObjectInfo {
        if let value = MetadataAttribute.get(fd: fd), value.matches(size: size, modificationNanos: modificationNanos) {
            return ObjectInfo(
                bucket: bucket, key: key, size: size, modificationNanos: modificationNanos, etag: value.etag, attributes: value.attributes)
        }
        let etag: String
        let attributes: ObjectAttributes
        if let version = try Self.readMetadata(metadataPath(bucket: bucket, key: key).file)?.version(
            size: size, modificationNanos: modificationNanos)
        {
            (etag, attributes) = (version.etag, version.attributes)
        } else {
            (etag, attributes) = (try Self.md5(ofFile: fd, path: key), ObjectAttributes())
        }
        let value = MetadataAttribute.Value(etag: etag, attributes: attributes, size: size, modificationNanos: modificationNanos)
        if let bytes = try? MetadataAttribute.encode(value, bucket: bucket, key: key) {
            try? MetadataAttribute.set(bytes, fd: fd, path: key)
        }
        return ObjectInfo(bucket: bucket, key: key, size: size, modificationNanos: modificationNanos, etag: etag, attributes: attributes)
    }

    /// The hex MD5 of the whole file `fd`, read from its start with `pread` (the descriptor's offset is untouched).
    static func md5(ofFile fd: Int32, path: String) throws(StorageError) -> String {
        var md5 = Insecure.MD5()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var offset: off_t = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, offset) }
            if count < 0 {
                if errno == EINTR { continue }
                throw FileOperations.fail("read", path)
            }
            offset += off_t(count)
            if count == 0 { break }
            buffer.withUnsafeBytes { md5.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
        return hex(md5.finalize())
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }

    /// Whether `error`, from the store or from a NIO file-system call, means the file system is full.
    public static func isOutOfSpace(_ error: any Error) -> Bool {
        switch error {
        case let error as StorageError: error.isOutOfSpace
        case let error as FileSystemError:
            (error.cause as? FileSystemError.SystemCallError).map { $0.errno.rawValue == ENOSPC || $0.errno.rawValue == EDQUOT } ?? false
        default: false
        }
    }

    static func mapFileSystemError(_ error: any Error, bucket: String, key: String) -> any Error {
        guard let error = error as? FileSystemError else { return error }
        if isOutOfSpace(error) { return StorageError.insufficientStorage(bucket: bucket, key: key) }
        return StorageError.io(operation: "write", path: key, errno: (error.cause as? FileSystemError.SystemCallError)?.errno.rawValue ?? 0)
    }
}

/// An open object: its info and its bytes, read from one file descriptor.
public struct ObjectReader: Sendable {
    /// The object's info, taken from the open file.
    public let info: ObjectInfo
    let handle: ReadFileHandle

    /// The bytes in `range`, in chunks of at most 128 KiB, each read only when the consumer asks for it:
    /// no read-ahead, so a slow reader holds one chunk and the socket's back-pressure reaches the disk.
    public func chunks(in range: Range<Int64>) -> Chunks { Chunks(handle: handle, range: range) }

    /// The chunks of an open object, read one at a time on demand.
    public struct Chunks: AsyncSequence, Sendable {
        public typealias Element = ByteBuffer
        static let chunkLength: Int64 = 128 * 1024
        let handle: ReadFileHandle
        let range: Range<Int64>

        public struct AsyncIterator: AsyncIteratorProtocol {
            let handle: ReadFileHandle
            var offset: Int64
            let end: Int64

            public mutating func next() async throws -> ByteBuffer? {
                guard offset < end else { return nil }
                let length = Swift.min(Chunks.chunkLength, end - offset)
                let chunk = try await handle.readChunk(fromAbsoluteOffset: offset, length: .bytes(length))
                // A file cut short under a reader (edited in place) ends the stream early rather than looping.
                guard chunk.readableBytes > 0 else { throw StorageError.io(operation: "read", path: "", errno: EIO) }
                offset += Int64(chunk.readableBytes)
                return chunk
            }
        }

        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(handle: handle, offset: range.lowerBound, end: range.upperBound) }
    }

    /// Closes the file. Call once, after the last chunk.
    public func close() async {
        try? await handle.close()
    }
}
