import BucketStore
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import S3Protocol

/// CopyObject and DeleteObjects.
extension ObjectHandlers {
    /// The source named by `x-amz-copy-source` (`bucket/key` or `/bucket/key`, URL-encoded).
    static func copySource(_ headers: HTTPFields) throws(S3Error) -> (bucket: String, key: String) {
        guard var text = headers[.amzCopySource] else { throw S3Error(.invalidArgument, "x-amz-copy-source is missing.") }
        if let question = text.firstIndex(of: "?") {
            guard text[question...].hasPrefix("?versionId=null") || text[question...] == "?" else {
                throw S3Error(.notImplemented, "Versioned copy sources are not supported.")
            }
            text = String(text[..<question])
        }
        guard let decoded = URIEncoding.decode(text.hasPrefix("/") ? String(text.dropFirst()) : text),
            let slash = decoded.firstIndex(of: "/"), slash != decoded.startIndex, decoded.index(after: slash) != decoded.endIndex
        else {
            throw S3Error(.invalidArgument, "x-amz-copy-source must be bucket/key, URL-encoded.")
        }
        return (String(decoded[..<slash]), String(decoded[decoded.index(after: slash)...]))
    }

    /// Opens the copy source after checking the caller may read it and the `x-amz-copy-source-if-*` conditions.
    func openCopySource(_ headers: HTTPFields, context: S3RequestContext) async throws -> (ObjectReader, bucket: String, key: String) {
        let (bucket, key) = try Self.copySource(headers)
        try await access.authorize(try context.requireCaller(), operation: .getObject, bucket: bucket)
        let reader = try await store.openObject(bucket: bucket, key: key)
        do {
            try Self.checkCopyConditions(headers, info: reader.info)
            return (reader, bucket, key)
        } catch {
            await reader.close()
            throw error
        }
    }

    /// `x-amz-copy-source-if-match / -none-match / -modified-since / -unmodified-since`: every failure is 412.
    static func checkCopyConditions(_ headers: HTTPFields, info: ObjectInfo) throws(S3Error) {
        let conditions = Preconditions(
            ifMatch: headers[.amzCopySourceIfMatch],
            ifNoneMatch: headers[.amzCopySourceIfNoneMatch],
            ifModifiedSince: headers[.amzCopySourceIfModifiedSince],
            ifUnmodifiedSince: headers[.amzCopySourceIfUnmodifiedSince]
        )
        guard conditions.evaluate(info) == .proceed else {
            throw S3Error(.preconditionFailed, "A condition of the copy source (x-amz-copy-source-if-*) does not hold.")
        }
    }

    func copyObject(bucket: String, key: String, request: Request, context: S3RequestContext) async throws -> Response {
        let headers = request.headers
        let directive = headers[.amzMetadataDirective]?.uppercased() ?? "COPY"
        guard directive == "COPY" || directive == "REPLACE" else {
            throw S3Error(.invalidArgument, "x-amz-metadata-directive must be COPY or REPLACE.")
        }
        let condition = try Preconditions.writeCondition(headers)
        let (reader, sourceBucket, sourceKey) = try await openCopySource(headers, context: context)
        let source = reader.info
        if sourceBucket == bucket, sourceKey == key, directive == "COPY" {
            await reader.close()
            throw S3Error(
                .invalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
            )
        }
        var attributes = directive == "REPLACE" ? try Self.attributes(headers) : source.attributes
        attributes.checksums = source.attributes.checksums
        let info: ObjectInfo
        do {
            // The source stays open on its own file descriptor: copying an object onto itself reads the
            // old bytes while the new file is written beside them, and the rename replaces it whole.
            info = try await store.putObject(
                bucket: bucket, key: key, condition: condition, attributes: attributes, body: reader.chunks(in: 0..<source.size))
            await reader.close()
        } catch {
            await reader.close()
            throw error
        }
        let result = CopyResult(eTag: "\"\(info.etag)\"", lastModified: S3Time.iso8601(milliseconds: info.modificationMilliseconds))
        return S3Responses.xml(result.xml(rootKey: "CopyObjectResult"))
    }

    /// The largest DeleteObjects request: 1000 keys.
    static let maxDeleteKeys = 1000

    func deleteObjects(bucket: String, request: Request) async throws -> Response {
        let body = try await request.body.collect(upTo: S3XML.maxRequestBodySize)
        guard body.readableBytes > 0 else { throw S3Error(.malformedXML) }
        let delete = try await RequestDocument.decode(DeleteRequest.self, from: body)
        guard !delete.objects.isEmpty, delete.objects.count <= Self.maxDeleteKeys else {
            throw S3Error(.malformedXML, "A DeleteObjects request names 1 to 1000 keys.")
        }
        if let md5 = request.headers[.contentMD5] {
            guard let expected = Data(base64Encoded: md5), expected.count == 16 else { throw S3Error(.invalidDigest) }
            guard Array(Insecure.MD5.hash(data: body.readableBytesView)) == Array(expected) else { throw S3Error(.badDigest) }
        }
        var deleted: [DeleteResult.Deleted] = []
        var errors: [DeleteResult.Failure] = []
        for object in delete.objects {
            // Buckets are unversioned: the only version an object has is `null`.
            if let version = object.versionId, version != "null" {
                errors.append(.init(key: object.key, error: S3Error(.noSuchVersion, resource: object.key)))
                continue
            }
            do {
                try await store.deleteObject(bucket: bucket, key: object.key)
                if !delete.quiet { deleted.append(.init(key: object.key, versionId: object.versionId)) }
            } catch {
                errors.append(.init(key: object.key, error: error.s3Error))
            }
        }
        return S3Responses.xml(DeleteResult(deleted: deleted, errors: errors).xml())
    }
}
