import BucketStore
import S3Protocol

extension StorageError {
    /// The S3 error a storage failure is reported as. Exhaustive: a new storage case does not compile
    /// until someone chose its S3 code.
    var s3Error: S3Error {
        switch self {
        case .invalidBucketName(let name):
            S3Error(
                .invalidBucketName, "The bucket name '\(name)' is not valid: use 3-63 lowercase letters, digits, '.' and '-'.",
                resource: name)
        case .noSuchBucket(let name):
            S3Error(.noSuchBucket, resource: name)
        case .bucketAlreadyExists(let name):
            S3Error(.bucketAlreadyExists, resource: name)
        case .bucketAlreadyOwnedByYou(let name):
            S3Error(.bucketAlreadyOwnedByYou, resource: name)
        case .bucketNotEmpty(let name):
            S3Error(.bucketNotEmpty, resource: name)
        case .noSuchKey(let bucket, let key):
            S3Error(.noSuchKey, resource: "/\(bucket)/\(key)")
        case .keyTooLong:
            S3Error(.keyTooLongError, "Keys are at most 1024 bytes of UTF-8.")
        case .invalidKey(let key, let reason):
            S3Error(.invalidArgument, "The key cannot be stored: \(reason).", resource: key)
        case .preconditionFailed(let bucket, let key):
            S3Error(.preconditionFailed, resource: "/\(bucket)/\(key)")
        case .conditionalRequestConflict(let bucket, let key):
            S3Error(.conditionalRequestConflict, resource: "/\(bucket)/\(key)")
        case .noSuchUpload(let uploadId):
            S3Error(.noSuchUpload, resource: uploadId)
        case .invalidPart(let partNumber):
            S3Error(.invalidPart, "Part \(partNumber) was not uploaded, or its ETag does not match the one given.")
        case .invalidPartOrder:
            S3Error(.invalidPartOrder, "List at least one part, in ascending order of part numbers.")
        case .entityTooSmall(let partNumber, let size):
            S3Error(.entityTooSmall, "Part \(partNumber) has \(size) bytes; every part but the last needs at least 5 MiB.")
        case .insufficientStorage(let bucket, let key):
            S3Error(
                .insufficientStorage,
                "The file system has less free space than this write and the server's reserve need (--free-space-reserve).",
                resource: "/\(bucket)/\(key)")
        case .metadataTooLarge(let bucket, let key):
            S3Error(.metadataTooLarge, "The object's headers and user metadata together exceed 3 KB.", resource: "/\(bucket)/\(key)")
        case .unusableDataRoot:
            S3Error(.internalError)
        case .io:
            // ENOSPC or EDQUOT in any step of a write (a record, a concatenation) is a full disk, not a bug.
            isOutOfSpace ? S3Error(.insufficientStorage) : S3Error(.internalError)
        }
    }
}
