import Foundation
import NIOPosix
import Synchronization

/// The keyring file as a server reads it for every upload and download: read once, and again only
/// when the file changed (a rotation by `chainvault keys rotate`), which is looked at most once a
/// second. The look and the read are blocking file calls, made on NIO's thread pool, never on Swift's
/// cooperative one.
public final class KeyringFile: Sendable {
    public let path: String
    private let threadPool: NIOThreadPool
    private let state = Mutex<State>(State())
    /// How long a keyring is used before the file is looked at again.
    private let recheckInterval: Duration

    struct State {
        var keyring: Keyring?
        var version: Version?
        var checked: ContinuousClock.Instant?
    }

    /// Which file, and when it last changed: a rename of a new keyring over the old one changes it.
    struct Version: Equatable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modified: Int64
        var changed: Int64

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

    public init(path: String, threadPool: NIOThreadPool = .singleton, recheckInterval: Duration = .seconds(1)) {
        self.path = path
        self.threadPool = threadPool
        self.recheckInterval = recheckInterval
    }

    /// The keyring: the one read before while the file is unchanged, else read anew.
    /// - Throws: ``ChainError/keyringMissing(path:indexedChains:chunks:keyIds:)`` when there is no
    ///   file (never made here: fail closed), ``ChainError/keyring(_:cause:)`` when it is unreadable.
    public func current() async throws -> Keyring {
        let now = ContinuousClock.now
        if let fresh = state.withLock({ state in
            state.checked.map { now - $0 < recheckInterval } == true ? state.keyring : nil
        }) {
            return fresh
        }
        let path = self.path
        let known = state.withLock { ($0.keyring, $0.version) }
        let (keyring, version) = try await threadPool.runIfActive { () throws -> (Keyring, Version?) in
            let version = Version(path: path)
            if let keyring = known.0, version != nil, version == known.1 { return (keyring, version) }
            return (try Keyring.open(path: path), version)
        }
        state.withLock { $0 = State(keyring: keyring, version: version, checked: now) }
        return keyring
    }
}
