import BucketStore
import S3Protocol

/// Who may do what on which bucket: the root key everything; other keys their own buckets and the
/// buckets they were granted; read-only keys only reads.
struct BucketAccess: Sendable {
    let store: BucketStore

    /// Checks that `caller` may run `operation` on `bucket`.
    /// - Throws: ``S3Error`` `AccessDenied`, ``StorageError`` `noSuchBucket` (to any authenticated caller, as S3).
    func authorize(_ caller: AccessKey, operation: S3Operation, bucket: String?) async throws {
        if caller.readOnly, !operation.isRead {
            throw S3Error(.accessDenied, "This access key is read-only.")
        }
        guard let bucket, operation != .createBucket else { return }
        let info = try await store.bucket(bucket)
        guard caller.mayAccess(bucket: bucket, owner: info.owner) else {
            throw S3Error(.accessDenied, "This access key may not use bucket '\(bucket)'.")
        }
    }
}
