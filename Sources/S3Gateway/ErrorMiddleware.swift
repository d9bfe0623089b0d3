import BucketStore
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import NIOCore
import S3Protocol

/// The outermost middleware: stamps `x-amz-request-id` on every response and renders every error
/// as an S3 XML error body (no body for HEAD). Unknown errors become `InternalError`, with the cause
/// logged and never shown.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = S3RequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try await handle(request, context: context, onError: { _ in }, next: next)
    }

    /// - Parameter onError: Told the S3 error a failed request is answered with (for the access log).
    func handle(
        _ request: Request, context: Context, onError: (S3Error) -> Void, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let notModified as NotModified {
            response = Response(status: .notModified, headers: notModified.headers)
        } catch {
            let s3Error = Self.s3Error(for: error, logger: context.logger)
            response = Self.render(s3Error, requestId: context.requestId, head: request.method == .head)
            if let diagnostic = s3Error.diagnostic {
                context.logger.debug("signature mismatch", metadata: ["computed": "\(diagnostic)"])
            }
            Counter(label: "chainvault_s3_errors_total", dimensions: [("code", s3Error.code.rawValue)]).increment()
            onError(s3Error)
        }
        response.headers[.amzRequestId] = context.requestId
        return response
    }

    static func s3Error(for error: any Error, logger: Logger) -> S3Error {
        switch error {
        case let error as S3Error: return error
        case let error as StorageError:
            if case .io = error { logger.error("storage failure", metadata: ["cause": "\(error)"]) }
            return error.s3Error
        case let error as HTTPError where error.status == .contentTooLarge:
            return S3Error(.entityTooLarge)
        case is NIOTooManyBytesError:
            // Only the small XML bodies are collected; object bodies stream.
            return S3Error(.maxMessageLengthExceeded)
        default:
            logger.error("internal error", metadata: ["cause": "\(String(reflecting: error))"])
            return S3Error(.internalError)
        }
    }

    static func render(_ error: S3Error, requestId: String, head: Bool) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/xml"
        let status = HTTPResponse.Status(code: error.code.httpStatus)
        guard !head else {
            return Response(status: status, headers: headers)
        }
        let body = ErrorDocument(error: error, requestId: requestId).xml()
        headers[.contentLength] = String(body.count)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

extension HTTPField.Name {
    static let amzRequestId = Self("x-amz-request-id")!
    static let amzContentSHA256 = Self("x-amz-content-sha256")!
    static let amzDecodedContentLength = Self("x-amz-decoded-content-length")!
    static let amzTrailer = Self("x-amz-trailer")!
    static let amzMetadataDirective = Self("x-amz-metadata-directive")!
    static let amzCopySourceRange = Self("x-amz-copy-source-range")!
    static let amzCopySourceIfMatch = Self("x-amz-copy-source-if-match")!
    static let amzCopySourceIfNoneMatch = Self("x-amz-copy-source-if-none-match")!
    static let amzCopySourceIfModifiedSince = Self("x-amz-copy-source-if-modified-since")!
    static let amzCopySourceIfUnmodifiedSince = Self("x-amz-copy-source-if-unmodified-since")!
    static let amzBucketRegion = Self("x-amz-bucket-region")!
    static let amzCopySource = Self("x-amz-copy-source")!
    static let amzChecksumMode = Self("x-amz-checksum-mode")!
    static let contentMD5 = Self("Content-MD5")!
}
