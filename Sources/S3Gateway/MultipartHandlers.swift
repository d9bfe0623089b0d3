import BucketStore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import S3Protocol

/// Multipart upload: create, upload part (and part copy), complete, abort, list parts and uploads.
struct MultipartHandlers: Sendable {
    let store: BucketStore
    let clock: @Sendable () -> Int64

    static func uploadId(_ query: QueryParameters) throws(S3Error) -> String {
        guard let id = query["uploadId"], !id.isEmpty else { throw S3Error(.invalidArgument, "uploadId is missing.") }
        return id
    }

    static func partNumber(_ query: QueryParameters) throws(S3Error) -> Int {
        guard let text = query["partNumber"], let number = Int(decimalDigits: text), (1...BucketStore.maxPartNumber).contains(number) else {
            throw S3Error(.invalidArgument, "Part number must be an integer between 1 and 10000, inclusive.")
        }
        return number
    }

    func create(bucket: String, key: String, request: Request, context: S3RequestContext) async throws -> Response {
        let upload = try await store.createMultipartUpload(
            bucket: bucket,
            key: key,
            owner: try context.requireCaller().accessKeyId,
            attributes: try ObjectHandlers.attributes(request.headers),
            now: clock()
        )
        return S3Responses.xml(InitiateMultipartUploadResult(bucket: bucket, key: key, uploadId: upload.uploadId).xml())
    }

    func uploadPart(bucket: String, key: String, query: QueryParameters, request: Request, context: S3RequestContext) async throws
        -> Response
    {
        let uploadId = try Self.uploadId(query)
        let partNumber = try Self.partNumber(query)
        let expectations = try BodyExpectations(headers: request.headers, payload: context.payload)
        let body = try VerifiedBody.upload(
            request.body, expectations: expectations, store: store, bucket: bucket, key: key, maxLength: ObjectHandlers.maxObjectSize,
            tooLarge: "A part is at most 5 GiB.")
        let outcome = body.outcome
        let part = try await store.uploadPart(
            bucket: bucket,
            key: key,
            uploadId: uploadId,
            partNumber: partNumber,
            checksums: { outcome.checksums },
            body: body
        )
        return S3Responses.empty(.ok, headers: ObjectHandlers.writeHeaders(etag: part.etag, checksums: part.checksums))
    }

    func uploadPartCopy(
        bucket: String,
        key: String,
        query: QueryParameters,
        request: Request,
        context: S3RequestContext,
        objects: ObjectHandlers
    ) async throws -> Response {
        let uploadId = try Self.uploadId(query)
        let partNumber = try Self.partNumber(query)
        _ = try await store.multipartUpload(bucket: bucket, key: key, uploadId: uploadId)
        let (reader, _, _) = try await objects.openCopySource(request.headers, context: context)
        let size = reader.info.size
        var range: Range<Int64> = 0..<size
        if let header = request.headers[.amzCopySourceRange] {
            let parts = header.hasPrefix("bytes=") ? header.dropFirst(6).split(separator: "-", omittingEmptySubsequences: false) : []
            guard parts.count == 2, let first = Int64(parts[0]), let last = Int64(parts[1]), first <= last, last < size else {
                await reader.close()
                throw S3Error(
                    .invalidArgument, "The x-amz-copy-source-range '\(header)' is not bytes=first-last within the source's \(size) bytes.")
            }
            range = first..<(last + 1)
        }
        let part: UploadedPart
        do {
            part = try await store.uploadPart(
                bucket: bucket, key: key, uploadId: uploadId, partNumber: partNumber, body: reader.chunks(in: range))
            await reader.close()
        } catch {
            await reader.close()
            throw error
        }
        let result = CopyResult(eTag: "\"\(part.etag)\"", lastModified: S3Time.iso8601(part.modificationNanos / 1_000_000_000))
        return S3Responses.xml(result.xml(rootKey: "CopyPartResult"))
    }

