/// The CreateMultipartUpload response.
public struct InitiateMultipartUploadResult: Codable, Sendable {
    public var bucket: String
    public var key: String
    public var uploadId: String

    enum CodingKeys: String, CodingKey {
        case bucket = "Bucket"
        case key = "Key"
        case uploadId = "UploadId"
    }

    public init(bucket: String, key: String, uploadId: String) {
        self.bucket = bucket
        self.key = key
        self.uploadId = uploadId
    }

    public func xml() -> [UInt8] { S3XML.encode(self, rootKey: "InitiateMultipartUploadResult") }
}

/// The CompleteMultipartUpload request body.
public struct CompleteMultipartUpload: Codable, Sendable {
    public struct Part: Codable, Sendable {
        public var partNumber: Int
        public var eTag: String

        enum CodingKeys: String, CodingKey {
            case partNumber = "PartNumber"
            case eTag = "ETag"
        }
    }

    public var parts: [Part]

    enum CodingKeys: String, CodingKey { case parts = "Part" }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        parts = try container.decodeIfPresent([Part].self, forKey: .parts) ?? []
    }
}

/// The CompleteMultipartUpload response.
public struct CompleteMultipartUploadResult: Codable, Sendable {
    public var location: String
    public var bucket: String
    public var key: String
    public var eTag: String

    enum CodingKeys: String, CodingKey {
        case location = "Location"
        case bucket = "Bucket"
        case key = "Key"
        case eTag = "ETag"
    }

    public init(location: String, bucket: String, key: String, eTag: String) {
        self.location = location
        self.bucket = bucket
        self.key = key
        self.eTag = eTag
    }

    public func xml() -> [UInt8] { S3XML.encode(self, rootKey: "CompleteMultipartUploadResult") }
}

/// The ListParts response.
public struct ListPartsResult: Codable, Sendable {
    public struct Part: Codable, Sendable {
        public var partNumber: Int
        public var lastModified: String
        public var eTag: String
        public var size: Int64

        enum CodingKeys: String, CodingKey {
            case partNumber = "PartNumber"
            case lastModified = "LastModified"
            case eTag = "ETag"
            case size = "Size"
        }

        public init(partNumber: Int, lastModified: String, eTag: String, size: Int64) {
            self.partNumber = partNumber
            self.lastModified = lastModified
            self.eTag = eTag
            self.size = size
        }
    }

    public var bucket: String
    public var key: String
    public var uploadId: String
    public var initiator: Owner
    public var owner: Owner
    public var storageClass = "STANDARD"
    public var partNumberMarker: Int
    public var nextPartNumberMarker: Int
    public var maxParts: Int
    public var isTruncated: Bool
    public var parts: [Part]

    enum CodingKeys: String, CodingKey {
        case bucket = "Bucket"
        case key = "Key"
        case uploadId = "UploadId"
        case initiator = "Initiator"
        case owner = "Owner"
        case storageClass = "StorageClass"
        case partNumberMarker = "PartNumberMarker"
        case nextPartNumberMarker = "NextPartNumberMarker"
        case maxParts = "MaxParts"
        case isTruncated = "IsTruncated"
        case parts = "Part"
    }

    public init(
        bucket: String, key: String, uploadId: String, owner: Owner, partNumberMarker: Int, nextPartNumberMarker: Int,
        maxParts: Int, isTruncated: Bool, parts: [Part]
    ) {
        self.bucket = bucket
        self.key = key
        self.uploadId = uploadId
        self.initiator = owner
        self.owner = owner
        self.partNumberMarker = partNumberMarker
        self.nextPartNumberMarker = nextPartNumberMarker
        self.maxParts = maxParts
        self.isTruncated = isTruncated
        self.parts = parts
    }

    public func xml() -> [UInt8] { S3XML.encode(self, rootKey: "ListPartsResult") }
}

/// The ListMultipartUploads response.
public struct ListMultipartUploadsResult: Codable, Sendable {
    public struct Upload: Codable, Sendable {
        public var key: String
        public var uploadId: String
        public var initiator: Owner
        public var owner: Owner
        public var storageClass = "STANDARD"
        public var initiated: String

        enum CodingKeys: String, CodingKey {
            case key = "Key"
            case uploadId = "UploadId"
            case initiator = "Initiator"
            case owner = "Owner"
            case storageClass = "StorageClass"
            case initiated = "Initiated"
        }

        public init(key: String, uploadId: String, owner: Owner, initiated: String) {
            self.key = key
            self.uploadId = uploadId
            self.initiator = owner
            self.owner = owner
            self.initiated = initiated
        }
    }

    public var bucket: String
    public var keyMarker: String
    public var uploadIdMarker: String
    public var nextKeyMarker: String?
    public var nextUploadIdMarker: String?
    public var prefix: String
    public var maxUploads: Int
    public var isTruncated: Bool
    public var uploads: [Upload]

    enum CodingKeys: String, CodingKey {
        case bucket = "Bucket"
        case keyMarker = "KeyMarker"
        case uploadIdMarker = "UploadIdMarker"
        case nextKeyMarker = "NextKeyMarker"
        case nextUploadIdMarker = "NextUploadIdMarker"
        case prefix = "Prefix"
        case maxUploads = "MaxUploads"
        case isTruncated = "IsTruncated"
        case uploads = "Upload"
    }

    public init(
        bucket: String, keyMarker: String, uploadIdMarker: String, nextKeyMarker: String?, nextUploadIdMarker: String?,
        prefix: String, maxUploads: Int, isTruncated: Bool, uploads: [Upload]
    ) {
        self.bucket = bucket
        self.keyMarker = keyMarker
        self.uploadIdMarker = uploadIdMarker
        self.nextKeyMarker = nextKeyMarker
        self.nextUploadIdMarker = nextUploadIdMarker
        self.prefix = prefix
        self.maxUploads = maxUploads
        self.isTruncated = isTruncated
        self.uploads = uploads
    }

    public func xml() -> [UInt8] { S3XML.encode(self, rootKey: "ListMultipartUploadsResult") }
}
