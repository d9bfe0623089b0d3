/// One object in a listing.
public struct ListedObject: Codable, Sendable {
    public var key: String
    public var lastModified: String
    public var eTag: String
    public var size: Int64
    public var owner: Owner?
    public var storageClass: String

    enum CodingKeys: String, CodingKey {
        case key = "Key"
        case lastModified = "LastModified"
        case eTag = "ETag"
        case size = "Size"
        case owner = "Owner"
        case storageClass = "StorageClass"
    }

    public init(key: String, lastModified: String, eTag: String, size: Int64, owner: Owner?) {
        self.key = key
        self.lastModified = lastModified
        self.eTag = eTag
        self.size = size
        self.owner = owner
        self.storageClass = "STANDARD"
    }
}

/// A common prefix rolled up by a delimiter.
public struct CommonPrefix: Codable, Sendable {
    public var prefix: String
    enum CodingKeys: String, CodingKey { case prefix = "Prefix" }
    public init(prefix: String) { self.prefix = prefix }
}

/// The ListObjects (v1) response.
public struct ListBucketResultV1: Codable, Sendable {
    public var name: String
    public var prefix: String
    public var marker: String
    public var nextMarker: String?
    public var maxKeys: Int
    public var delimiter: String?
    public var isTruncated: Bool
    public var encodingType: String?
    public var contents: [ListedObject]
    public var commonPrefixes: [CommonPrefix]

    enum CodingKeys: String, CodingKey {
        case name = "Name"
        case prefix = "Prefix"
        case marker = "Marker"
        case nextMarker = "NextMarker"
        case maxKeys = "MaxKeys"
        case delimiter = "Delimiter"
        case isTruncated = "IsTruncated"
        case encodingType = "EncodingType"
        case contents = "Contents"
        case commonPrefixes = "CommonPrefixes"
    }

    public init(
        name: String, prefix: String, marker: String, nextMarker: String?, maxKeys: Int, delimiter: String?,
        isTruncated: Bool, encodingType: String?, contents: [ListedObject], commonPrefixes: [CommonPrefix]
    ) {
        self.name = name
        self.prefix = prefix
        self.marker = marker
        self.nextMarker = nextMarker
        self.maxKeys = maxKeys
        self.delimiter = delimiter
        self.isTruncated = isTruncated
        self.encodingType = encodingType
        self.contents = contents
        self.commonPrefixes = commonPrefixes
    }
}

/// The ListObjectsV2 response.
public struct ListBucketResultV2: Codable, Sendable {
    public var name: String
    public var prefix: String
    public var maxKeys: Int
    public var keyCount: Int
    public var delimiter: String?
    public var isTruncated: Bool
    public var continuationToken: String?
    public var nextContinuationToken: String?
    public var startAfter: String?
    public var encodingType: String?
    public var contents: [ListedObject]
    public var commonPrefixes: [CommonPrefix]

    enum CodingKeys: String, CodingKey {
        case name = "Name"
        case prefix = "Prefix"
        case maxKeys = "MaxKeys"
        case keyCount = "KeyCount"
        case delimiter = "Delimiter"
        case isTruncated = "IsTruncated"
        case continuationToken = "ContinuationToken"
        case nextContinuationToken = "NextContinuationToken"
        case startAfter = "StartAfter"
        case encodingType = "EncodingType"
        case contents = "Contents"
        case commonPrefixes = "CommonPrefixes"
    }

    public init(
        name: String, prefix: String, maxKeys: Int, keyCount: Int, delimiter: String?, isTruncated: Bool,
        continuationToken: String?, nextContinuationToken: String?, startAfter: String?, encodingType: String?,
        contents: [ListedObject], commonPrefixes: [CommonPrefix]
    ) {
        self.name = name
        self.prefix = prefix
        self.maxKeys = maxKeys
        self.keyCount = keyCount
        self.delimiter = delimiter
        self.isTruncated = isTruncated
        self.continuationToken = continuationToken
        self.nextContinuationToken = nextContinuationToken
        self.startAfter = startAfter
        self.encodingType = encodingType
        self.contents = contents
        self.commonPrefixes = commonPrefixes
    }
}

/// One version in a ListObjectVersions response: in an unversioned bucket, each object's only
/// version, `null`. Encoded as S3 orders its elements: the object's, with `VersionId` and `IsLatest`
/// after `Key`.
public struct ListedVersion: Encodable, Sendable {
    public var object: ListedObject
    public var versionId = "null"
    public var isLatest = true

    enum CodingKeys: String, CodingKey {
        case versionId = "VersionId"
        case isLatest = "IsLatest"
    }

    public init(object: ListedObject) { self.object = object }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: ListedObject.CodingKeys.self)
        try container.encode(object.key, forKey: .key)
        var version = encoder.container(keyedBy: CodingKeys.self)
        try version.encode(versionId, forKey: .versionId)
        try version.encode(isLatest, forKey: .isLatest)
        try container.encode(object.lastModified, forKey: .lastModified)
        try container.encode(object.eTag, forKey: .eTag)
        try container.encode(object.size, forKey: .size)
        try container.encodeIfPresent(object.owner, forKey: .owner)
        try container.encode(object.storageClass, forKey: .storageClass)
    }
}

/// The ListObjectVersions response.
public struct ListVersionsResult: Encodable, Sendable {
    public var name: String
    public var prefix: String
    public var keyMarker: String
    public var versionIdMarker: String
    public var nextKeyMarker: String?
    public var nextVersionIdMarker: String?
    public var maxKeys: Int
    public var delimiter: String?
    public var isTruncated: Bool
    public var encodingType: String?
    public var versions: [ListedVersion]
    public var commonPrefixes: [CommonPrefix]

    enum CodingKeys: String, CodingKey {
        case name = "Name"
        case prefix = "Prefix"
        case keyMarker = "KeyMarker"
        case versionIdMarker = "VersionIdMarker"
        case nextKeyMarker = "NextKeyMarker"
        case nextVersionIdMarker = "NextVersionIdMarker"
        case maxKeys = "MaxKeys"
        case delimiter = "Delimiter"
        case isTruncated = "IsTruncated"
        case encodingType = "EncodingType"
        case versions = "Version"
        case commonPrefixes = "CommonPrefixes"
    }

    public init(
        name: String, prefix: String, keyMarker: String, versionIdMarker: String, nextKeyMarker: String?, maxKeys: Int,
        delimiter: String?, isTruncated: Bool, encodingType: String?, versions: [ListedVersion], commonPrefixes: [CommonPrefix]
    ) {
        self.name = name
        self.prefix = prefix
        self.keyMarker = keyMarker
        self.versionIdMarker = versionIdMarker
        self.nextKeyMarker = nextKeyMarker
        self.nextVersionIdMarker = nextKeyMarker == nil ? nil : "null"
        self.maxKeys = maxKeys
        self.delimiter = delimiter
        self.isTruncated = isTruncated
        self.encodingType = encodingType
        self.versions = versions
        self.commonPrefixes = commonPrefixes
    }
}
