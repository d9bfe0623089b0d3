/// An S3 protocol error: a code from ``S3ErrorCode`` with a message for the client.
///
/// Messages say what failed and what to do; they never contain secrets, signatures or keys.
public struct S3Error: Error, Sendable, Equatable, CustomStringConvertible {
    /// The S3 error code, which fixes the HTTP status.
    public var code: S3ErrorCode
    /// The human-readable message sent in the `Message` element.
    public var message: String
    /// The bucket or key the error is about, sent in the `Resource` element when known.
    public var resource: String?
    /// For the operator's debug log only, never sent: the canonical request and string to sign the
    /// server computed when a signature did not match.
    public var diagnostic: String?

    /// Creates an error with the code's default message unless a message is given.
    public init(_ code: S3ErrorCode, _ message: String? = nil, resource: String? = nil) {
        self.code = code
        self.message = message ?? code.defaultMessage
        self.resource = resource
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// Two errors are the same when the client would see the same answer; the diagnostic does not count.
    public static func == (lhs: S3Error, rhs: S3Error) -> Bool {
        lhs.code == rhs.code && lhs.message == rhs.message && lhs.resource == rhs.resource
    }
}
