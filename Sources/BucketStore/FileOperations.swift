import DurableFiles

// Which clang module "owns" `struct stat` (Glibc or CDispatch, both include <sys/stat.h>) depends on the
// order the compiler loads modules in a batch; MemberImportVisibility wants the owner imported.
#if canImport(CDispatch)
    import CDispatch
#endif

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The blocking file-system calls the store makes, each mapped to ``StorageError``.
///
/// These run on the NIO thread pool (see ``BucketStore``), never on an event loop.
enum FileOperations {
    struct Status: Sendable, Equatable {
        var isDirectory: Bool
        var isRegular: Bool
        var isSymlink: Bool
        var size: Int64
        var modificationNanos: Int64
        /// Which file this is, and when its inode last changed (data, attributes, links): together with
        /// size and time, what the metadata cache is keyed by.
        var device: UInt64
        var inode: UInt64
        var changeNanos: Int64

        init(_ info: stat) {
            let type = info.st_mode & S_IFMT
            isDirectory = type == S_IFDIR
            isRegular = type == S_IFREG
            isSymlink = type == S_IFLNK
            size = Int64(info.st_size)
            modificationNanos = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
            changeNanos = Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec)
        }
    }

    static func fail(_ operation: String, _ path: String) -> StorageError {
        .io(operation: operation, path: path, errno: errno)
    }

    /// `lstat(2)`; nil when nothing is at `path` (or a parent is not a directory).
    static func status(_ path: String) throws(StorageError) -> Status? {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw fail("lstat", path)
        }
        return Status(info)
    }

    /// `fstat(2)` of an open file.
    static func status(fd: Int32, path: String) throws(StorageError) -> Status {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw fail("fstat", path) }
        return Status(info)
    }

    /// Opens `path` with `flags` (plus `O_CLOEXEC`), runs `body` with the descriptor and closes it.
    static func withFile<Result>(_ path: String, flags: Int32, _ body: (Int32) throws(StorageError) -> Result) throws(StorageError)
        -> Result
    {
        let fd = open(path, flags | O_CLOEXEC)
        guard fd >= 0 else { throw fail("open", path) }
        defer { close(fd) }
        return try body(fd)
    }

    /// `fsync(2)` of a file's data and metadata.
    static func syncFile(_ path: String) throws(StorageError) {
        try withFile(path, flags: O_RDONLY) { fd throws(StorageError) in
            guard fsync(fd) == 0 else { throw fail("fsync", path) }
        }
    }

    /// `fsync(2)` of a directory, so that a rename or creation inside it survives power loss.
    static func syncDirectory(_ path: String) throws(StorageError) {
        do { try DurableFile.syncDirectory(path) } catch { throw StorageError(error) }
    }

    /// Creates `path` as a directory; true when it was created, false when one was already there.
    @discardableResult
    static func makeDirectory(_ path: String, mode: mode_t = 0o755) throws(StorageError) -> Bool {
        if mkdir(path, mode) == 0 { return true }
        if errno == EEXIST, try status(path)?.isDirectory == true { return false }
        throw fail("mkdir", path)
    }

    /// Creates every missing directory from `base` down to `base/relative`, syncing each new directory's parent.
    static func makeDirectories(base: String, relative: [Substring], mode: mode_t = 0o755) throws(StorageError) {
        var path = base
        for segment in relative {
            let parent = path
            path += "/" + segment
            if try makeDirectory(path, mode: mode) { try syncDirectory(parent) }
        }
    }

    /// `rename(2)`.
    static func rename(_ from: String, _ to: String) throws(StorageError) {
        guard Glibc.rename(from, to) == 0 else { throw fail("rename", to) }
    }

    /// `unlink(2)`; false when nothing was there.
    @discardableResult
    static func removeFile(_ path: String) throws(StorageError) -> Bool {
        if unlink(path) == 0 { return true }
        if errno == ENOENT { return false }
        throw fail("unlink", path)
    }

    /// `rmdir(2)`; false when the directory is missing or not empty.
    @discardableResult
    static func removeDirectory(_ path: String) -> Bool {
        rmdir(path) == 0
    }

    /// The names in a directory with their kinds, without `.` and `..`; nil when it does not exist.
    static func entries(_ path: String) throws(StorageError) -> [(name: String, kind: EntryKind)]? {
        guard let dir = opendir(path) else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw fail("opendir", path)
        }
        defer { closedir(dir) }
        var result: [(String, EntryKind)] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> String? in
                let bytes = raw.prefix(while: { $0 != 0 })
                return String(validating: bytes, as: UTF8.self)
            }
            // Names that are not UTF-8 cannot be S3 keys; an operator may have put them there.
            guard let name, name != ".", name != ".." else { continue }
            let kind: EntryKind
            switch Int32(entry.pointee.d_type) {
            case Int32(DT_DIR): kind = .directory
            case Int32(DT_REG): kind = .file
            case Int32(DT_LNK): kind = .other
            case Int32(DT_UNKNOWN):
                let info = try status(path + "/" + name)
                kind = info?.isDirectory == true ? .directory : info?.isRegular == true ? .file : .other
            default: kind = .other
            }
            result.append((name, kind))
        }
        return result
    }

    enum EntryKind: Sendable {
        case file
        case directory
        case other
    }

    /// Writes `bytes` to a new file at `path`, fsyncs it (`fdatasync` with `dataOnly`: the data and
    /// the size, not the times) and sets `mode`.
    static func writeFile(_ path: String, bytes: [UInt8], mode: mode_t = 0o644, dataOnly: Bool = false) throws(StorageError) {
        do { try DurableFile.write(path, bytes: bytes, mode: mode, dataOnly: dataOnly) } catch { throw StorageError(error) }
    }

    /// Reads a whole small file (never through a symbolic link); nil when it does not exist.
    static func readFile(_ path: String, limit: Int = 1 << 20) throws(StorageError) -> [UInt8]? {
        do { return try DurableFile.read(path, limit: limit) } catch { throw StorageError(error) }
    }

    /// The first `count` bytes of a regular file (all of it when shorter), read straight into one array;
    /// nil when nothing (or a symbolic link, or not a regular file) is at `path`.
    static func readPrefix(_ path: String, count: Int) throws(StorageError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else {
            if errno == ENOENT || errno == ENOTDIR || errno == ELOOP { return nil }
            throw fail("open", path)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw fail("fstat", path) }
        guard info.st_mode & S_IFMT == S_IFREG else { return nil }
        let wanted = min(Int(info.st_size), count)
        var result: Result<Int, FileError> = .success(0)
        let bytes = [UInt8](unsafeUninitializedCapacity: wanted) { buffer, initialized in
            result = Result { () throws(FileError) in
                try FileDescriptorIO.readFully(fd, into: UnsafeMutableRawBufferPointer(buffer), path: path)
            }
            initialized = (try? result.get()) ?? 0
        }
        if case .failure(let error) = result { throw StorageError(error) }
        // Shorter than its size said: the file shrank under the read.
        guard bytes.count == wanted else { throw .io(operation: "read", path: path, errno: EIO) }
        return bytes
    }

    /// Writes a small file atomically and durably: temp file, fsync, rename, fsync of the directory.
    static func replaceFile(_ path: String, bytes: [UInt8], temporaryPath: String, mode: mode_t = 0o644) throws(StorageError) {
        do { try DurableFile.replace(path, bytes: bytes, mode: mode, temporaryPath: temporaryPath) } catch { throw StorageError(error) }
    }

    static func parent(of path: String) -> String { DurableFile.parent(of: path) }
}

extension StorageError {
    /// A failed system call of ``DurableFile`` or ``FileDescriptorIO``.
    init(_ error: FileError) { self = .io(operation: error.operation, path: error.path, errno: error.errno) }
}
