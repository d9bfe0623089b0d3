/// What can go wrong with a chain. Each tamper case has its own error, so an operator learns what
/// happened and where.
public enum ChainError: Error, Sendable, Equatable {
    /// The chunk a pointer names is in neither place it should be.
    case missingChunk(index: Int, bucket: ChainBucket, key: String)
    /// The chunk's bytes do not hash to its pointer: tampering or bit rot.
    case hashMismatch(index: Int, bucket: ChainBucket, key: String)
    /// The chunk does not open under the data key: its header or ciphertext was altered, or the key is wrong.
    case authenticationFailed(index: Int)
    /// The chunk belongs to another chain.
    case foreignChunk(index: Int)
    /// The chunk carries another index than its place in the chain: chunks were reordered.
    case wrongIndex(expected: Int, found: Int)
    /// The chain ends before its last chunk.
    case truncated(chunksRead: Int, expected: Int)
    /// A chunk is shorter than its header says.
    case truncatedChunk(index: Int)
    /// Bytes or chunks follow where the chain or a chunk should end.
    case extraData(index: Int)
    /// The keyring holds a key with the id the head names, but it does not unwrap the data key.
    case wrongMasterKey(String)
    /// The data key was wrapped by a master key the keyring does not hold.
    case unknownKeyId(String)
    /// The chunk's format version is not one this build reads.
    case unsupportedVersion(Int)
    /// The bytes are not a chunk (bad magic or reserved fields).
    case malformedChunk(index: Int, reason: String)
    /// The plaintext read does not match the length and SHA-256 sealed in the head.
    case manifestMismatch
    /// The keyring file cannot be read or written: what, and the error underneath when there is one.
    case keyring(String, cause: Cause? = nil)
    /// There is no keyring file. When the vault has chains (`indexedChains` in the index, `chunks`
    /// objects in its buckets), only a master key opens their data keys: a restore that forgot the
    /// keyring, or a wrong `--master-key-file`. A new key would wrap new reports under a stray key,
    /// so nothing is created.
    case keyringMissing(path: String, indexedChains: Int, chunks: Int, keyIds: [String])
    /// A chunk store failed: what it was doing, and the error underneath (a file system's, an S3 service's).
    case store(String, cause: Cause? = nil)
    /// A chunk store, or the spool a report is staged in, has no room left: a local file system is full,
    /// or a remote bucket answered 507 `InsufficientStorage`.
    case storeFull(String)

    /// The error a store or the keyring file threw, kept as it was thrown (for code that looks at it)
    /// and described for people; two causes are equal when they describe the same failure.
    public struct Cause: Error, Sendable, Equatable, CustomStringConvertible {
        public let error: any Error

        public init(_ error: any Error) { self.error = error }

        public var description: String { String(describing: error) }

        public static func == (left: Cause, right: Cause) -> Bool { left.description == right.description }
    }

    /// Runs one store operation, turning what it throws into a ``ChainError``: `.storeFull` when `isFull`
    /// says so, else `.store` with the error as its cause (a ``ChainError`` passes unchanged).
    static func mapping<T>(
        _ operation: @autoclosure () -> String, isFull: (any Error) -> Bool, _ body: () async throws -> T
    ) async throws(ChainError) -> T {
        do {
            return try await body()
        } catch let error as ChainError {
            throw error
        } catch  where isFull(error) {
            throw .storeFull("\(operation()): \(error)")
        } catch {
            throw .store(operation(), cause: Cause(error))
        }
    }
}

extension ChainError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .missingChunk(let index, let bucket, let key): "chunk \(index) is missing: no object \(key) in bucket \(bucket)"
        case .hashMismatch(let index, let bucket, let key):
            "chunk \(index) (\(bucket):\(key)) does not hash to its pointer: it was altered or has rotted"
        case .authenticationFailed(let index):
            "chunk \(index) does not authenticate under the report's key: its header or ciphertext was altered"
        case .foreignChunk(let index): "chunk \(index) belongs to another chain: a chunk was spliced in"
        case .wrongIndex(let expected, let found): "chunk \(expected) carries index \(found): chunks were reordered"
        case .truncated(let read, let expected): "the chain ends after \(read) of its \(expected) chunks"
        case .truncatedChunk(let index): "chunk \(index) is shorter than its header says"
        case .extraData(let index): "data follows the end at chunk \(index)"
        case .wrongMasterKey(let id):
            "master key \(id) in the keyring does not unwrap this report's key: the keyring holds another key under that id"
        case .unknownKeyId(let id): "the report's key was wrapped by master key \(id), which is not in the keyring"
        case .unsupportedVersion(let version): "chunk format version \(version) is not supported by this build (it reads version 1)"
        case .malformedChunk(let index, let reason): "chunk \(index) is not a valid chunk: \(reason)"
        case .manifestMismatch: "the report read does not match the length and SHA-256 sealed in its head"
        case .keyring(let detail, let cause): "keyring: \(detail)" + (cause.map { ": \($0)" } ?? "")
        case .keyringMissing(let path, let indexedChains, let chunks, let keyIds):
            "the keyring \(path) is missing"
                + (indexedChains > 0 ? ", but this data root holds \(indexedChains) indexed chain(s)" : "")
                + (chunks > 0 ? (indexedChains > 0 ? " and " : ", but this data root holds ") + "\(chunks) chunk object(s)" : "")
                + (keyIds.isEmpty ? "" : "; their data keys need master key(s) \(keyIds.joined(separator: ", "))")
                + ": restore keyring.json from the backup, or point --master-key-file (CHAINVAULT_MASTER_KEY_FILE) at it."
                + " A new keyring is made only for a data root without chains (serve, chain put, keys init)."
        case .store(let detail, let cause): "chunk store: \(detail)" + (cause.map { ": \($0)" } ?? "")
        case .storeFull(let detail): "chunk store full: \(detail)"
        }
    }
}
