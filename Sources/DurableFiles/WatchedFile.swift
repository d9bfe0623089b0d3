import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A value read from a small file that another process may replace (the credential file, the
/// keyring): kept in memory, and read again only when the file changed, which is looked at (`stat`)
/// at most once per `recheckInterval`. Blocking: a caller on Swift's cooperative pool runs it on a
/// thread pool unless the once-per-interval `stat` is all it may cost.
package final class WatchedFile<Value: Sendable>: Sendable {
    package let path: String
    private let recheckInterval: Duration
    private let read: @Sendable (String) throws -> Value
    private let state = Mutex<State>(State())

    private struct State {
        var value: Value?
        var version: FileVersion?
        var checked: ContinuousClock.Instant?
    }

    /// - Parameters:
    ///   - recheckInterval: How long a value is used before the file is looked at again.
    ///   - read: Reads the file at the path (also when there is none, to say what that means); what it
    ///     throws is not kept, so the next call reads again.
    package init(path: String, recheckInterval: Duration, read: @escaping @Sendable (String) throws -> Value) {
        self.path = path
        self.recheckInterval = recheckInterval
        self.read = read
    }

    /// The value: the one read before while the file is unchanged, else read anew.
    package func value() throws -> Value {
        let now = ContinuousClock.now
        let recent = state.withLock { state in state.checked.map { now - $0 < recheckInterval } == true ? state.value : nil }
        if let recent { return recent }
        let current = FileVersion(path: path)
        let unchanged = state.withLock { state -> Value? in
            guard let value = state.value, current != nil, current == state.version else { return nil }
            state.checked = now
            return value
        }
        if let unchanged { return unchanged }
        let value = try read(path)
        state.withLock { $0 = State(value: value, version: current, checked: now) }
        return value
    }

    /// Forgets the value, so that the next call reads the file: after this process wrote it.
    package func invalidate() { state.withLock { $0 = State() } }
}

/// Which file is at a path and when it last changed: replacing it (a rename over it) or writing it
/// changes this.
struct FileVersion: Equatable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modified: Int64
    var changed: Int64

    /// Nil when nothing is at `path`.
    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        changed = Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec)
    }
}
