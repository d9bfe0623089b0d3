import Hummingbird
public import HummingbirdCore
import HummingbirdTLS
public import NIOCore
import NIOSSL

/// The PEM files of a TLS listener: the S3 port and the hospital port take the same.
public struct TLSFiles: Sendable {
    public var certificateChain: String
    public var privateKey: String

    public init(certificateChain: String, privateKey: String) {
        self.certificateChain = certificateChain
        self.privateKey = privateKey
    }
}

/// An HTTP/1.1 listener with the connection guard (and the handlers `handlers` makes for each
/// connection after it), over TLS when `tls` names the files.
/// - Throws: `NIOSSLError` when the certificate or key cannot be read.
public func makeHTTPServer(
    connections: ConnectionPolicy, handlers: @escaping @Sendable () -> [any RemovableChannelHandler] = { [] }, tls: TLSFiles?
) throws -> HTTPServerBuilder {
    let limiter = ConnectionLimiter(policy: connections)
    let server = HTTPServerBuilder.http1(
        configuration: .init(additionalChannelHandlers: [limiter.makeHandler()] + handlers(), idleTimeout: nil))
    guard let tls else { return server }
    let chain = try NIOSSLCertificate.fromPEMFile(tls.certificateChain)
    let key = try NIOSSLPrivateKey(file: tls.privateKey, format: .pem)
    let configuration = TLSConfiguration.makeServerConfiguration(
        certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
    return try .tls(server, tlsConfiguration: configuration)
}
