import Foundation
import HTTPTypes
import S3Protocol

extension BodyExpectations {
    /// Reads what a PUT-like request promises about its body: length, hashes, checksum, aws-chunked.
    /// - Throws: ``S3Error`` `MissingContentLength`, `InvalidArgument`, `InvalidDigest`, `InvalidRequest`.
    init(headers: HTTPFields, payload: SigV4Authorization.Payload?) throws(S3Error) {
        func length(_ name: HTTPField.Name) throws(S3Error) -> Int64 {
            guard let text = headers[name] else { throw S3Error(.missingContentLength) }
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
            self.init(length: try length(.amzDecodedContentLength))
            chunked = AWSChunkedDecoder(signing: context)
        case .streamingUnsignedTrailer:
            self.init(length: try length(.amzDecodedContentLength))
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
