import BucketStore
import S3Protocol

/// Who may do what on which bucket: the root key everything; other keys their own buckets and the
/// buckets they were granted; read-only keys only reads.
struct BucketAccess: Sendable {
    let store: BucketStore

    /// Checks that `caller` may run `operation` on `bucket`. A bucket that does not exist is
    /// `404 NoSuchBucket` before any right is checked, for every caller and operation, as S3 answers.
    /// - Throws: ``S3Error`` `AccessDenied`, ``StorageError`` `noSuchBucket`.
    func authorize(_ caller: AccessKey, operation: S3Operation, bucket: String?) async throws {
        var owner: String?
        if let bucket, operation != .createBucket { owner = try await store.bucketOwner(bucket) }
        if caller.readOnly, !operation.isRead {
            throw S3Error(.accessDenied, "This access key is read-only.")
        }
        guard let bucket, operation != .createBucket else { return }
        guard caller.mayAccess(bucket: bucket, owner: owner) else {
            throw S3Error(.accessDenied, "This access key may not use bucket '\(bucket)'.")
        }
    }

    /// What an unsigned request is told: `404 NoSuchBucket` when it names a bucket that does not exist
    /// (S3 reveals a bucket's existence to anyone the same way), else `403 AccessDenied`.
    func refuseAnonymous(bucket: String?, denial: S3Error) async -> S3Error {
        guard let bucket else { return denial }
        do {
            _ = try await store.bucket(bucket)
        } catch .noSuchBucket {
            return StorageError.noSuchBucket(bucket).s3Error
        } catch {}
        return denial
    }

    /// Whether ListBuckets shows `bucket` to `caller`: the buckets it owns, and for a user key also
    /// those it was granted. Root owns the buckets an operator made by hand (no owner); it may use
    /// every other bucket by name, but does not list other owners' (the chain's `reports-a`/`-b`, a
    /// user's), as an AWS account lists only its own.
    static func lists(_ bucket: BucketInfo, to caller: AccessKey) -> Bool {
        if caller.isRoot { return bucket.owner == nil || bucket.owner == caller.accessKeyId }
        return bucket.owner == caller.accessKeyId || caller.buckets.contains(bucket.name)
    }
}
