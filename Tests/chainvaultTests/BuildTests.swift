import ArgumentParser
import Foundation
import Logging
import NIOPosix
import S3Client
import ServiceLifecycle
import Synchronization
import Testing

@testable import chainvault

/// The composition root `serve` runs: built from parsed settings over a fresh data root, both listeners
/// answer, and the group stops gracefully.
@Suite struct BuildTests {
    @Test(.timeLimit(.minutes(2))) func serveComposesBothListenersWhichAnswerAndStop() async throws {
        let folder = FileManager.default.temporaryDirectory.appending(path: "build-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let settings = try Serve.parse(["--data", folder, "--s3-port", "0", "--hospital-port", "0"])
        let root = try DataRoot.create(folder)
        let fileIO = NIOThreadPool(numberOfThreads: 2)
        fileIO.start()
        defer { fileIO.shutdownGracefully { _ in } }
        let addresses = Mutex<[String: String]>([:])
        let group = try await build(settings: settings, root: root, fileIO: fileIO, logger: Logger(label: "build-test")) { name, url in
            addresses.withLock { $0[name] = url }
        }
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            while addresses.withLock({ $0.count }) < 3 { try await Task.sleep(for: .milliseconds(20)) }
            let listeners = addresses.withLock { $0 }
            for name in ["s3 endpoint", "hospital endpoint"] {
                let url = try #require(listeners[name])
                let (status, _) = try await HealthCheckRequest.get(url + "/-/health/live", bearer: nil)
                #expect(status == 200, "\(name)")
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }
}
