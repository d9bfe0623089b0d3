import HospitalCore
import NIOCore

/// A request body that must arrive whole: its length is checked against `Content-Length`, and a body
/// the client stopped sending (the connection closed, the stream was cut) is the client's error —
/// ``HospitalError/incompleteBody`` (400) — not the server's.
struct CompleteBody<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == ByteBuffer {
    typealias Element = ByteBuffer
    let base: Base
    let declaredLength: Int64?

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let declaredLength: Int64?
        var received: Int64 = 0

        mutating func next() async throws -> ByteBuffer? {
            let chunk: ByteBuffer?
            do {
                chunk = try await base.next()
            } catch {
                throw HospitalError.incompleteBody
            }
            guard let chunk else {
                if let declaredLength, received != declaredLength { throw HospitalError.incompleteBody }
                return nil
            }
            received += Int64(chunk.readableBytes)
            if let declaredLength, received > declaredLength { throw HospitalError.incompleteBody }
            return chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), declaredLength: declaredLength) }
}
