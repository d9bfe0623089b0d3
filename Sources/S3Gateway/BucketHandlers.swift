import BucketStore
import Foundation
import HTTPTypes
import Hummingbird
import S3Protocol
import XMLCoder

/// Handlers of bucket-level operations: create, head, delete, location, listings and probe stubs.
struct BucketHandlers: Sendable {
    let store: BucketStore
    let region: String
    let clock: @Sendable () -> Int64

    /// The largest CreateBucket body read.
    static let maxConfigurationSize = 64 * 1024

    /// ListBuckets, paginated when the client sends `max-buckets` (the continuation token is the last name).
    func listBuckets(query: QueryParameters, context: S3RequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        var maxBuckets = 10_000
        if let text = query["max-buckets"] {
            guard let value = Int(decimalDigits: text), (1...10_000).contains(value) else {
                throw S3Error(.invalidArgument, "max-buckets must be an integer between 1 and 10000.")
            }
            maxBuckets = value
        }
        let after = query["continuation-token"]
        let prefix = query["prefix"] ?? ""
        let visible = try await store.listBuckets()
            .filter { BucketAccess.lists($0, to: caller) && $0.name.hasPrefix(prefix) }
            .filter { bucket in after.map { $0 < bucket.name } ?? true }
        let page = visible.prefix(maxBuckets)
        let owner = Owner(id: caller.accessKeyId, displayName: caller.accessKeyId)
        var result = ListAllMyBucketsResult(
            owner: owner,
            buckets: page.map { ListAllMyBucketsResult.Bucket(name: $0.name, creationDate: S3Time.iso8601($0.created)) }
        )
        if visible.count > page.count { result.continuationToken = page.last?.name }
        return S3Responses.xml(result.xml())
    }

    func createBucket(_ bucket: String, request: Request, context: S3RequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        if !caller.isRoot, !caller.buckets.isEmpty, !caller.buckets.contains(bucket) {
            throw S3Error(.accessDenied, "This access key may only use the buckets it was granted.")
        }
        let body = try await request.body.collect(upTo: Self.maxConfigurationSize)
        if body.readableBytes > 0 {
            let configuration = try S3XML.decode(CreateBucketConfiguration.self, from: Array(buffer: body))
            if let constraint = configuration.locationConstraint, !constraint.isEmpty, constraint != region {
                throw S3Error(
                    .invalidLocationConstraint,
                    "This server serves region '\(region)'; the location constraint '\(constraint)' is not valid.",
                    resource: bucket
                )
            }
        }
        try await store.createBucket(bucket, owner: caller.accessKeyId, now: clock())
        var headers = HTTPFields()
        headers[.location] = "/" + bucket
        return S3Responses.empty(.ok, headers: headers)
    }

    func headBucket(_ bucket: String) async throws -> Response {
        _ = try await store.bucket(bucket)
        var headers = HTTPFields()
        headers[.amzBucketRegion] = region
        return S3Responses.empty(.ok, headers: headers)
    }

    func deleteBucket(_ bucket: String) async throws -> Response {
        try await store.deleteBucket(bucket)
        return S3Responses.empty(.noContent)
    }

    func getBucketLocation(_ bucket: String) async throws -> Response {
        _ = try await store.bucket(bucket)
        return S3Responses.xml(LocationConstraint(region: region).xml())
    }

    /// Versioning is never enabled: the empty configuration, as S3 answers for an unversioned bucket.
    func getBucketVersioning(_ bucket: String) async throws -> Response {
        _ = try await store.bucket(bucket)
        return S3Responses.xml(S3XML.encode(VersioningConfiguration(), rootKey: "VersioningConfiguration"))
    }

    /// ACLs are not modelled; tools that probe get the owner with full control.
    func getAcl(_ bucket: String, context: S3RequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let owner = Owner(id: caller.accessKeyId, displayName: caller.accessKeyId)
        return S3Responses.xml(S3XML.encode(AccessControlPolicy(owner: owner), rootKey: "AccessControlPolicy"))
    }

    /// Tags are not stored; tools that probe get an empty tag set.
    func getTagging() -> Response {
        S3Responses.xml(S3XML.encode(Tagging(), rootKey: "Tagging"))
    }

