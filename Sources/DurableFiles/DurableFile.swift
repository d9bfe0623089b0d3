#if canImport(Glibc)
    package import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A system call on a file that failed: which call, on which path, and `errno`.
package struct FileError: Error, Sendable, Equatable, CustomStringConvertible {
    package let operation: String
    package let path: String
    package let errno: Int32

    package init(_ operation: String, path: String, errno: Int32) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    /// The failure of the call just made (`errno` as it is now).
    static func last(_ operation: String, _ path: String) -> FileError { FileError(operation, path: path, errno: Glibc.errno) }

    package var description: String { "\(operation) \(path): \(String(cString: strerror(errno)))" }
}

/// The POSIX read and write loops, written once: `EINTR` is retried, a short write goes on.
package enum FileDescriptorIO {
    /// One `read(2)` (or `pread(2)` at `offset`) into `buffer`, retried on `EINTR`: the bytes read, 0 at
    /// the end of the file.
    package static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64? = nil, path: String)
        throws(FileError)
        -> Int
    {
        while true {
            let count =
                offset.map { pread(fd, buffer.baseAddress, buffer.count, off_t($0)) } ?? Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            if errno != EINTR { throw .last("read", path) }
        }
    }

    /// Reads until `buffer` is full or the file ends (from `offset` with `pread`): the bytes read.
    package static func readFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64? = nil, path: String)
        throws(FileError) -> Int
    {
        var done = 0
        while done < buffer.count {
            let count = try read(
                fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]), at: offset.map { $0 + Int64(done) }, path: path)
            if count == 0 { break }
            done += count
        }
        return done
    }

    /// ``read(_:into:at:path:)`` into an array's bytes.
    package static func read(_ fd: Int32, into buffer: inout [UInt8], at offset: Int64? = nil, path: String) throws(FileError) -> Int {
        try buffer.withUnsafeMutableBytes { raw in Result { () throws(FileError) in try read(fd, into: raw, at: offset, path: path) } }
            .get()
    }

    /// ``write(_:_:path:)`` of an array's bytes.
    package static func write(_ fd: Int32, _ bytes: [UInt8], path: String) throws(FileError) {
        try bytes.withUnsafeBytes { raw in Result { () throws(FileError) in try write(fd, raw, path: path) } }.get()
    }

    /// Writes all of `bytes`, retrying on `EINTR` and after short writes.
    package static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(FileError) {
        var written = 0
        while written < bytes.count {
            let count = Glibc.write(fd, bytes.baseAddress! + written, bytes.count - written)
            if count < 0 {
                if errno == EINTR { continue }
                throw .last("write", path)
            }
            written += count
        }
    }
}

/// Small files written durably, the one way ChainVault does it: written whole, fsynced, renamed into
/// place and the folder fsynced (a crash leaves the old file or the new one, never a mix, and an
/// acknowledged write survives power loss). Blocking: call it off Swift's cooperative pool.
package enum DurableFile {
    /// Writes `bytes` to a new file at `path` (replacing what was there), fsyncs it (`fdatasync` with
    /// `dataOnly`: the data and the size, not the times) and sets `mode`. The name is durable only once
    /// its folder is synced (``syncDirectory(_:)``).
    package static func write(_ path: String, bytes: [UInt8], mode: mode_t = 0o600, dataOnly: Bool = false) throws(FileError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .last("open", path) }
        defer { close(fd) }
        try FileDescriptorIO.write(fd, bytes, path: path)
        guard (dataOnly ? fdatasync(fd) : fsync(fd)) == 0 else { throw .last("fsync", path) }
    }

    /// Replaces `path` with `bytes`: a temporary file (`temporaryPath`, by default beside it with a
    /// random suffix), fsync, rename, fsync of the folder.
    package static func replace(_ path: String, bytes: [UInt8], mode: mode_t = 0o600, temporaryPath: String? = nil) throws(FileError) {
        let temporary = temporaryPath ?? path + ".tmp-\(UInt64.random(in: 0...UInt64.max))"
        do throws(FileError) {
            try write(temporary, bytes: bytes, mode: mode)
            try moveIntoPlace(temporary, as: path)
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// Renames a written and fsynced file over `path` and fsyncs the folder: for a file written as a
    /// stream (``replace(_:bytes:mode:temporaryPath:)`` for one written whole).
    package static func moveIntoPlace(_ temporary: String, as path: String) throws(FileError) {
        guard rename(temporary, path) == 0 else { throw .last("rename", path) }
        try syncDirectory(parent(of: path))
    }

    /// Makes `path` with `bytes` only when nothing is there (two processes racing: one wins, the other
    /// is told false and reads the winner's): a temporary file, fsync, `link(2)`, fsync of the folder.
    /// - Returns: Whether this call made the file.
    package static func create(_ path: String, bytes: [UInt8], mode: mode_t = 0o600) throws(FileError) -> Bool {
        let temporary = path + ".tmp-\(UInt64.random(in: 0...UInt64.max))"
        defer { unlink(temporary) }
        try write(temporary, bytes: bytes, mode: mode)
        guard link(temporary, path) == 0 else {
            if errno == EEXIST { return false }
            throw .last("link", path)
        }
        try syncDirectory(parent(of: path))
        return true
    }

    /// Appends `bytes` to `path` (made with `mode` when missing) and fsyncs it, and its folder when this
    /// made it.
    package static func append(_ path: String, bytes: [UInt8], mode: mode_t = 0o600) throws(FileError) {
        var fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        let created = fd < 0 && errno == ENOENT
        if created { fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, mode) }
        guard fd >= 0 else { throw .last("open", path) }
        defer { close(fd) }
        try FileDescriptorIO.write(fd, bytes, path: path)
        guard fsync(fd) == 0 else { throw .last("fsync", path) }
        if created { try syncDirectory(parent(of: path)) }
    }

    /// The whole file (never through a symbolic link), or nil when it does not exist.
    /// - Throws: ``FileError`` when it cannot be read, or `EFBIG` when it is larger than `limit`.
    package static func read(_ path: String, limit: Int = 1 << 20) throws(FileError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else {
            if errno == ENOENT || errno == ENOTDIR || errno == ELOOP { return nil }
            throw .last("open", path)
        }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while result.count <= limit {
            let count = try FileDescriptorIO.read(fd, into: &buffer, path: path)
            if count == 0 { return result }
            result.append(contentsOf: buffer[0..<count])
        }
        throw FileError("read", path: path, errno: EFBIG)
    }

    /// Removes `path` and fsyncs its folder; a missing file is fine.
    package static func remove(_ path: String) throws(FileError) {
        guard unlink(path) == 0 else {
            if errno == ENOENT { return }
            throw .last("unlink", path)
        }
        try syncDirectory(parent(of: path))
    }

    /// `fsync(2)` of a folder, so that a rename or creation inside it survives power loss.
    package static func syncDirectory(_ path: String) throws(FileError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .last("open", path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .last("fsync", path) }
    }

    /// The folder `path` is in.
    package static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
