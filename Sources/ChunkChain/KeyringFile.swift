import DurableFiles
public import NIOPosix

/// The keyring file as a server reads it for every upload and download: read once, and again only
/// when the file changed (a rotation by `chainvault keys rotate`), which is looked at most once a
/// second. The look and the read are blocking file calls, made on NIO's thread pool, never on Swift's
/// cooperative one.
public final class KeyringFile: Sendable {
    private let file: WatchedFile<Keyring>
    private let threadPool: NIOThreadPool

    /// - Parameter recheckInterval: How long a keyring is used before the file is looked at again.
    public init(path: String, threadPool: NIOThreadPool = .singleton, recheckInterval: Duration = .seconds(1)) {
        self.file = WatchedFile(path: path, recheckInterval: recheckInterval) { try Keyring.open(path: $0) }
        self.threadPool = threadPool
    }

    public var path: String { file.path }

    /// The keyring: the one read before while the file is unchanged, else read anew.
    /// - Throws: ``ChainError/keyringMissing(path:indexedChains:chunks:keyIds:)`` when there is no
    ///   file (never made here: fail closed), ``ChainError/keyring(_:cause:)`` when it is unreadable.
    public func current() async throws -> Keyring {
        let file = self.file
        return try await threadPool.runIfActive { try file.value() }
    }
}