    /// What every listing reads from its query: prefix, delimiter, max-keys, encoding-type.
    struct ListingQuery {
        var prefix: String
        var delimiter: String?
        var maxKeys: Int
        var encoding: String?

        init(_ query: QueryParameters) throws(S3Error) {
            maxKeys = try BucketHandlers.maxKeys(query)
            prefix = query["prefix"] ?? ""
            delimiter = query["delimiter"].flatMap { $0.isEmpty ? nil : $0 }
            encoding = query["encoding-type"]
            if let encoding, encoding != "url" {
                throw S3Error(.invalidArgument, "Invalid Encoding Method specified in Request; only 'url' is supported.")
            }
        }

        /// A key, prefix or marker as the response carries it: URL-encoded with `encoding-type=url`.
        func encode(_ value: String) -> String { encoding == "url" ? URIEncoding.encode(value, keepingSlash: true) : value }
    }

    func listObjects(_ bucket: String, query: QueryParameters, v2: Bool) async throws -> Response {
        let listing = try ListingQuery(query)
        let (prefix, delimiter, maxKeys, encoding) = (listing.prefix, listing.delimiter, listing.maxKeys, listing.encoding)
        let encode = listing.encode

        if v2 {
            let token = query["continuation-token"]
            var startAfter = query["start-after"]
            if let token {
                guard let decoded = Self.decodeContinuationToken(token) else {
                    throw S3Error(.invalidArgument, "The continuation token provided is incorrect.")
                }
                startAfter = decoded
            }
            let page = try await store.listObjects(
                bucket: bucket,
                ListRequest(prefix: prefix, delimiter: delimiter, startAfter: startAfter, maxKeys: maxKeys)
            )
            let fetchOwner = query["fetch-owner"] == "true"
            let result = ListBucketResultV2(
                name: bucket,
                prefix: encode(prefix),
                maxKeys: maxKeys,
                keyCount: page.objects.count + page.commonPrefixes.count,
                delimiter: delimiter.map(encode),
                isTruncated: page.isTruncated,
                continuationToken: token,
                nextContinuationToken: page.isTruncated ? page.lastItem.map(Self.continuationToken) : nil,
                startAfter: query["start-after"].map(encode),
                encodingType: encoding,
                contents: page.objects.map { Self.listed($0, owner: fetchOwner, encode: encode) },
                commonPrefixes: page.commonPrefixes.map { CommonPrefix(prefix: encode($0)) }
            )
            return S3Responses.xml(result.xml())
        }
        let marker = query["marker"] ?? ""
        let page = try await store.listObjects(
            bucket: bucket,
            ListRequest(prefix: prefix, delimiter: delimiter, startAfter: marker, maxKeys: maxKeys)
        )
        // AWS encodes Delimiter, Marker, NextMarker, Key and CommonPrefixes in a v1 listing, not the echoed Prefix.
        let result = ListBucketResultV1(
            name: bucket,
            prefix: prefix,
            marker: encode(marker),
            nextMarker: page.isTruncated ? page.lastItem.map(encode) : nil,
            maxKeys: maxKeys,
            delimiter: delimiter.map(encode),
            isTruncated: page.isTruncated,
            encodingType: encoding,
            contents: page.objects.map { Self.listed($0, owner: true, encode: encode) },
            commonPrefixes: page.commonPrefixes.map { CommonPrefix(prefix: encode($0)) }
        )
        return S3Responses.xml(result.xml())
    }

