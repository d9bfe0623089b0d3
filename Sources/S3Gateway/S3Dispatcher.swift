import BucketStore
import Hummingbird
import S3Protocol

/// Sends each classified request to its handler. One place, one exhaustive switch.
struct S3Dispatcher: Sendable {
    let buckets: BucketHandlers
    let objects: ObjectHandlers
    let multipart: MultipartHandlers

    func handle(_ request: Request, context: S3RequestContext) async throws -> Response {
        guard let operation = context.operation, let address = context.address else { throw S3Error(.accessDenied) }
        let query = try context.query ?? QueryParameters(raw: address.rawQuery[...])
        func bucket() throws(S3Error) -> String {
            guard let bucket = address.bucket else { throw S3Error(.invalidRequest, "This operation needs a bucket.") }
            return bucket
        }
        func key() throws(S3Error) -> String {
            guard let key = address.key else { throw S3Error(.invalidRequest, "This operation needs an object key.") }
            return key
        }
        switch operation {
        case .listBuckets: return try await buckets.listBuckets(query: query, context: context)
        case .createBucket: return try await buckets.createBucket(try bucket(), request: request, context: context)
        case .headBucket: return try await buckets.headBucket(try bucket())
        case .deleteBucket: return try await buckets.deleteBucket(try bucket())
        case .getBucketLocation: return try await buckets.getBucketLocation(try bucket())
        case .getBucketVersioning: return try await buckets.getBucketVersioning(try bucket())
        case .getBucketAcl: return try await buckets.getAcl(try bucket(), context: context)
        case .getObjectAcl:
            _ = try await objects.store.objectInfo(bucket: try bucket(), key: try key())
            return try await buckets.getAcl(try bucket(), context: context)
        case .getBucketTagging, .getObjectTagging: return buckets.getTagging()
        case .getBucketPolicy: throw S3Error(.noSuchBucketPolicy, resource: try bucket())
        case .getBucketCors: throw S3Error(.noSuchCORSConfiguration, resource: try bucket())
        case .getBucketLifecycleConfiguration: throw S3Error(.noSuchLifecycleConfiguration, resource: try bucket())
        case .listObjects: return try await buckets.listObjects(try bucket(), query: query, v2: false)
        case .listObjectsV2: return try await buckets.listObjects(try bucket(), query: query, v2: true)
        case .listObjectVersions: return try await buckets.listObjectVersions(try bucket(), query: query)
        case .putObject: return try await objects.putObject(bucket: try bucket(), key: try key(), request: request, context: context)
        case .getObject:
            return try await objects.getObject(bucket: try bucket(), key: try key(), request: request, query: query, head: false)
        case .headObject:
            return try await objects.getObject(bucket: try bucket(), key: try key(), request: request, query: query, head: true)
        case .deleteObject: return try await objects.deleteObject(bucket: try bucket(), key: try key(), query: query)
        case .copyObject: return try await objects.copyObject(bucket: try bucket(), key: try key(), request: request, context: context)
        case .deleteObjects: return try await objects.deleteObjects(bucket: try bucket(), request: request)
        case .createMultipartUpload:
            return try await multipart.create(bucket: try bucket(), key: try key(), request: request, context: context)
        case .uploadPart:
            return try await multipart.uploadPart(bucket: try bucket(), key: try key(), query: query, request: request, context: context)
        case .uploadPartCopy:
            return try await multipart.uploadPartCopy(
                bucket: try bucket(),
                key: try key(),
                query: query,
                request: request,
                context: context,
                objects: objects
            )
        case .completeMultipartUpload:
            return try await multipart.complete(bucket: try bucket(), key: try key(), query: query, request: request)
        case .abortMultipartUpload: return try await multipart.abort(bucket: try bucket(), key: try key(), query: query)
        case .listParts: return try await multipart.listParts(bucket: try bucket(), key: try key(), query: query, context: context)
        case .listMultipartUploads: return try await multipart.listUploads(bucket: try bucket(), query: query)
        case .unsupported:
            throw S3Error(.notImplemented, "This operation is not implemented by this server.")
        }
    }
}
