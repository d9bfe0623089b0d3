import BucketStore
import Crypto
import Foundation
import Hex
import NIOCore
import S3Protocol
import Synchronization

/// What a request body must turn out to be: its length and the hashes the client promised.
struct BodyExpectations: Sendable {
    /// The exact number of (decoded) bytes: `Content-Length`, or `x-amz-decoded-content-length` for
    /// aws-chunked; nil for a body sent with `Transfer-Encoding: chunked` and no length.
    var length: Int64?
    /// Hex SHA-256 from `x-amz-content-sha256`.
    var sha256: String?
    /// Raw MD5 from `Content-MD5`.
    var md5: [UInt8]?
    /// A signature still to be checked against the body's SHA-256 (curl without `x-amz-content-sha256`).
    var pendingSignature: PendingSignature?
    /// The checksum to verify: algorithm and base64 value from a header, or only the algorithm when the
    /// value comes in the aws-chunked trailer (`x-amz-trailer`).
    var checksum: (algorithm: ChecksumAlgorithm, value: String?)?
    /// The body is aws-chunked: decode it (verifying chunk signatures when a context is given).
    var chunked: AWSChunkedDecoder?
}

/// The checksums a body turned out to carry, known once it ended (a trailer's value arrives last).
final class BodyOutcome: Sendable {
    private let value = Mutex<[String: String]>([:])

    var checksums: [String: String] { value.withLock { $0 } }

    func record(_ algorithm: ChecksumAlgorithm, _ checksum: String) {
        value.withLock { $0[algorithm.rawValue] = checksum }
    }
}

/// What a body without a declared length is held to while it streams.
struct UploadLimits: Sendable {
    /// The most bytes it may have.
    var maxLength: Int64
    /// The message of the `EntityTooLarge` beyond.
    var tooLarge: String
    /// Throws when the file system cannot take so many more bytes above its reserve.
    var ensureSpace: @Sendable (Int64) throws(StorageError) -> Void
    /// The space a body of declared length holds while it streams, given back with the body.
    var reservation: SpaceReservation?
    /// Bytes between two free-space checks.
    static let spaceStride: Int64 = 8 * 1024 * 1024
}

/// Wraps a request body and checks it as it streams: aws-chunked decoding and chunk signatures,
/// length, SHA-256, MD5, checksum (from a header or the trailer) and a deferred signature. The last
/// `next()` throws if anything does not match, so the store never publishes an object whose bytes
/// differ from what was signed or promised.
struct VerifiedBody<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == ByteBuffer {
    typealias Element = ByteBuffer

    let base: Base
    let expectations: BodyExpectations
    var limits: UploadLimits?
    let outcome = BodyOutcome()

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let expectations: BodyExpectations
        let outcome: BodyOutcome
        var decoder: AWSChunkedDecoder?
        var pending: [ByteBuffer] = []
        var count: Int64 = 0
        var sha256: SHA256?
        var md5: Insecure.MD5?
        var checksum: ChecksumHasher?
        let limits: UploadLimits?
        /// Bytes of a body without a length the free-space checks have covered so far.
        var spaceChecked: Int64 = 0
        var finished = false

        mutating func next() async throws -> ByteBuffer? {
            while pending.isEmpty {
                guard !finished else { return nil }
                guard let raw = try await nextRaw() else {
                    finished = true
                    try finish()
                    return nil
                }
                if decoder != nil {
                    pending = try decoder!.decode(raw)
                } else {
                    pending = [raw]
                }
            }
            let chunk = pending.removeFirst()
            count += Int64(chunk.readableBytes)
            if let length = expectations.length {
                if count > length { throw S3Error(.invalidRequest, "The body is longer than its declared length.") }
            } else if let limits {
                if count > limits.maxLength { throw S3Error(.entityTooLarge, limits.tooLarge) }
                while count > spaceChecked {
                    try limits.ensureSpace(UploadLimits.spaceStride)
                    spaceChecked += UploadLimits.spaceStride
                }
            }
            chunk.withUnsafeReadableBytes { bytes in
                sha256?.update(bufferPointer: bytes)
                md5?.update(bufferPointer: bytes)
                checksum?.update(bytes)
            }
            return chunk
        }

        private mutating func nextRaw() async throws -> ByteBuffer? {
            do {
                return try await base.next()
            } catch let error as S3Error {
                throw error
            } catch {
                // The connection closed or broke mid-body: the client's doing, not an internal error.
                throw S3Error(.incompleteBody, "The connection closed before the whole body arrived.")
            }
        }

        private mutating func finish() throws {
            var trailers: [String: String] = [:]
            if decoder != nil { trailers = try decoder!.finish() }
            if let length = expectations.length, count != length { throw S3Error(.incompleteBody) }
            if let md5, let expected = expectations.md5, Array(md5.finalize()) != expected {
                throw S3Error(.badDigest, "The Content-MD5 you specified did not match what we received.")
            }
            if let checksum, let expected = expectations.checksum {
                guard let value = expected.value ?? trailers[expected.algorithm.headerName] else {
                    throw S3Error(.invalidRequest, "The trailer \(expected.algorithm.headerName) announced in x-amz-trailer is missing.")
                }
                guard checksum.finalize() == value else {
                    throw S3Error(.badDigest, "The \(expected.algorithm.headerName) you specified did not match the calculated checksum.")
                }
                outcome.record(expected.algorithm, value)
            }
            if let sha256 {
                let actual = Hex.encode(sha256.finalize())
                if let expected = expectations.sha256, actual != expected {
                    throw S3Error(.xAmzContentSHA256Mismatch)
                }
                if let pending = expectations.pendingSignature, !pending.matches(payloadHash: actual) {
                    throw pending.mismatch(payloadHash: actual)
                }
            }
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(
            base: base.makeAsyncIterator(),
            expectations: expectations,
            outcome: outcome,
            decoder: expectations.chunked,
            sha256: expectations.sha256 != nil || expectations.pendingSignature != nil ? SHA256() : nil,
            md5: expectations.md5 != nil ? Insecure.MD5() : nil,
            checksum: expectations.checksum?.algorithm.makeHasher(),
            limits: limits
        )
    }
}
