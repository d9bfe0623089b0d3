import BucketStore
import S3Client

/// Whether a chain write failed for want of space: the data root's or the spool's file system is full,
/// or a remote bucket answered 507 `InsufficientStorage`.
public func isOutOfSpace(_ error: any Error) -> Bool {
    if let error = error as? S3ClientError { return error.status == 507 || error.code == "InsufficientStorage" }
    return BucketStore.isOutOfSpace(error)
}
