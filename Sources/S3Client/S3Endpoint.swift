import Foundation

/// Where an S3 service is and how to sign for it.
public struct S3Endpoint: Sendable {
    /// `http` or `https`.
    public let scheme: String
    public let host: String
    public let port: Int?
    public let region: String
    let signer: SigV4Credentials

    struct SigV4Credentials: Sendable {
        let accessKeyId: String
        let secretAccessKey: String
    }

    /// - Parameter url: The service's base URL, such as `http://127.0.0.1:8333` or `https://s3.eu-west-1.amazonaws.com`;
    ///   buckets are addressed path-style below it.
    /// - Throws: ``S3ClientError`` when the URL is not an http(s) URL with a host and no path.
    public init(url: String, region: String, accessKeyId: String, secretAccessKey: String) throws(S3ClientError) {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty,
            components.path.isEmpty || components.path == "/", components.query == nil
        else { throw S3ClientError(invalidConfiguration: "'\(url)' is not an endpoint URL such as http://host:port") }
        guard !accessKeyId.isEmpty, !secretAccessKey.isEmpty else {
            throw S3ClientError(invalidConfiguration: "the endpoint \(url) has no access key or secret")
        }
        self.scheme = scheme
        self.host = host
        self.port = components.port
        self.region = region
        self.signer = SigV4Credentials(accessKeyId: accessKeyId, secretAccessKey: secretAccessKey)
    }

    /// The `Host` header: the host, with the port unless it is the scheme's default.
    var authority: String {
        let bracketed = host.contains(":") ? "[\(host)]" : host
        guard let port, !(scheme == "http" && port == 80), !(scheme == "https" && port == 443) else { return bracketed }
        return "\(bracketed):\(port)"
    }

    /// The base URL, for messages.
    public var url: String { "\(scheme)://\(authority)" }
}

extension S3Endpoint: CustomStringConvertible, CustomDebugStringConvertible {
    /// The URL, region and access key id; never the secret.
    public var description: String { "S3Endpoint(\(url), region \(region), key \(signer.accessKeyId), secret redacted)" }
    public var debugDescription: String { description }
}
