import ArgumentParser
import Foundation
import Operations
import S3Client
import Settings

/// `chainvault health [URL]`: a health check that needs no curl in a container or a systemd unit.
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Exit 0 when the server is ready (GET /-/health/ready answers 200), 1 otherwise.",
        discussion: "URL is a listener (http://127.0.0.1:9000) or a full health URL (…/-/health/live).")

    @Argument(help: "The S3 or hospital listener, or a health URL.")
    var url: String = "http://127.0.0.1:9000"

    func run() async throws {
        let target = url.contains("/-/health/") ? url : (url.hasSuffix("/") ? String(url.dropLast()) : url) + HealthEndpoints.ready
        do {
            // With the metrics token, ready names its checks.
            let token = try settings.secret(.metricsToken, trimming: .whitespacesAndNewlines)
            let (status, body) = try await HealthCheckRequest.get(target, bearer: token)
            ChainVault.output("\(status) \(body)")
            if status != 200 { throw ExitCode(1) }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            ChainVault.output("\(target) unreachable: \(error)")
            throw ExitCode(1)
        }
    }
}
