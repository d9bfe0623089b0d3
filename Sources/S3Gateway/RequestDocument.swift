import NIOCore
import NIOPosix
import S3Protocol

/// XML request bodies (DeleteObjects, CompleteMultipartUpload, CreateBucket's configuration), decoded by
/// ``S3XML/decode(_:from:)``. A body larger than ``poolThreshold`` is checked and decoded on NIO's thread
/// pool, so that a request of up to ``S3XML/maxRequestBodySize`` never holds one of the few threads of
/// Swift's cooperative pool, which every request of both listeners shares.
enum RequestDocument {
    /// Bodies up to this size are decoded in place: a DeleteObjects of a few hundred keys.
    static let poolThreshold = 64 * 1024

    /// - Throws: ``S3Error`` `MalformedXML` when the body is not the expected document.
    static func decode<T: Decodable & Sendable>(_ type: T.Type, from body: ByteBuffer) async throws -> T {
        let bytes = Array(buffer: body)
        guard bytes.count > poolThreshold else { return try S3XML.decode(T.self, from: bytes) }
        return try await NIOThreadPool.singleton.runIfActive { try S3XML.decode(T.self, from: bytes) }
    }
}