    func complete(bucket: String, key: String, query: QueryParameters, request: Request) async throws -> Response {
        let uploadId = try Self.uploadId(query)
        let condition = try Preconditions.writeCondition(request.headers)
        let body = try await request.body.collect(upTo: S3XML.maxRequestBodySize)
        guard body.readableBytes > 0 else { throw S3Error(.malformedXML, "CompleteMultipartUpload needs the list of parts.") }
        let document = try await RequestDocument.decode(CompleteMultipartUpload.self, from: body)
        guard !document.parts.isEmpty else { throw S3Error(.malformedXML, "CompleteMultipartUpload needs at least one part.") }
        let info = try await store.completeMultipartUpload(
            bucket: bucket,
            key: key,
            uploadId: uploadId,
            parts: document.parts.map { ($0.partNumber, $0.eTag) },
            condition: condition
        )
        let location = "/" + bucket + "/" + URIEncoding.encode(key, keepingSlash: true)
        let result = CompleteMultipartUploadResult(location: location, bucket: bucket, key: key, eTag: "\"\(info.etag)\"")
        return S3Responses.xml(result.xml())
    }

    func abort(bucket: String, key: String, query: QueryParameters) async throws -> Response {
        try await store.abortMultipartUpload(bucket: bucket, key: key, uploadId: try Self.uploadId(query))
        return S3Responses.empty(.noContent)
    }

    static func limit(_ query: QueryParameters, _ name: String) throws(S3Error) -> Int {
        guard let text = query[name] else { return 1000 }
        guard let value = Int(decimalDigits: text), value >= 0 else {
            throw S3Error(.invalidArgument, "\(name) must be a non-negative integer.")
        }
        return min(value, 1000)
    }

    func listParts(bucket: String, key: String, query: QueryParameters, context: S3RequestContext) async throws -> Response {
        let uploadId = try Self.uploadId(query)
        let maxParts = try Self.limit(query, "max-parts")
        let marker = Int(query["part-number-marker"] ?? "0") ?? 0
        let upload = try await store.multipartUpload(bucket: bucket, key: key, uploadId: uploadId)
        let all = try await store.listParts(bucket: bucket, key: key, uploadId: uploadId).filter { $0.partNumber > marker }
        let page = Array(all.prefix(maxParts))
        let owner = Owner(id: upload.owner, displayName: upload.owner)
        let result = ListPartsResult(
            bucket: bucket,
            key: key,
            uploadId: uploadId,
            owner: owner,
            partNumberMarker: marker,
            nextPartNumberMarker: page.last?.partNumber ?? marker,
            maxParts: maxParts,
            isTruncated: all.count > page.count,
            parts: page.map {
                .init(
                    partNumber: $0.partNumber, lastModified: S3Time.iso8601($0.modificationNanos / 1_000_000_000), eTag: "\"\($0.etag)\"",
                    size: $0.size)
            }
        )
        return S3Responses.xml(result.xml())
    }

    func listUploads(bucket: String, query: QueryParameters) async throws -> Response {
        let maxUploads = try Self.limit(query, "max-uploads")
        let prefix = query["prefix"] ?? ""
        let keyMarker = query["key-marker"] ?? ""
        let uploadIdMarker = query["upload-id-marker"] ?? ""
        let all = try await store.listMultipartUploads(bucket: bucket).filter { upload in
            guard upload.key.utf8.starts(with: prefix.utf8) else { return false }
            if keyMarker.isEmpty { return true }
            if upload.key == keyMarker { return !uploadIdMarker.isEmpty && upload.uploadId > uploadIdMarker }
            return keyMarker.utf8.lexicographicallyPrecedes(upload.key.utf8)
        }
        let page = Array(all.prefix(maxUploads))
        let truncated = all.count > page.count
        let result = ListMultipartUploadsResult(
            bucket: bucket,
            keyMarker: keyMarker,
            uploadIdMarker: uploadIdMarker,
            nextKeyMarker: truncated ? page.last?.key : nil,
            nextUploadIdMarker: truncated ? page.last?.uploadId : nil,
            prefix: prefix,
            maxUploads: maxUploads,
            isTruncated: truncated,
            uploads: page.map {
                .init(
                    key: $0.key, uploadId: $0.uploadId, owner: Owner(id: $0.owner, displayName: $0.owner),
                    initiated: S3Time.iso8601($0.initiated))
            }
        )
        return S3Responses.xml(result.xml())
    }
}
