import HTTPTypes
import Hummingbird
import NIOCore

/// Small builders for the responses handlers return.
enum S3Responses {
    /// A 200 response with an XML body.
    static func xml(_ bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/xml"
        headers[.contentLength] = String(bytes.count)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// A response without a body.
    static func empty(_ status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        if status != .noContent { headers[.contentLength] = "0" }
        return Response(status: status, headers: headers)
    }
}
