import Hex
public import Hummingbird
import Logging
public import S3Protocol

/// The per-request state of the S3 gateway: request id, parsed address, operation and caller.
public struct S3RequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The `x-amz-request-id` of this request.
    public var requestId: String
    /// Bucket and key, once parsed.
    public var address: S3Address?
    /// The query's parameters, parsed once.
    public var query: QueryParameters?
    /// The S3 operation, once classified.
    public var operation: S3Operation?
    /// The caller, once authenticated.
    public var caller: AccessKey?
    /// What the signature says about the body, once authenticated.
    public var payload: SigV4Authorization.Payload?

    public init(source: Source) {
        self.coreContext = .init(source: source)
        var generator = SystemRandomNumberGenerator()
        self.requestId = Hex.encode(withUnsafeBytes(of: generator.next() as UInt64) { Array($0) }).uppercased()
        // Every line this request causes carries its x-amz-request-id.
        logger[metadataKey: "request_id"] = "\(requestId)"
    }

    /// The authenticated caller; a handler reached without one is a programming error in the middleware chain.
    func requireCaller() throws(S3Error) -> AccessKey {
        guard let caller else { throw S3Error(.accessDenied) }
        return caller
    }
}
