import Foundation
import Hummingbird
import NIOCore
import Operations
import Synchronization
import Testing

@testable import S3Gateway

/// Counts a response body's bytes.
final class ByteCount: Sendable {
    let value = Mutex(0)
}

struct CollectingWriter: ResponseBodyWriter {
    let bytes = ByteCount()
    func write(_ buffer: ByteBuffer) async throws { bytes.value.withLock { $0 += buffer.readableBytes } }
    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

@Suite struct RequestPathTests {
    /// A response is measured and logged when its body has been written, not when its handler returned:
    /// the completion comes only after the last chunk, and a body dropped unwritten still completes.
    @Test func completionComesAfterTheLastByteOfTheBody() async throws {
        let (chunks, source) = AsyncStream<ByteBuffer>.makeStream()
        let outcome = Mutex<Bool?>(nil)
        let body = ResponseBody(asyncSequence: chunks).whenWritten { completed in outcome.withLock { $0 = completed } }
        let writer = CollectingWriter()
        let writing = Task { try await body.write(writer) }
        source.yield(ByteBuffer(repeating: 1, count: 1 << 20))
        #expect(outcome.withLock { $0 } == nil, "the body is still being written")
        source.finish()
        try await writing.value
        #expect(outcome.withLock { $0 } == true)
        #expect(writer.bytes.value.withLock { $0 } == 1 << 20)

        let dropped = Mutex<Bool?>(nil)
        do {
            _ = ResponseBody(byteBuffer: ByteBuffer(string: "never sent")).whenWritten { completed in dropped.withLock { $0 = completed } }
        }
        #expect(dropped.withLock { $0 } == false)
    }

    /// A key added to the file by another process (`chainvault credentials add`) is accepted without a
    /// restart: the store looks at the file at most once a second, so the test polls until a deadline.
    @Test func credentialsAddedWhileServingAreAcceptedSoon() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cv-creds-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let serving = CredentialStore(configDirectory: folder)
        _ = try serving.ensureRootKey()
        let root = try #require(try serving.rootKey())
        #expect(serving.key(for: root.accessKeyId) != nil)
        let added = try CredentialStore(configDirectory: folder).add(readOnly: true, buckets: [])
        let deadline = ContinuousClock.now + .seconds(10)
        while serving.key(for: added.accessKeyId) == nil {
            #expect(ContinuousClock.now < deadline, "the added key was never accepted")
            if ContinuousClock.now >= deadline { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(serving.key(for: added.accessKeyId)?.readOnly == true)
    }
}