    /// ListObjectVersions on an unversioned bucket: every object once, as its `null` version. A
    /// version-id-marker can only be `null`, so listing resumes after the key marker.
    func listObjectVersions(_ bucket: String, query: QueryParameters) async throws -> Response {
        let listing = try ListingQuery(query)
        let keyMarker = query["key-marker"] ?? ""
        let versionIdMarker = query["version-id-marker"] ?? ""
        guard versionIdMarker.isEmpty || versionIdMarker == "null" else {
            throw S3Error(.invalidArgument, "Invalid version id specified")
        }
        let page = try await store.listObjects(
            bucket: bucket,
            ListRequest(prefix: listing.prefix, delimiter: listing.delimiter, startAfter: keyMarker, maxKeys: listing.maxKeys))
        // AWS encodes KeyMarker, NextKeyMarker, Prefix, Key and Delimiter here.
        let result = ListVersionsResult(
            name: bucket,
            prefix: listing.encode(listing.prefix),
            keyMarker: listing.encode(keyMarker),
            versionIdMarker: versionIdMarker,
            nextKeyMarker: page.isTruncated ? page.lastItem.map(listing.encode) : nil,
            maxKeys: listing.maxKeys,
            delimiter: listing.delimiter.map(listing.encode),
            isTruncated: page.isTruncated,
            encodingType: listing.encoding,
            versions: page.objects.map { ListedVersion(object: Self.listed($0, owner: true, encode: listing.encode)) },
            commonPrefixes: page.commonPrefixes.map { CommonPrefix(prefix: listing.encode($0)) }
        )
        return S3Responses.xml(result.xml())
    }

    static func listed(_ object: ObjectInfo, owner: Bool, encode: (String) -> String) -> ListedObject {
        ListedObject(
            key: encode(object.key),
            lastModified: S3Time.iso8601(milliseconds: object.modificationMilliseconds),
            eTag: "\"\(object.etag)\"",
            size: object.size,
            owner: owner ? Owner(id: "chainvault", displayName: "chainvault") : nil
        )
    }

    /// `max-keys`: default and cap 1000; a negative or non-numeric value is `InvalidArgument`.
    static func maxKeys(_ query: QueryParameters) throws(S3Error) -> Int {
        guard let text = query["max-keys"] else { return 1000 }
        guard let value = Int(decimalDigits: text), value >= 0 else {
            throw S3Error(.invalidArgument, "max-keys must be a non-negative integer.")
        }
        return min(value, 1000)
    }

    /// Continuation tokens are the last key returned, base64url-encoded: opaque to clients, stateless here.
    static func continuationToken(_ key: String) -> String {
        Data(key.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decodeContinuationToken(_ token: String) -> String? {
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64) else { return nil }
        return String(data: data, encoding: .utf8)
    }
}

/// The GetBucketVersioning response for a bucket that never had versioning.
struct VersioningConfiguration: Codable, Sendable {}

/// The GetBucketAcl / GetObjectAcl response: the owner holds FULL_CONTROL.
struct AccessControlPolicy: Codable, Sendable {
    struct Grantee: Codable, Sendable, DynamicNodeEncoding {
        var xmlnsXsi = "http://www.w3.org/2001/XMLSchema-instance"
        var type = "CanonicalUser"
        var id: String
        var displayName: String
        enum CodingKeys: String, CodingKey {
            case xmlnsXsi = "xmlns:xsi"
            case type = "xsi:type"
            case id = "ID"
            case displayName = "DisplayName"
        }
        static func nodeEncoding(for key: any CodingKey) -> XMLEncoder.NodeEncoding {
            key.stringValue.contains(":") ? .attribute : .element
        }
    }
    struct Grant: Codable, Sendable {
        var grantee: Grantee
        var permission = "FULL_CONTROL"
        enum CodingKeys: String, CodingKey {
            case grantee = "Grantee"
            case permission = "Permission"
        }
    }
    struct AccessControlList: Codable, Sendable {
        var grant: [Grant]
        enum CodingKeys: String, CodingKey { case grant = "Grant" }
    }
    var owner: Owner
    var accessControlList: AccessControlList

    init(owner: Owner) {
        self.owner = owner
        self.accessControlList = AccessControlList(grant: [Grant(grantee: Grantee(id: owner.id, displayName: owner.displayName))])
    }

    enum CodingKeys: String, CodingKey {
        case owner = "Owner"
        case accessControlList = "AccessControlList"
    }
}

/// The GetBucketTagging / GetObjectTagging response: no tags.
struct Tagging: Codable, Sendable {
    struct TagSet: Codable, Sendable {}
    var tagSet = TagSet()
    enum CodingKeys: String, CodingKey { case tagSet = "TagSet" }
}
