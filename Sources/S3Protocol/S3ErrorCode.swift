/// The S3 error codes ChainVault answers with: wire string, HTTP status and default message.
///
/// This is the one table of S3 error codes. Every error the gateway renders is one of these
/// cases; the statuses and messages follow the AWS S3 error-code reference.
public enum S3ErrorCode: String, Sendable, CaseIterable {
    case accessDenied = "AccessDenied"
    case authorizationHeaderMalformed = "AuthorizationHeaderMalformed"
    case authorizationQueryParametersError = "AuthorizationQueryParametersError"
    case badDigest = "BadDigest"
    case bucketAlreadyExists = "BucketAlreadyExists"
    case bucketAlreadyOwnedByYou = "BucketAlreadyOwnedByYou"
    case bucketNotEmpty = "BucketNotEmpty"
    case conditionalRequestConflict = "ConditionalRequestConflict"
    case entityTooLarge = "EntityTooLarge"
    case entityTooSmall = "EntityTooSmall"
    case expiredToken = "ExpiredToken"
    case incompleteBody = "IncompleteBody"
    case internalError = "InternalError"
    case invalidAccessKeyId = "InvalidAccessKeyId"
    case invalidArgument = "InvalidArgument"
    case invalidBucketName = "InvalidBucketName"
    case invalidDigest = "InvalidDigest"
    case invalidLocationConstraint = "InvalidLocationConstraint"
    case invalidPart = "InvalidPart"
    case invalidPartOrder = "InvalidPartOrder"
    case invalidRange = "InvalidRange"
    case invalidRequest = "InvalidRequest"
    case keyTooLongError = "KeyTooLongError"
    case malformedXML = "MalformedXML"
    case maxMessageLengthExceeded = "MaxMessageLengthExceeded"
    case metadataTooLarge = "MetadataTooLarge"
    case methodNotAllowed = "MethodNotAllowed"
    case missingContentLength = "MissingContentLength"
    case missingSecurityHeader = "MissingSecurityHeader"
    case noSuchBucket = "NoSuchBucket"
    case noSuchKey = "NoSuchKey"
    case noSuchUpload = "NoSuchUpload"
    case noSuchVersion = "NoSuchVersion"
    case noSuchBucketPolicy = "NoSuchBucketPolicy"
    case noSuchCORSConfiguration = "NoSuchCORSConfiguration"
    case noSuchLifecycleConfiguration = "NoSuchLifecycleConfiguration"
    case notImplemented = "NotImplemented"
    case preconditionFailed = "PreconditionFailed"
    case requestTimeTooSkewed = "RequestTimeTooSkewed"
    case signatureDoesNotMatch = "SignatureDoesNotMatch"
    case insufficientStorage = "InsufficientStorage"
    case xAmzContentSHA256Mismatch = "XAmzContentSHA256Mismatch"

    /// The HTTP status S3 answers this code with.
    public var httpStatus: Int {
        switch self {
        case .accessDenied, .invalidAccessKeyId, .requestTimeTooSkewed, .signatureDoesNotMatch:
            403
        case .authorizationHeaderMalformed, .authorizationQueryParametersError, .badDigest, .entityTooLarge, .entityTooSmall,
            .invalidPart, .invalidPartOrder,
            .expiredToken, .incompleteBody, .invalidArgument, .invalidBucketName, .invalidDigest,
            .invalidLocationConstraint, .invalidRequest, .keyTooLongError, .malformedXML, .maxMessageLengthExceeded,
            .metadataTooLarge, .missingSecurityHeader,
            .xAmzContentSHA256Mismatch:
            400
        case .bucketAlreadyExists, .bucketAlreadyOwnedByYou, .bucketNotEmpty, .conditionalRequestConflict:
            409
        case .internalError: 500
        case .methodNotAllowed: 405
        case .missingContentLength: 411
        case .noSuchBucket, .noSuchKey, .noSuchUpload, .noSuchVersion, .noSuchBucketPolicy, .noSuchCORSConfiguration,
            .noSuchLifecycleConfiguration:
            404
        case .notImplemented: 501
        case .preconditionFailed: 412
        case .invalidRange: 416
        case .insufficientStorage: 507
        }
    }

    /// The message S3 sends when nothing more specific is known.
    public var defaultMessage: String {
        switch self {
        case .accessDenied: "Access Denied"
        case .authorizationHeaderMalformed: "The authorization header is malformed."
        case .authorizationQueryParametersError: "Error parsing the X-Amz-Credential parameter or other query authentication parameters."
        case .badDigest: "The Content-MD5 or checksum you specified did not match what we received."
        case .bucketAlreadyExists:
            "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again."
        case .bucketAlreadyOwnedByYou: "Your previous request to create the named bucket succeeded and you already own it."
        case .bucketNotEmpty: "The bucket you tried to delete is not empty."
        case .entityTooLarge: "Your proposed upload exceeds the maximum allowed object size."
        case .entityTooSmall: "Your proposed upload is smaller than the minimum allowed object size."
        case .invalidPart:
            "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag."
        case .invalidPartOrder: "The list of parts was not in ascending order. Parts must be ordered by part number."
        case .expiredToken: "The provided token has expired."
        case .incompleteBody: "You did not provide the number of bytes specified by the Content-Length HTTP header."
        case .internalError: "We encountered an internal error. Please try again."
        case .invalidAccessKeyId: "The AWS Access Key Id you provided does not exist in our records."
        case .invalidArgument: "Invalid Argument"
        case .invalidBucketName: "The specified bucket is not valid."
        case .invalidDigest: "The Content-MD5 you specified is not valid."
        case .invalidLocationConstraint: "The specified location constraint is not valid."
        case .invalidRange: "The requested range is not satisfiable"
        case .invalidRequest: "Invalid Request"
        case .keyTooLongError: "Your key is too long."
        case .malformedXML: "The XML you provided was not well-formed or did not validate against our published schema."
        case .maxMessageLengthExceeded: "Your request was too big."
        case .metadataTooLarge: "Your metadata headers exceed the maximum allowed metadata size."
        case .methodNotAllowed: "The specified method is not allowed against this resource."
        case .missingContentLength: "You must provide the Content-Length HTTP header."
        case .missingSecurityHeader: "Your request is missing a required header."
        case .noSuchBucket: "The specified bucket does not exist"
        case .noSuchKey: "The specified key does not exist."
        case .noSuchUpload:
            "The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed."
        case .noSuchBucketPolicy: "The bucket policy does not exist."
        case .noSuchCORSConfiguration: "The CORS configuration does not exist."
        case .noSuchLifecycleConfiguration: "The lifecycle configuration does not exist."
        case .noSuchVersion: "The specified version does not exist."
        case .notImplemented: "A header you provided implies functionality that is not implemented."
        case .conditionalRequestConflict: "A conflicting operation occurred. If using PutObject you can retry the request."
        case .preconditionFailed: "At least one of the preconditions you specified did not hold."
        case .requestTimeTooSkewed: "The difference between the request time and the current time is too large."
        case .signatureDoesNotMatch:
            "The request signature we calculated does not match the signature you provided. Check your key and signing method."
        case .insufficientStorage: "There is not enough free space to store the object."
        case .xAmzContentSHA256Mismatch: "The provided 'x-amz-content-sha256' header does not match what was computed."
        }
    }
}
