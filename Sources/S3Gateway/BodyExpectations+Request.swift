import BucketStore
import Foundation
import HTTPTypes
import S3Protocol

extension BodyExpectations {
    /// Reads what a PUT-like request promises about its body: length, hashes, checksum, aws-chunked.
    /// A body sent with `Transfer-Encoding: chunked` and no `Content-Length` (`curl -T -`) has no length
    /// until it ends.
    /// - Throws: ``S3Error`` `MissingContentLength`, `InvalidArgument`, `InvalidDigest`, `InvalidRequest`.
    init(headers: HTTPFields, payload: SigV4Authorization.Payload?) throws(S3Error) {
        let chunkedTransfer = headers[.transferEncoding]?.lowercased().contains("chunked") == true
        func length(_ name: HTTPField.Name) throws(S3Error) -> Int64? {
            guard let text = headers[name] else {
                if name == .contentLength, chunkedTransfer { return nil }
                throw S3Error(.missingContentLength)
            }
            guard let value = Int64(decimalDigits: text), value >= 0 else {
                throw S3Error(.invalidArgument, "\(name.canonicalName) must be a non-negative integer.")
            }
            return value
        }
        switch payload {
        case .unsigned, nil:
            self.init(length: try length(.contentLength))
        case .sha256(let hash):
            self.init(length: try length(.contentLength))
            sha256 = hash
        case .signedBodyHash(let pending):
            self.init(length: try length(.contentLength))
            pendingSignature = pending
        case .streamingSigned(let context, _):
            self.init(length: try length(.amzDecodedContentLength)!)
            chunked = AWSChunkedDecoder(signing: context)
        case .streamingUnsignedTrailer:
            self.init(length: try length(.amzDecodedContentLength)!)
            chunked = AWSChunkedDecoder(signing: nil)
        }
        if let md5 = headers[.contentMD5] {
            guard let data = Data(base64Encoded: md5), data.count == 16 else { throw S3Error(.invalidDigest) }
            self.md5 = Array(data)
        }
        checksum = try Self.checksum(headers, chunked: chunked != nil)
    }

    /// The checksum to verify: an `x-amz-checksum-*` header, or the one `x-amz-trailer` announces.
    static func checksum(_ headers: HTTPFields, chunked: Bool) throws(S3Error) -> (algorithm: ChecksumAlgorithm, value: String?)? {
        var found: (ChecksumAlgorithm, String?)?
        for algorithm in ChecksumAlgorithm.allCases {
            guard let name = HTTPField.Name(algorithm.headerName), let value = headers[name] else { continue }
            guard found == nil else { throw S3Error(.invalidRequest, "Expecting a single x-amz-checksum- header.") }
            guard let data = Data(base64Encoded: value), data.count == algorithm.digestLength else {
                throw S3Error(.invalidRequest, "Value for \(algorithm.headerName) header is invalid.")
            }
            found = (algorithm, value)
        }
        if let trailer = headers[.amzTrailer]?.lowercased() {
            guard chunked else { throw S3Error(.invalidRequest, "x-amz-trailer needs an aws-chunked body.") }
            guard found == nil, let algorithm = ChecksumAlgorithm.allCases.first(where: { $0.headerName == trailer }) else {
                throw S3Error(.invalidRequest, "x-amz-trailer must name one x-amz-checksum- header.")
            }
            found = (algorithm, nil)
        }
        return found
    }
}

extension VerifiedBody {
    /// The body of a PutObject or UploadPart, admitted against the store: a declared length over
    /// `maxLength`, or one the file system cannot hold above its reserve, is refused before the first
    /// byte is read; a body without a length is held to both while it streams.
    /// - Throws: ``S3Error`` `EntityTooLarge`, `InsufficientStorage` (as ``StorageError``).
    static func upload(
        _ base: Base, expectations: BodyExpectations, store: BucketStore, bucket: String, key: String, maxLength: Int64,
        tooLarge: String
    ) throws -> VerifiedBody {
        var reservation: SpaceReservation?
        if let length = expectations.length {
            guard length <= maxLength else { throw S3Error(.entityTooLarge, tooLarge, resource: "/\(bucket)/\(key)") }
            reservation = try store.reserveSpace(for: length, bucket: bucket, key: key)
        }
        return VerifiedBody(
            base: base, expectations: expectations,
            limits: UploadLimits(
                maxLength: maxLength, tooLarge: tooLarge,
                ensureSpace: { bytes throws(StorageError) in try store.ensureSpace(for: bytes, bucket: bucket, key: key) },
                reservation: reservation))
    }
}
