/// The S3 API operations, named exactly as AWS names them.
public enum S3Operation: String, Sendable, CaseIterable {
    case listBuckets = "ListBuckets"
    case createBucket = "CreateBucket"
    case headBucket = "HeadBucket"
    case deleteBucket = "DeleteBucket"
    case getBucketLocation = "GetBucketLocation"
    case getBucketVersioning = "GetBucketVersioning"
    case getBucketAcl = "GetBucketAcl"
    case getBucketTagging = "GetBucketTagging"
    case getBucketPolicy = "GetBucketPolicy"
    case getBucketCors = "GetBucketCors"
    case getBucketLifecycleConfiguration = "GetBucketLifecycleConfiguration"
    case listObjects = "ListObjects"
    case listObjectsV2 = "ListObjectsV2"
    case listObjectVersions = "ListObjectVersions"
    case listMultipartUploads = "ListMultipartUploads"
    case deleteObjects = "DeleteObjects"
    case putObject = "PutObject"
    case getObject = "GetObject"
    case headObject = "HeadObject"
    case deleteObject = "DeleteObject"
    case copyObject = "CopyObject"
    case getObjectAcl = "GetObjectAcl"
    case getObjectTagging = "GetObjectTagging"
    case createMultipartUpload = "CreateMultipartUpload"
    case uploadPart = "UploadPart"
    case uploadPartCopy = "UploadPartCopy"
    case completeMultipartUpload = "CompleteMultipartUpload"
    case abortMultipartUpload = "AbortMultipartUpload"
    case listParts = "ListParts"
    /// A request ChainVault recognises as S3 but does not implement (bucket policy, CORS, lifecycle ...).
    case unsupported = "Unsupported"

    /// Bucket subresources that select an operation ChainVault does not implement.
    static let unsupportedBucketSubresources: Set<String> = [
        "accelerate", "analytics", "cors", "encryption", "intelligent-tiering", "inventory", "lifecycle", "logging",
        "metrics", "notification", "object-lock", "ownershipControls", "policy", "policyStatus",
        "publicAccessBlock", "replication", "requestPayment", "website", "acl", "tagging", "versioning",
    ]
    static let unsupportedObjectSubresources: Set<String> = [
        "acl", "tagging", "legal-hold", "retention", "restore", "select", "torrent", "attributes",
    ]

    /// Whether the operation only reads (allowed to read-only keys).
    public var isRead: Bool {
        switch self {
        case .listBuckets, .headBucket, .getBucketLocation, .getBucketVersioning, .getBucketAcl, .getBucketTagging,
            .getBucketPolicy, .getBucketCors, .getBucketLifecycleConfiguration,
            .listObjects, .listObjectsV2, .listObjectVersions, .listMultipartUploads, .getObject, .headObject, .getObjectAcl,
            .getObjectTagging, .listParts:
            true
        case .createBucket, .deleteBucket, .deleteObjects, .putObject, .deleteObject, .copyObject,
            .createMultipartUpload, .uploadPart, .uploadPartCopy, .completeMultipartUpload, .abortMultipartUpload,
            .unsupported:
            false
        }
    }

    /// Names the operation a request asks for. Pure: method, addressing and query names decide it.
    /// - Parameters:
    ///   - method: The HTTP method, uppercase.
    ///   - hasBucket: Whether the request addresses a bucket.
    ///   - hasKey: Whether the request addresses an object key.
    ///   - query: The request's query parameters.
    ///   - hasCopySource: Whether `x-amz-copy-source` is present.
    /// - Returns: The operation, or nil when no S3 operation has this shape (`MethodNotAllowed`).
    public static func classify(
        method: String,
        hasBucket: Bool,
        hasKey: Bool,
        query: QueryParameters,
        hasCopySource: Bool = false
    ) -> S3Operation? {
        guard hasBucket else { return method == "GET" ? .listBuckets : nil }
        if !hasKey {
            switch method {
            case "GET":
                if query.contains("location") { return .getBucketLocation }
                if query.contains("versioning") { return .getBucketVersioning }
                if query.contains("acl") { return .getBucketAcl }
                if query.contains("tagging") { return .getBucketTagging }
                if query.contains("uploads") { return .listMultipartUploads }
                if query.contains("versions") { return .listObjectVersions }
                if query.contains("policy") { return .getBucketPolicy }
                if query.contains("cors") { return .getBucketCors }
                if query.contains("lifecycle") { return .getBucketLifecycleConfiguration }
                if hasUnsupported(query, unsupportedBucketSubresources) { return .unsupported }
                return query["list-type"] == "2" ? .listObjectsV2 : .listObjects
            case "HEAD": return .headBucket
            case "PUT": return hasUnsupported(query, unsupportedBucketSubresources) ? .unsupported : .createBucket
            case "DELETE": return hasUnsupported(query, unsupportedBucketSubresources) ? .unsupported : .deleteBucket
            case "POST": return query.contains("delete") ? .deleteObjects : nil
            default: return nil
            }
        }
        switch method {
        case "GET":
            if query.contains("uploadId") { return .listParts }
            if query.contains("acl") { return .getObjectAcl }
            if query.contains("tagging") { return .getObjectTagging }
            return hasUnsupported(query, unsupportedObjectSubresources) ? .unsupported : .getObject
        case "HEAD": return .headObject
        case "PUT":
            if query.contains("uploadId") && query.contains("partNumber") { return hasCopySource ? .uploadPartCopy : .uploadPart }
            if hasUnsupported(query, unsupportedObjectSubresources) { return .unsupported }
            return hasCopySource ? .copyObject : .putObject
        case "DELETE":
            if query.contains("uploadId") { return .abortMultipartUpload }
            return hasUnsupported(query, unsupportedObjectSubresources) ? .unsupported : .deleteObject
        case "POST":
            if query.contains("uploads") { return .createMultipartUpload }
            if query.contains("uploadId") { return .completeMultipartUpload }
            return .unsupported
        default: return nil
        }
    }

    private static func hasUnsupported(_ query: QueryParameters, _ names: Set<String>) -> Bool {
        query.pairs.contains { names.contains($0.name) }
    }
}
