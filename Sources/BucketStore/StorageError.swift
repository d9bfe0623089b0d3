/// What can go wrong in the bucket store. The gateway maps each case to an S3 error code.
public enum StorageError: Error, Sendable, Equatable {
    /// The bucket name breaks the S3 naming rules.
    case invalidBucketName(String)
    /// No bucket of that name.
    case noSuchBucket(String)
    /// The bucket exists and belongs to another user.
    case bucketAlreadyExists(String)
    /// The bucket exists and belongs to the caller.
    case bucketAlreadyOwnedByYou(String)
    /// The bucket still holds objects.
    case bucketNotEmpty(String)
    /// No object under that key.
    case noSuchKey(bucket: String, key: String)
    /// The key is longer than 1024 bytes, or a segment longer than the file system allows.
    case keyTooLong(String)
    /// The key is not one S3 allows (empty, or with a NUL byte); the reason says which rule.
    case invalidKey(key: String, reason: String)
    /// A conditional write's condition does not hold (`If-None-Match: *` on an existing object,
    /// `If-Match` with another ETag).
    case preconditionFailed(bucket: String, key: String)
    /// A conditional write's condition held when the request began but no longer did when it was to be
    /// published: a concurrent write or delete of the key won (S3's `ConditionalRequestConflict`).
    case conditionalRequestConflict(bucket: String, key: String)
    /// No in-flight multipart upload with that id for that bucket and key.
    case noSuchUpload(uploadId: String)
    /// A part named in CompleteMultipartUpload is missing or its ETag differs.
    case invalidPart(partNumber: Int)
    /// The parts of CompleteMultipartUpload are not in ascending order, or the list is empty.
    case invalidPartOrder
    /// A part other than the last is smaller than 5 MiB.
    case entityTooSmall(partNumber: Int, size: Int64)
    /// The file system is full.
    case insufficientStorage(bucket: String, key: String)
    /// The object's headers and user metadata together are too large to keep with it.
    case metadataTooLarge(bucket: String, key: String)
    /// The data root cannot be served by this build: its layout is newer, or its file system lacks what
    /// the layout needs (user extended attributes). Raised when the store opens, never by a request.
    case unusableDataRoot(path: String, reason: String)
    /// A file-system call failed; `operation` names the call and `path` the file, `errno` the cause.
    case io(operation: String, path: String, errno: Int32)
}

extension StorageError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .invalidBucketName(let name): "invalid bucket name '\(name)'"
        case .noSuchBucket(let name): "no bucket '\(name)'"
        case .bucketAlreadyExists(let name): "bucket '\(name)' belongs to another user"
        case .bucketAlreadyOwnedByYou(let name): "bucket '\(name)' already exists"
        case .bucketNotEmpty(let name): "bucket '\(name)' is not empty"
        case .noSuchKey(let bucket, let key): "no object '\(key)' in bucket '\(bucket)'"
        case .keyTooLong(let key): "key too long (\(key.utf8.count) bytes)"
        case .invalidKey(_, let reason): "invalid key: \(reason)"
        case .preconditionFailed(let bucket, let key): "the condition on '\(key)' in '\(bucket)' does not hold"
        case .conditionalRequestConflict(let bucket, let key): "a concurrent write of '\(key)' in '\(bucket)' won"
        case .noSuchUpload(let uploadId): "no multipart upload '\(uploadId)'"
        case .invalidPart(let partNumber): "part \(partNumber) is missing or has another ETag"
        case .invalidPartOrder: "the parts are not in ascending order"
        case .entityTooSmall(let partNumber, let size): "part \(partNumber) has \(size) bytes, less than 5 MiB"
        case .insufficientStorage(let bucket, let key): "no space left to store '\(key)' in '\(bucket)'"
        case .metadataTooLarge(let bucket, let key): "the metadata of '\(key)' in '\(bucket)' is too large"
        case .unusableDataRoot(let path, let reason): "the data root \(path) cannot be used: \(reason)"
        case .io(let operation, let path, let errno): "\(operation) \(path) failed: errno \(errno)"
        }
    }
}
