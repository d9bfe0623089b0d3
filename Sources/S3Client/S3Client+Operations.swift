import AsyncHTTPClient
public import NIOCore
import NIOHTTP1
import NIOPosix
import S3Protocol

/// What HeadObject says of an object.
public struct S3ObjectHead: Sendable, Equatable {
    public var size: Int64
    public var eTag: String?
}

/// One page of ListObjectsV2.
public struct S3ListPage: Sendable {
    public var objects: [Object]
    public var isTruncated: Bool
    public var nextContinuationToken: String?

    public struct Object: Sendable, Equatable {
        public var key: String
        public var size: Int64
        /// `LastModified` in seconds since 1970, when the service sent a readable one.
        public var lastModified: Int64?
    }
}

extension S3Client {
    /// Creates `bucket`; a bucket these credentials can already reach is fine.
    public func createBucket(_ bucket: String) async throws {
        do {
            _ = try await send(Call(method: .PUT, bucket: bucket, key: nil))
        } catch let error as S3ClientError where error.code == "BucketAlreadyOwnedByYou" {
            return
        } catch let error as S3ClientError where error.code == "BucketAlreadyExists" {
            // Some services say so of the caller's own bucket: it is fine when it answers us.
            guard try await bucketExists(bucket) else { throw error }
        }
    }

    /// Whether `bucket` exists and these credentials may use it.
    public func bucketExists(_ bucket: String) async throws -> Bool {
        try await send(Call(method: .HEAD, bucket: bucket, key: nil), accepting: [403, 404]).status == 200
    }

    /// Stores `body` as `key`, signed over its SHA-256.
    /// - Returns: The ETag the service gave.
    @discardableResult
    public func putObject(bucket: String, key: String, body: ByteBuffer, contentType: String = "application/octet-stream")
        async throws -> String?
    {
        let answer = try await send(
            Call(method: .PUT, bucket: bucket, key: key, headers: [("content-type", contentType)], body: body))
        return answer.headers.first(name: "etag")
    }

    /// Streams an object's body (or the bytes in `range`) to `consume`, piece by piece as it arrives.
    /// A connection lost once the body began is not retried (the pieces are already handed on), unless
    /// `restart` is given: it is called before the body is read again from the start.
    /// - Returns: false when there is no such object.
    public func getObject(
        bucket: String, key: String, range: ClosedRange<Int64>? = nil,
        restart: (() -> Void)? = nil,
        consume: (ByteBuffer) async throws -> Void
    ) async throws -> Bool {
        var headers: [(name: String, value: String)] = []
        if let range { headers.append(("range", "bytes=\(range.lowerBound)-\(range.upperBound)")) }
        let answer = try await send(
            Call(method: .GET, bucket: bucket, key: key, headers: headers), accepting: [404], restartBody: restart
        ) { body in
            for try await piece in body { try await consume(piece) }
        }
        return answer.status != 404
    }

    /// An object's bytes (or the bytes in `range`) in memory, refusing bodies longer than `maxBytes`.
    /// - Returns: nil when there is no such object.
    public func getObject(bucket: String, key: String, range: ClosedRange<Int64>? = nil, maxBytes: Int) async throws -> ByteBuffer? {
        var collected = ByteBuffer()
        let found = try await getObject(
            bucket: bucket, key: key, range: range, restart: { collected.clear() },
            consume: { piece in
                guard collected.readableBytes + piece.readableBytes <= maxBytes else {
                    throw S3ClientError(
                        kind: .invalidConfiguration, message: "the object is larger than \(maxBytes) bytes",
                        request: "GET /\(bucket)/\(key)")
                }
                var piece = piece
                collected.writeBuffer(&piece)
            })
        return found ? collected : nil
    }

    /// The object's size and ETag; nil when there is no such object.
    public func headObject(bucket: String, key: String) async throws -> S3ObjectHead? {
        let answer = try await send(Call(method: .HEAD, bucket: bucket, key: key), accepting: [404])
        guard answer.status != 404 else { return nil }
        return S3ObjectHead(
            size: answer.headers.first(name: "content-length").flatMap { Int64($0) } ?? 0, eTag: answer.headers.first(name: "etag"))
    }

    /// Deletes an object; a missing one is fine, as in S3.
    public func deleteObject(bucket: String, key: String) async throws {
        _ = try await send(Call(method: .DELETE, bucket: bucket, key: key), accepting: [404])
    }

    /// One page of ListObjectsV2.
    public func listObjects(bucket: String, prefix: String? = nil, continuationToken: String? = nil, maxKeys: Int = 1000)
        async throws -> S3ListPage
    {
        var query = ["list-type=2", "max-keys=\(maxKeys)"]
        if let prefix { query.append("prefix=" + URIEncoding.encode(prefix)) }
        if let continuationToken { query.append("continuation-token=" + URIEncoding.encode(continuationToken)) }
        var bytes = ByteBuffer()
        // The whole listing is collected at once, so a retry simply collects it again.
        _ = try await send(
            Call(method: .GET, bucket: bucket, key: nil, query: query.sorted().joined(separator: "&")), restartBody: {},
            body: { body in bytes = try await body.collect(upTo: 16 << 20) })
        let page: ListBody
        do {
            // Up to 16 MiB from a service ChainVault does not control: decoded on NIO's thread pool, never on
            // the cooperative pool that the listeners' requests share.
            let listing = Array(buffer: bytes)
            page = try await NIOThreadPool.singleton.runIfActive { try S3XML.decode(ListBody.self, from: listing) }
        } catch {
            throw S3ClientError(kind: .transport, message: "the listing is not a ListBucketResult document", request: "GET /\(bucket)")
        }
        return S3ListPage(
            objects: page.contents.map { .init(key: $0.key, size: $0.size, lastModified: $0.lastModified.flatMap(S3Time.parseISO8601)) },
            isTruncated: page.isTruncated,
            nextContinuationToken: page.nextContinuationToken
        )
    }

    /// Every object of `bucket` (under `prefix`), page after page.
    public func listAllObjects(bucket: String, prefix: String? = nil) async throws -> [S3ListPage.Object] {
        var objects: [S3ListPage.Object] = []
        var token: String?
        repeat {
            let page = try await listObjects(bucket: bucket, prefix: prefix, continuationToken: token)
            objects += page.objects
            token = page.isTruncated ? page.nextContinuationToken : nil
        } while token != nil
        return objects
    }
}

/// The parts of a ListObjectsV2 answer the client reads. Public for the fuzz target of the answers a
/// remote service sends (`Fuzz/`): decode it with `S3XML.decode`.
public struct ListBody: Decodable, Sendable {
    struct Entry: Decodable, Sendable {
        var key: String
        var size: Int64
        var lastModified: String?
        enum CodingKeys: String, CodingKey {
            case key = "Key"
            case size = "Size"
            case lastModified = "LastModified"
        }
    }
    var contents: [Entry]
    var isTruncated: Bool
    var nextContinuationToken: String?

    enum CodingKeys: String, CodingKey {
        case contents = "Contents"
        case isTruncated = "IsTruncated"
        case nextContinuationToken = "NextContinuationToken"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        contents = try container.decodeIfPresent([Entry].self, forKey: .contents) ?? []
        isTruncated = try container.decodeIfPresent(Bool.self, forKey: .isTruncated) ?? false
        nextContinuationToken = try container.decodeIfPresent(String.self, forKey: .nextContinuationToken)
    }
}
