import Crypto
import DurableFiles
import Foundation
import Hex
public import NIOCore
import NIOPosix
import Synchronization
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
        attributes: @escaping @Sendable () -> ObjectAttributes,
        body: Body
    ) async throws -> ObjectInfo where Body.Element == ByteBuffer {
        let objectKey = try ObjectKey(key)
        if condition != .none {
            // A condition that already fails is answered before the body is read; it is decided again,
            // atomically, when the object is published.
            try await blocking { () throws(StorageError) in
                try self.check(condition, bucketPath: try self.existingBucketPath(bucket), bucket: bucket, key: objectKey)
            }
        }
        return try await withStagedBody(
            body, bucket: bucket, key: key,
            finish: { fd, temporary, etag throws(StorageError) in
                try Self.seal(fd: fd, path: temporary, etag: etag, attributes: attributes(), bucket: bucket, key: key)
            },
            publish: { temporary, etag, sealed in
                try await publish(temporary: temporary, bucket: bucket, key: objectKey, condition: condition, sealed: sealed)
            })
    }

    /// Bytes gathered into one write of the temporary file (one blocking job).
    static let writeBatch = 1 << 20

    /// Streams `body` into a new temporary file, runs `finish` on it (still open, in the job that writes
    /// its last bytes), then hands its path, hex MD5 and what `finish` returned to `publish`, which must
    /// move the file into place. The temporary file is removed when streaming or `publish` fails.
    ///
    /// The body is gathered into writes of up to ``writeBatch`` bytes, one blocking job each, so a small
    /// body is written, finished and closed in one job.
    func withStagedBody<Body: AsyncSequence, Finished: Sendable, Result: Sendable>(
        _ body: Body,
        bucket: String,
        key: String,
        finish: @escaping @Sendable (_ fd: Int32, _ temporary: String, _ etag: String) throws(StorageError) -> Finished,
        publish: (_ temporary: String, _ etag: String, _ finished: Finished) async throws -> Result
    ) async throws -> Result where Body.Element == ByteBuffer {
        let file = TemporaryFile(path: newTemporaryPath())
        do {
            var md5 = Insecure.MD5()
            var pending = ByteBuffer()
            for try await chunk in body {
                chunk.withUnsafeReadableBytes { md5.update(bufferPointer: $0) }
                pending.writeImmutableBuffer(chunk)
                if pending.readableBytes >= Self.writeBatch {
                    let batch = pending
                    pending = ByteBuffer()
                    try await blocking { () throws(StorageError) in try file.append(batch) }
                }
            }
            let (etag, rest) = (Hex.encode(md5.finalize()), pending)
            let finished = try await blocking { () throws(StorageError) in
                try file.append(rest)
                defer { file.close() }
                return try finish(try file.descriptor(), file.path, etag)
            }
            return try await publish(file.path, etag, finished)
        } catch {
            file.close()
            _ = try? await blocking { () throws(StorageError) in try FileOperations.removeFile(file.path) }
            if let error = error as? StorageError, error.isOutOfSpace { throw StorageError.insufficientStorage(bucket: bucket, key: key) }
            throw error
        }
    }

    /// Sets an object's metadata on its (temporary) file as an extended attribute and fsyncs the file:
    /// bytes and metadata become durable together, before a name points at them.
    /// - Returns: The file's status when sealed.
    static func seal(
        fd: Int32, path: String, etag: String, attributes: ObjectAttributes, bucket: String, key: String
    ) throws(StorageError) -> Sealed {
        let status = try FileOperations.status(fd: fd, path: path)
        let value = MetadataAttribute.Value(
            etag: etag, attributes: attributes, size: status.size, modificationNanos: status.modificationNanos)
        try MetadataAttribute.set(try MetadataAttribute.encode(value, bucket: bucket, key: key), fd: fd, path: path)
        guard fsync(fd) == 0 else { throw FileOperations.fail("fsync", path) }
        return Sealed(etag: etag, attributes: attributes, status: status)
    }

    /// A temporary file whose bytes and metadata are durable, ready to be published.
    struct Sealed: Sendable {
        var etag: String
        var attributes: ObjectAttributes
        var status: FileOperations.Status
    }

    /// Moves a sealed temporary file under its key (``place(_:bucketPath:bucket:key:syncingDirectory:)``),
    /// durably. `condition` is checked again under the key's lock, just before the rename: the caller
    /// checked it when the request began, so failing now means a concurrent write won
    /// (``StorageError/conditionalRequestConflict(bucket:key:)``).
    func publish(temporary: String, bucket: String, key: ObjectKey, condition: WriteCondition = .none, sealed: Sealed) async throws
        -> ObjectInfo
    {
        try await locks.withLock(bucket + "/" + key.key) {
            try await blocking { () throws(StorageError) in
                try self.gate.whileOpen(bucket) { () throws(StorageError) in
                    let bucketPath = try self.existingBucketPath(bucket)
                    do throws(StorageError) {
                        try self.check(condition, bucketPath: bucketPath, bucket: bucket, key: key)
                    } catch .preconditionFailed, .noSuchKey {
                        throw .conditionalRequestConflict(bucket: bucket, key: key.key)
                    }
                    _ = try self.place(temporary, bucketPath: bucketPath, bucket: bucket, key: key)
                }
                return ObjectInfo(
                    bucket: bucket,
                    key: key.key,
                    size: sealed.status.size,
                    modificationNanos: sealed.status.modificationNanos,
                    etag: sealed.etag,
                    attributes: sealed.attributes
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
        // A file whose metadata was read before needs no opening (a listing's common case).
        guard let seen = try FileOperations.status(path), seen.isRegular else { return nil }
        if let value = metadataCache.value(for: seen) {
            return ObjectInfo(
                bucket: bucket, key: key, size: seen.size, modificationNanos: seen.modificationNanos, etag: value.etag,
                attributes: value.attributes)
        }
        do throws(StorageError) {
            return try FileOperations.withFile(path, flags: O_RDONLY | O_NOFOLLOW) { fd throws(StorageError) in
                let status = try FileOperations.status(fd: fd, path: path)
                guard status.isRegular else { return nil }
                return try self.info(bucket: bucket, key: key, fd: fd, status: status)
            }
        } catch .io("open", _, let code) where code == ENOENT || code == ELOOP || code == ENOTDIR {
            return nil
        }
    }

    /// Objects up to this size are read whole when they are opened, in the same blocking job.
    public static let inlineReadLimit: Int64 = 128 * 1024

    /// Opens an object for reading. The reader's info and bytes come from the same open file, so a
    /// concurrent overwrite never mixes the old object's headers with the new one's bytes.
    ///
    /// One blocking job finds the file, opens it, reads its status and metadata, and — for an object of
    /// at most ``inlineReadLimit`` bytes when `readingBody` — its bytes: a small GET costs one hop to the
    /// thread pool. Larger objects are read a chunk at a time as the consumer asks.
    /// - Throws: ``StorageError/noSuchBucket(_:)``, ``StorageError/noSuchKey(bucket:key:)``.
    public func openObject(bucket: String, key: String, readingBody: Bool = true) async throws(StorageError) -> ObjectReader {
        let objectKey = try Self.lookupKey(bucket: bucket, key: key)
        return try await blocking { () throws(StorageError) in
            guard let path = try self.locate(bucketPath: try self.existingBucketPath(bucket), bucket: bucket, key: objectKey) else {
                throw .noSuchKey(bucket: bucket, key: key)
            }
            let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else {
                if errno == ENOENT || errno == ELOOP || errno == ENOTDIR { throw .noSuchKey(bucket: bucket, key: key) }
                throw FileOperations.fail("open", path)
            }
            let file = OpenFile(fd: fd, path: path, threadPool: self.threadPool)
            let status = try FileOperations.status(fd: fd, path: path)
            guard status.isRegular else { throw .noSuchKey(bucket: bucket, key: key) }
            let info = try self.info(bucket: bucket, key: key, fd: fd, status: status)
            guard readingBody, status.size <= Self.inlineReadLimit else { return ObjectReader(info: info, storage: .file(file)) }
            let bytes = try file.read(at: 0, length: Int(status.size))
            // A file that changed size since its status was read is read chunk by chunk from the same
            // descriptor, as a large one (never reopened by path: that could be another version).
            guard bytes.readableBytes == status.size else { return ObjectReader(info: info, storage: .file(file)) }
            file.close()
            return ObjectReader(info: info, storage: .inline(bytes))
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
    func info(bucket: String, key: String, fd: Int32, status: FileOperations.Status) throws(StorageError) -> ObjectInfo {
        let (size, modificationNanos) = (status.size, status.modificationNanos)
        if let value = metadataCache.value(for: status) {
            return ObjectInfo(
                bucket: bucket, key: key, size: size, modificationNanos: modificationNanos, etag: value.etag, attributes: value.attributes)
        }
        if let value = MetadataAttribute.get(fd: fd), value.matches(size: size, modificationNanos: modificationNanos) {
            metadataCache.store(value, for: status)
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
        var offset: Int64 = 0
        while true {
            let count: Int
            do { count = try FileDescriptorIO.read(fd, into: &buffer, at: offset, path: path) } catch { throw StorageError(error) }
            if count == 0 { break }
            offset += Int64(count)
            buffer.withUnsafeBytes { md5.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
        return Hex.encode(md5.finalize())
    }

}

/// An open object: its info and its bytes, read from one file descriptor (or already read whole).
public struct ObjectReader: Sendable {
    /// The object's info, taken from the open file.
    public let info: ObjectInfo
    let storage: Storage

    enum Storage: Sendable {
        /// A small object, read when it was opened.
        case inline(ByteBuffer)
        /// A larger one, read on demand.
        case file(OpenFile)
    }

    /// The bytes in `range`, in chunks of at most 128 KiB, each read only when the consumer asks for it
    /// and fewer than two of its chunks are still held (``ChunkCredits``): a slow reader holds two
    /// chunks at most, and the socket's back-pressure reaches the disk.
    public func chunks(in range: Range<Int64>) -> Chunks { Chunks(storage: storage, range: range) }

    /// The chunks of an open object, read one at a time on demand.
    public struct Chunks: AsyncSequence, Sendable {
        public typealias Element = ByteBuffer
        static let chunkLength: Int64 = 128 * 1024
        let storage: Storage
        let range: Range<Int64>

        /// The most chunks of one reader in memory at once (``ChunkCredits``): one being sent, one ready.
        static let chunksOut = 2

        public struct AsyncIterator: AsyncIteratorProtocol {
            let storage: Storage
            var offset: Int64
            let end: Int64
            /// Made on the first read from the file: an object served from memory needs none.
            var credits: ChunkCredits?

            public mutating func next() async throws -> ByteBuffer? {
                guard offset < end else { return nil }
                let chunk: ByteBuffer
                switch storage {
                case .inline(let bytes):
                    chunk = bytes.getSlice(at: bytes.readerIndex + Int(offset), length: Int(end - offset)) ?? ByteBuffer()
                case .file(let file):
                    let credits = self.credits ?? ChunkCredits(limit: Chunks.chunksOut)
                    self.credits = credits
                    await credits.acquire()
                    do {
                        chunk = try await file.readOnThreadPool(at: offset, length: Int(Swift.min(Chunks.chunkLength, end - offset)))
                    } catch {
                        credits.release()
                        throw error
                    }
                    ChunkBuffers.attach(credits, to: chunk)
                }
                // A file cut short under a reader (edited in place) ends the stream early rather than looping.
                guard chunk.readableBytes > 0 else { throw StorageError.io(operation: "read", path: "", errno: EIO) }
                offset += Int64(chunk.readableBytes)
                return chunk
            }
        }

        public func makeAsyncIterator() -> AsyncIterator {
            AsyncIterator(storage: storage, offset: range.lowerBound, end: range.upperBound)
        }
    }

    /// Closes the file. Call once, after the last chunk (a reader dropped without it closes when released).
    public func close() async {
        if case .file(let file) = storage { file.close() }
    }
}

/// A temporary file being written: created on its first append (mode 0640), closed once.
final class TemporaryFile: Sendable {
    let path: String
    private let fd = OwnedDescriptor(-1)

    init(path: String) { self.path = path }

    /// The open descriptor, creating the file if nothing was appended yet.
    func descriptor() throws(StorageError) -> Int32 {
        let current = fd.value
        if current >= 0 { return current }
        let opened = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
        guard opened >= 0 else { throw FileOperations.fail("open", path) }
        fd.replace(with: opened)
        return opened
    }

    /// Writes all of `bytes` at the end. Blocking.
    func append(_ bytes: ByteBuffer) throws(StorageError) {
        let fd = try descriptor()
        let result = bytes.withUnsafeReadableBytes { raw in
            Result { () throws(FileError) in try FileDescriptorIO.write(fd, raw, path: path) }
        }
        if case .failure(let error) = result { throw StorageError(error) }
    }

    func close() { fd.close() }
}

/// A file descriptor owned by one reader, read with `pread` (its offset never moves), closed once:
/// by ``close()`` or when the last reference goes.
final class OpenFile: Sendable {
    private let descriptor: OwnedDescriptor
    let path: String
    let threadPool: NIOThreadPool

    init(fd: Int32, path: String, threadPool: NIOThreadPool) {
        self.descriptor = OwnedDescriptor(fd)
        self.path = path
        self.threadPool = threadPool
    }

    /// Up to `length` bytes at `offset` (fewer at the end of the file), in a buffer of `allocator`. Blocking.
    func read(at offset: Int64, length: Int, allocator: ByteBufferAllocator = ByteBufferAllocator()) throws(StorageError) -> ByteBuffer {
        let fd = descriptor.value
        guard fd >= 0 else { throw .io(operation: "read", path: path, errno: EBADF) }
        var buffer = allocator.buffer(capacity: length)
        var result: Result<Int, FileError> = .success(0)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { bytes in
            result = Result { () throws(FileError) in
                try FileDescriptorIO.readFully(fd, into: UnsafeMutableRawBufferPointer(rebasing: bytes[..<length]), at: offset, path: path)
            }
            return (try? result.get()) ?? 0
        }
        if case .failure(let error) = result { throw StorageError(error) }
        return buffer
    }

    /// ``read(at:length:allocator:)`` on the thread pool, into a pooled chunk buffer (``ChunkBuffers``).
    func readOnThreadPool(at offset: Int64, length: Int) async throws -> ByteBuffer {
        try await threadPool.runIfActive { try self.read(at: offset, length: length, allocator: ChunkBuffers.allocator) }
    }

    func close() { descriptor.close() }
}

/// A file descriptor closed exactly once: by ``close()``, or when its owner goes.
final class OwnedDescriptor: Sendable {
    private let fd: Mutex<Int32>

    init(_ fd: Int32) { self.fd = Mutex(fd) }

    /// The descriptor, or -1 once closed.
    var value: Int32 { fd.withLock { $0 } }

    /// Takes ownership of `descriptor` in place of none.
    func replace(with descriptor: Int32) { fd.withLock { $0 = descriptor } }

    func close() {
        let open = fd.withLock { fd in
            defer { fd = -1 }
            return fd
        }
        if open >= 0 { Glibc.close(open) }
    }

    deinit { close() }
}
