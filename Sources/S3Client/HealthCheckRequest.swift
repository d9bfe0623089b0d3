import AsyncHTTPClient
package import NIOCore
import NIOHTTP1

/// One GET of a health URL (`chainvault health`): the only HTTP call ChainVault makes that is not an
/// S3 call, here so that AsyncHTTPClient has one owner.
package enum HealthCheckRequest {
    /// GETs `url` with an optional bearer token; the status and up to 64 KiB of the body.
    /// - Throws: When the URL is unusable or nothing answered within `timeout`.
    package static func get(_ url: String, bearer token: String?, timeout: TimeAmount = .seconds(10)) async throws -> (
        status: Int, body: String
    ) {
        var request = HTTPClientRequest(url: url)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response = try await HTTPClient.shared.execute(request, timeout: timeout)
        let body = try await response.body.collect(upTo: 64 << 10)
        return (Int(response.status.code), String(buffer: body))
    }
}
