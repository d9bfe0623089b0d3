import BucketStore
import Crypto
import HTTPTypes
import Hex
import Hummingbird
import Logging
import S3Protocol

/// Authenticates every request by SigV4, classifies the S3 operation and checks the caller's rights
/// on the bucket. Nothing is anonymous.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = S3RequestContext

    let verifier: SigV4Verifier
    let credentials: CredentialStore
    let access: BucketAccess
    let domain: String?
    let clock: @Sendable () -> Int64

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let address = try S3Address.parse(target: request.head.path ?? "/", host: request.head.authority, domain: domain)
        context.address = address

        var headers: [(name: String, value: String)] = []
        if let authority = request.head.authority { headers.append(("host", authority)) }
        for field in request.headers { headers.append((field.name.canonicalName, field.value)) }
        let signed = SigV4Request(method: request.method.rawValue, rawPath: address.rawPath, rawQuery: address.rawQuery, headers: headers)
        let credentials = self.credentials
        let secret: (String) -> String? = { credentials.key(for: $0)?.secretKey }
        let query = try QueryParameters(raw: address.rawQuery[...])
        context.query = query
        let authorization: SigV4Authorization
        if request.head.headerFields[.authorization] == nil, SigV2QueryVerifier.isPresigned(query) {
            // boto3 and the aws CLI v1 presign with Signature Version 2 by default: accepted for presigned URLs only.
            authorization = try SigV2QueryVerifier().verify(
                signed,
                bucketPath: address.resourcePath,
                query: query,
                now: clock(),
                secretForAccessKey: secret
            )
        } else if request.head.headerFields[.authorization] == nil, !SigV4Verifier.isPresigned(query) {
            // An anonymous CreateBucket is refused before the bucket's existence is looked at (AWS: 403 AccessDenied).
            let creates = classify(request, address: address, query: query) == .createBucket
            throw await access.refuseAnonymous(
                bucket: creates ? nil : address.bucket,
                denial: S3Error(.accessDenied, "Anonymous requests are not allowed; sign the request with an access key."))
        } else {
            authorization = try verifier.verify(signed, query: query, now: clock(), secretForAccessKey: secret)
        }
        guard let caller = credentials.key(for: authorization.accessKeyId) else { throw S3Error(.invalidAccessKeyId) }
        context.caller = caller
        context.payload = authorization.payload
        context.logger[metadataKey: "access_key"] = "\(caller.accessKeyId)"

        guard let operation = classify(request, address: address, query: query) else { throw S3Error(.methodNotAllowed) }
        context.operation = operation
        context.logger[metadataKey: "operation"] = "\(operation.rawValue)"
        try await access.authorize(caller, operation: operation, bucket: address.bucket)
        var request = request
        if case .signedBodyHash(let pending) = authorization.payload, operation != .putObject, operation != .uploadPart {
            // Only PutObject verifies its body as it streams; other bodies are small XML: check them here.
            let body = try await request.body.collect(upTo: S3XML.maxRequestBodySize)
            guard pending.matches(payloadHash: Hex.encode(SHA256.hash(data: body.readableBytesView))) else {
                throw S3Error(.signatureDoesNotMatch)
            }
            request.body = .init(buffer: body)
            context.payload = .unsigned
        }
        return try await next(request, context)
    }

    func classify(_ request: Request, address: S3Address, query: QueryParameters) -> S3Operation? {
        S3Operation.classify(
            method: request.method.rawValue,
            hasBucket: address.bucket != nil,
            hasKey: address.key != nil,
            query: query,
            hasCopySource: request.headers[.amzCopySource] != nil
        )
    }
}
