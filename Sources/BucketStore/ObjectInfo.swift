/// What a client sets on an object besides its bytes, stored beside it and returned on GET and HEAD.
public struct ObjectAttributes: Codable, Sendable, Equatable {
    public var contentType: String?
    public var contentEncoding: String?
    public var contentDisposition: String?
    public var contentLanguage: String?
    public var cacheControl: String?
    public var expires: String?
    /// `x-amz-meta-*` values by lowercase name without the prefix.
    public var userMetadata: [String: String]
    /// Checksums by algorithm name (`CRC32`, `SHA256` ...) as base64, as the client sent or we computed them.
    public var checksums: [String: String]

    public init(
        contentType: String? = nil,
        contentEncoding: String? = nil,
        contentDisposition: String? = nil,
        contentLanguage: String? = nil,
        cacheControl: String? = nil,
        expires: String? = nil,
        userMetadata: [String: String] = [:],
        checksums: [String: String] = [:]
    ) {
        self.contentType = contentType
        self.contentEncoding = contentEncoding
        self.contentDisposition = contentDisposition
        self.contentLanguage = contentLanguage
        self.cacheControl = cacheControl
        self.expires = expires
        self.userMetadata = userMetadata
        self.checksums = checksums
    }
}

/// A stored object's size, time, ETag and attributes.
public struct ObjectInfo: Sendable, Equatable {
    public var bucket: String
    public var key: String
    /// Size in bytes.
    public var size: Int64
    /// Modification time of the file, nanoseconds since 1970.
    public var modificationNanos: Int64
    /// The ETag without quotes: hex MD5 of the bytes.
    public var etag: String
    public var attributes: ObjectAttributes

    /// Modification time in whole seconds since 1970.
    public var modificationSeconds: Int64 { modificationNanos / 1_000_000_000 }
    /// The modification time in milliseconds since 1970.
    public var modificationMilliseconds: Int64 { modificationNanos / 1_000_000 }

    public init(bucket: String, key: String, size: Int64, modificationNanos: Int64, etag: String, attributes: ObjectAttributes) {
        self.bucket = bucket
        self.key = key
        self.size = size
        self.modificationNanos = modificationNanos
        self.etag = etag
        self.attributes = attributes
    }
}

/// A bucket as listed.
public struct BucketInfo: Sendable, Equatable, Codable {
    public var name: String
    /// The access key id of the user that created the bucket; nil for buckets an operator made by hand.
    public var owner: String?
    /// Creation time, seconds since 1970.
    public var created: Int64
}

/// The metadata kept beside an object, matched to its file by size and modification time.
///
/// A record holds up to two versions: the one being published and the one it replaces. Whichever
/// matches the file on disk is the object's metadata, so a crash between writing the record and
/// renaming the data file never pairs an object with the wrong ETag.
struct MetadataRecord: Codable, Equatable {
    struct Version: Codable, Equatable {
        var size: Int64
        var modificationNanos: Int64
        var etag: String
        var attributes: ObjectAttributes
    }
    var versions: [Version]

    func version(size: Int64, modificationNanos: Int64) -> Version? {
        versions.first { $0.size == size && $0.modificationNanos == modificationNanos }
    }
}
