import BucketStore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import S3Protocol

/// Handlers of object operations: put, get, head, delete.
struct ObjectHandlers: Sendable {
    let store: BucketStore
    let access: BucketAccess

    /// The largest single PUT, as in S3.
    static let maxObjectSize: Int64 = 5 * 1024 * 1024 * 1024

    func putObject(bucket: String, key: String, request: Request, context: S3RequestContext) async throws -> Response {
        let headers = request.headers
        let expectations = try BodyExpectations(headers: headers, payload: context.payload)
        let condition = try Preconditions.writeCondition(headers)
        let body = try VerifiedBody.upload(
            request.body, expectations: expectations, store: store, bucket: bucket, key: key, maxLength: Self.maxObjectSize,
            tooLarge: "A single PUT is at most 5 GiB; use a multipart upload.")
        let outcome = body.outcome
        let attributes = try Self.attributes(headers)
        let info = try await store.putObject(
            bucket: bucket,
            key: key,
            condition: condition,
            attributes: {
                // Verified checksums only: VerifiedBody fails the write before this on a mismatch.
                var final = attributes
                final.checksums = outcome.checksums
                return final
            },
            body: body
        )
        return S3Responses.empty(.ok, headers: Self.writeHeaders(etag: info.etag, checksums: outcome.checksums))
    }

    /// ETag and checksum headers of a PUT or UploadPart response.
    static func writeHeaders(etag: String, checksums: [String: String]) -> HTTPFields {
        var headers = HTTPFields()
        headers[.eTag] = "\"\(etag)\""
        for (algorithm, value) in checksums {
            if let name = HTTPField.Name("x-amz-checksum-" + algorithm.lowercased()) { headers[name] = value }
        }
        return headers
    }

    /// Buckets are unversioned: an object's one version is `null` (what ListObjectVersions lists), and
    /// any other version id names nothing.
    static func checkVersionId(_ query: QueryParameters) throws(S3Error) {
        if let version = query["versionId"], version != "null" { throw S3Error(.invalidArgument, "Invalid version id specified") }
    }

    func getObject(bucket: String, key: String, request: Request, query: QueryParameters, head: Bool) async throws -> Response {
        try Self.checkVersionId(query)
        let reader = try await store.openObject(bucket: bucket, key: key, readingBody: !head)
        let info = reader.info
        do {
            try Self.checkConditions(request.headers, info: info)
            var headers = Self.objectHeaders(info, query: query)
            let range = try ByteRange.resolve(request.headers[.range], size: info.size)
            if request.headers[.amzChecksumMode]?.uppercased() == "ENABLED", range == nil {
                for (algorithm, value) in info.attributes.checksums {
                    if let name = HTTPField.Name("x-amz-checksum-" + algorithm.lowercased()) { headers[name] = value }
                }
            }
            let status: HTTPResponse.Status
            let bytes: Range<Int64>
            if let range {
                status = .partialContent
                bytes = range.lowerBound..<(range.upperBound + 1)
                headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(info.size)"
            } else {
                status = .ok
                bytes = 0..<info.size
            }
            headers[.contentLength] = String(bytes.count)
            if head || bytes.isEmpty {
                await reader.close()
                return Response(status: status, headers: headers)
            }
            let body = ResponseBody(contentLength: bytes.count) { writer in
                do {
                    for try await chunk in reader.chunks(in: bytes) {
                        try await writer.write(chunk)
                    }
                    await reader.close()
                } catch {
                    await reader.close()
                    throw error
                }
                try await writer.finish(nil)
            }
            return Response(status: status, headers: headers, body: body)
        } catch {
            await reader.close()
            throw error
        }
    }

    func deleteObject(bucket: String, key: String, query: QueryParameters) async throws -> Response {
        try Self.checkVersionId(query)
        try await store.deleteObject(bucket: bucket, key: key)
        return S3Responses.empty(.noContent)
    }

    // MARK: - Request parsing

    /// The most user metadata an object carries: AWS counts the UTF-8 bytes of every
    /// `x-amz-meta-*` name (without the prefix) and value, and allows 2 KB.
    static let maxUserMetadataSize = 2048

