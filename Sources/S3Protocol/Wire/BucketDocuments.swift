/// The owner element of listings.
public struct Owner: Codable, Sendable, Equatable {
    public var id: String
    public var displayName: String

    enum CodingKeys: String, CodingKey {
        case id = "ID"
        case displayName = "DisplayName"
    }

    public init(id: String, displayName: String) {
        self.id = id
        self.displayName = displayName
    }
}

/// The ListBuckets response.
public struct ListAllMyBucketsResult: Codable, Sendable {
    public struct Bucket: Codable, Sendable {
        public var name: String
        public var creationDate: String
        enum CodingKeys: String, CodingKey {
            case name = "Name"
            case creationDate = "CreationDate"
        }
        public init(name: String, creationDate: String) {
            self.name = name
            self.creationDate = creationDate
        }
    }

    public struct Buckets: Codable, Sendable {
        public var bucket: [Bucket]
        enum CodingKeys: String, CodingKey { case bucket = "Bucket" }
    }

    public var owner: Owner
    public var buckets: Buckets
    /// Set when more buckets follow (ListBuckets with `max-buckets`).
    public var continuationToken: String?

    enum CodingKeys: String, CodingKey {
        case owner = "Owner"
        case buckets = "Buckets"
        case continuationToken = "ContinuationToken"
    }

    public init(owner: Owner, buckets: [Bucket]) {
        self.owner = owner
        self.buckets = Buckets(bucket: buckets)
    }

    public func xml() -> [UInt8] { S3XML.encode(self, rootKey: "ListAllMyBucketsResult") }
}

/// The CreateBucket request body.
public struct CreateBucketConfiguration: Codable, Sendable {
    public var locationConstraint: String?
    enum CodingKeys: String, CodingKey { case locationConstraint = "LocationConstraint" }
}

/// The GetBucketLocation response: the region, empty for us-east-1 as in S3.
public struct LocationConstraint: Codable, Sendable {
    public var value: String
    enum CodingKeys: String, CodingKey { case value = "" }

    public init(region: String) { self.value = region == "us-east-1" ? "" : region }

    public func xml() -> [UInt8] { S3XML.encode(self, rootKey: "LocationConstraint") }
}
