/// A request the S3 service refused, or could not be sent.
public struct S3ClientError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The service answered with an error status; `code` is the S3 error code when the body had one.
        case service(status: Int, code: String?)
        /// The request could not be sent or the answer not read, after every retry.
        case transport
        /// The endpoint or request is not usable.
        case invalidConfiguration
    }

    public let kind: Kind
    /// The S3 message, or what went wrong.
    public let message: String
    /// `METHOD /bucket/key` of the failed request.
    public let request: String
    /// The service's request id, for its operators.
    public let requestId: String?

    init(kind: Kind, message: String, request: String, requestId: String? = nil) {
        self.kind = kind
        self.message = message
        self.request = request
        self.requestId = requestId
    }

    init(invalidConfiguration message: String) {
        self.init(kind: .invalidConfiguration, message: message, request: "")
    }

    /// The S3 error code (`NoSuchBucket`, `SlowDown`, ...), when the service sent one.
    public var code: String? {
        if case .service(_, let code) = kind { return code }
        return nil
    }

    /// The HTTP status, when the service answered.
    public var status: Int? {
        if case .service(let status, _) = kind { return status }
        return nil
    }

    public var description: String {
        let prefix = request.isEmpty ? "" : "\(request): "
        switch kind {
        case .service(let status, let code):
            return "\(prefix)\(status) \(code ?? "(no S3 error code)"): \(message)\(requestId.map { " (request id \($0))" } ?? "")"
        case .transport: return "\(prefix)\(message)"
        case .invalidConfiguration: return "\(prefix)\(message)"
        }
    }
}
