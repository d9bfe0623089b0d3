import Foundation
import Hummingbird
import NIOCore
import Operations
import Synchronization
import TestSupport
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

    /// A small body is gathered into one buffer (so that it goes out with its head in one write) and
    /// counts as sent then; a larger one still completes only after its last byte; a small body that
    /// fails while gathered reports the failure once.
    @Test func smallBodiesAreGatheredLargeOnesStream() async throws {
        let produced = ByteCount()
        let small = ResponseBody(contentLength: 3 * 1000) { writer in
            for _ in 0..<3 {
                produced.value.withLock { $0 += 1000 }
                try await writer.write(ByteBuffer(repeating: 7, count: 1000))
            }
            try await writer.finish(nil)
        }
        let outcome = Mutex<[Bool]>([])
        let gathered = try await small.whenSent { completed in outcome.withLock { $0.append(completed) } }
        #expect(produced.value.withLock { $0 } == 3000, "the body ran while it was gathered")
        #expect(outcome.withLock { $0 } == [true])
        #expect(gathered.contentLength == 3000)
        let writer = CollectingWriter()
        try await gathered.write(writer)
        #expect(writer.bytes.value.withLock { $0 } == 3000)
        #expect(outcome.withLock { $0 } == [true], "reported once")

        let large = ResponseBody(byteBuffer: ByteBuffer(repeating: 1, count: ResponseBody.gatheredLimit + 1))
        let streamed = try await large.whenSent { completed in outcome.withLock { $0.append(completed) } }
        #expect(outcome.withLock { $0 } == [true], "not sent yet")
        try await streamed.write(CollectingWriter())
        #expect(outcome.withLock { $0 } == [true, true])

        struct Broken: Error {}
        let failing = ResponseBody(contentLength: 10) { _ in throw Broken() }
        await #expect(throws: Broken.self) {
            _ = try await failing.whenSent { completed in outcome.withLock { $0.append(completed) } }
        }
        #expect(outcome.withLock { $0 } == [true, true, false])
    }

    /// A key added to the file by another process (`chainvault credentials add`) is accepted without a
    /// restart: the store looks at the file at most once a second, so the test polls until a deadline.
    @Test func credentialsAddedWhileServingAreAcceptedSoon() async throws {
        let folder = temporaryPath("cv-creds")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let serving = CredentialStore(configDirectory: folder, recheckInterval: .zero)
        _ = try serving.ensureRootKey()
        let root = try #require(try serving.rootKey())
        #expect(serving.key(for: root.accessKeyId) != nil)
        let added = try CredentialStore(configDirectory: folder).add(readOnly: true, buckets: [])
        #expect(serving.key(for: added.accessKeyId)?.readOnly == true, "a key added by another process is accepted")
    }
}
