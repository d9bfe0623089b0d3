/// The body of an S3 error response.
public struct ErrorDocument: Codable, Sendable, Equatable {
    public var code: String
    public var message: String
    public var resource: String?
    public var requestId: String

    enum CodingKeys: String, CodingKey {
        case code = "Code"
        case message = "Message"
        case resource = "Resource"
        case requestId = "RequestId"
    }

    public init(error: S3Error, requestId: String) {
        self.code = error.code.rawValue
        self.message = error.message
        self.resource = error.resource
        self.requestId = requestId
    }

    /// The encoded document (the root element `Error` carries no namespace, as in S3).
    public func xml() -> [UInt8] { S3XML.encode(self, rootKey: "Error", namespaced: false) }
}