    /// The attributes a PUT stores: content headers and `x-amz-meta-*`.
    /// - Throws: ``S3Error`` `MetadataTooLarge` when the user metadata exceeds 2 KB.
    static func attributes(_ headers: HTTPFields) throws(S3Error) -> ObjectAttributes {
        var attributes = ObjectAttributes()
        attributes.contentType = headers[.contentType] ?? "binary/octet-stream"
        if let encoding = headers[.contentEncoding] {
            // aws-chunked describes the transfer, not the object: it goes, the other codings stay exactly as sent.
            let codings = encoding.split(separator: ",", omittingEmptySubsequences: false)
            let kept = codings.filter { $0.trimmingCharacters(in: " ") != "aws-chunked" }
            let stored = kept.count == codings.count ? encoding[...] : kept.joined(separator: ",")[...].trimmingCharacters(in: " ")
            attributes.contentEncoding = stored.isEmpty ? nil : String(stored)
        }
        attributes.contentDisposition = headers[.contentDisposition]
        attributes.contentLanguage = headers[.contentLanguage]
        attributes.cacheControl = headers[.cacheControl]
        attributes.expires = headers[.expires]
        for field in headers where field.name.canonicalName.hasPrefix("x-amz-meta-") {
            let name = String(field.name.canonicalName.dropFirst("x-amz-meta-".count))
            attributes.userMetadata[name] = attributes.userMetadata[name].map { $0 + "," + field.value } ?? field.value
        }
        let metadataSize = attributes.userMetadata.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
        guard metadataSize <= Self.maxUserMetadataSize else { throw S3Error(.metadataTooLarge) }
        return attributes
    }

    // MARK: - Response

    /// The headers GET and HEAD send for an object, with `response-*` query overrides applied.
    static func objectHeaders(_ info: ObjectInfo, query: QueryParameters) -> HTTPFields {
        var headers = HTTPFields()
        let attributes = info.attributes
        headers[.eTag] = "\"\(info.etag)\""
        headers[.lastModified] = S3Time.httpDate(info.modificationSeconds)
        headers[.acceptRanges] = "bytes"
        headers[.contentType] = query["response-content-type"] ?? attributes.contentType ?? "binary/octet-stream"
        let overrides: [(HTTPField.Name, String, String?)] = [
            (.contentEncoding, "response-content-encoding", attributes.contentEncoding),
            (.contentDisposition, "response-content-disposition", attributes.contentDisposition),
            (.contentLanguage, "response-content-language", attributes.contentLanguage),
            (.cacheControl, "response-cache-control", attributes.cacheControl),
            (.expires, "response-expires", attributes.expires),
        ]
        for (name, parameter, stored) in overrides {
            if let value = query[parameter] ?? stored { headers[name] = value }
        }
        for (name, value) in attributes.userMetadata.sorted(by: { $0.key < $1.key }) {
            if let field = HTTPField.Name("x-amz-meta-" + name) { headers[field] = value }
        }
        return headers
    }

    /// `If-Match`, `If-None-Match`, `If-Modified-Since`, `If-Unmodified-Since` of a GET or HEAD.
    /// - Throws: ``S3Error`` `PreconditionFailed` (412) or ``NotModified`` (304).
    static func checkConditions(_ headers: HTTPFields, info: ObjectInfo) throws {
        let conditions = Preconditions(
            ifMatch: headers[.ifMatch],
            ifNoneMatch: headers[.ifNoneMatch],
            ifModifiedSince: headers[.ifModifiedSince],
            ifUnmodifiedSince: headers[.ifUnmodifiedSince]
        )
        switch conditions.evaluate(info) {
        case .proceed: return
        case .failed: throw S3Error(.preconditionFailed)
        case .notModified: throw NotModified(etag: "\"\(info.etag)\"", lastModified: S3Time.httpDate(info.modificationSeconds))
        }
    }
}

/// A conditional GET or HEAD whose object did not change: 304 without a body.
struct NotModified: Error, HTTPResponseError {
    let etag: String
    let lastModified: String
    var status: HTTPResponse.Status { .notModified }
    var headers: HTTPFields {
        var headers = HTTPFields()
        headers[.eTag] = etag
        headers[.lastModified] = lastModified
        return headers
    }
    func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(status: status, headers: headers)
    }
}
