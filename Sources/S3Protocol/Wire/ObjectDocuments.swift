/// The CopyObject and UploadPartCopy responses.
public struct CopyResult: Codable, Sendable {
    public var eTag: String
    public var lastModified: String

    enum CodingKeys: String, CodingKey {
        case eTag = "ETag"
        case lastModified = "LastModified"
    }

    public init(eTag: String, lastModified: String) {
        self.eTag = eTag
        self.lastModified = lastModified
    }

    /// - Parameter rootKey: `CopyObjectResult` or `CopyPartResult`.
    public func xml(rootKey: String) -> [UInt8] { S3XML.encode(self, rootKey: rootKey) }
}

/// The DeleteObjects request body.
public struct DeleteRequest: Codable, Sendable {
    public struct Object: Codable, Sendable {
        public var key: String
        public var versionId: String?

        enum CodingKeys: String, CodingKey {
            case key = "Key"
            case versionId = "VersionId"
        }
    }

    public var quiet: Bool
    public var objects: [Object]

    enum CodingKeys: String, CodingKey {
        case quiet = "Quiet"
        case objects = "Object"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        quiet = try container.decodeIfPresent(Bool.self, forKey: .quiet) ?? false
        objects = try container.decodeIfPresent([Object].self, forKey: .objects) ?? []
    }
}

/// The DeleteObjects response.
public struct DeleteResult: Codable, Sendable {
    public struct Deleted: Codable, Sendable {
        public var key: String
        public var versionId: String?
        enum CodingKeys: String, CodingKey {
            case key = "Key"
            case versionId = "VersionId"
        }
        public init(key: String, versionId: String? = nil) {
            self.key = key
            self.versionId = versionId
        }
    }

    public struct Failure: Codable, Sendable {
        public var key: String
        public var code: String
        public var message: String

        enum CodingKeys: String, CodingKey {
            case key = "Key"
            case code = "Code"
            case message = "Message"
        }

        public init(key: String, error: S3Error) {
            self.key = key
            self.code = error.code.rawValue
            self.message = error.message
        }
    }

    public var deleted: [Deleted]
    public var errors: [Failure]

    enum CodingKeys: String, CodingKey {
        case deleted = "Deleted"
        case errors = "Error"
    }

    public init(deleted: [Deleted], errors: [Failure]) {
        self.deleted = deleted
        self.errors = errors
    }

    public func xml() -> [UInt8] { S3XML.encode(self, rootKey: "DeleteResult") }
}
