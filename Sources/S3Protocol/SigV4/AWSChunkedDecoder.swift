import Crypto
import Hex
public import NIOCore

/// Decodes an `aws-chunked` body incrementally, verifying chunk and trailer signatures as bytes pass.
///
/// ```
/// <hex size>[;chunk-signature=<64 hex>]\r\n <data> \r\n   ... repeated ...
/// 0[;chunk-signature=<64 hex>]\r\n
/// [<trailer name>:<value>\r\n ... [x-amz-trailer-signature:<64 hex>\r\n]]
/// \r\n
/// ```
///
/// Each chunk signature signs `AWS4-HMAC-SHA256-PAYLOAD`, the request time and scope, the previous
/// signature (the request's seed signature first), the hash of the empty string and the hash of
/// the chunk's data. The trailer signature signs `AWS4-HMAC-SHA256-TRAILER`, time, scope, the last
/// chunk signature and the hash of the trailer lines. Data is handed out before its chunk's
/// signature is checked; a failure throws at the end of that chunk, so a caller that publishes only
/// after the stream ended never publishes forged bytes.
public struct AWSChunkedDecoder: Sendable {
    enum State: Sendable {
        case chunkHeader
        case data(remaining: Int)
        case dataEnd
        case trailer
        case done
    }

    /// The longest chunk header or trailer line accepted.
    static let maxLineLength = 4096
    /// The largest chunk accepted (SDKs send 64 KiB to 8 MiB).
    static let maxChunkSize = 64 * 1024 * 1024

    private let signing: StreamingSignatureContext?
    private var state: State = .chunkHeader
    private var line: [UInt8] = []
    private var previousSignature: String
    private var chunkSignature: String?
    private var chunkHash = SHA256()
    private var trailerLines: [String] = []
    /// The decoded length so far.
    public private(set) var decodedLength: Int64 = 0
    /// Trailing headers by lowercase name, once ``finish()`` returned.
    public private(set) var trailers: [String: String] = [:]

    /// - Parameter signing: The request's streaming signature context; nil for unsigned chunks.
    public init(signing: StreamingSignatureContext?) {
        self.signing = signing
        self.previousSignature = signing?.seedSignature ?? ""
    }

    private static func malformed(_ detail: String) -> S3Error {
        S3Error(.incompleteBody, "The aws-chunked body is malformed: \(detail).")
    }

    /// Consumes encoded bytes and returns the decoded data they complete, in order.
    /// - Throws: ``S3Error`` `IncompleteBody` (malformed encoding) or `SignatureDoesNotMatch` (a chunk signature).
    public mutating func decode(_ input: ByteBuffer) throws(S3Error) -> [ByteBuffer] {
        var input = input
        var output: [ByteBuffer] = []
        while input.readableBytes > 0 {
            switch state {
            case .chunkHeader:
                guard let header = try readLine(&input) else { continue }
                try startChunk(header)
            case .data(let remaining):
                let count = min(remaining, input.readableBytes)
                let slice = input.readSlice(length: count)!
                slice.withUnsafeReadableBytes { chunkHash.update(bufferPointer: $0) }
                decodedLength += Int64(count)
                output.append(slice)
                state = remaining == count ? .dataEnd : .data(remaining: remaining - count)
            case .dataEnd:
                guard let rest = try readLine(&input) else { continue }
                guard rest.isEmpty else { throw Self.malformed("chunk data is longer than its declared size") }
                try endChunk(isLast: false)
                state = .chunkHeader
            case .trailer:
                guard let text = try readLine(&input) else { continue }
                if text.isEmpty {
                    try endTrailer()
                    state = .done
                } else {
                    trailerLines.append(String(decoding: text, as: UTF8.self))
                    if trailerLines.count > 64 { throw Self.malformed("too many trailer lines") }
                }
            case .done:
                throw Self.malformed("bytes follow the final chunk")
            }
        }
        return output
    }

    /// Checks that the body ended after a complete final chunk (and trailer).
    /// - Returns: The trailing headers by lowercase name.
    public mutating func finish() throws(S3Error) -> [String: String] {
        guard case .done = state else { throw Self.malformed("the body ended before the final chunk") }
        return trailers
    }

    /// Reads up to CRLF; nil when the line continues in the next buffer.
    private mutating func readLine(_ input: inout ByteBuffer) throws(S3Error) -> [UInt8]? {
        while let byte = input.readInteger(as: UInt8.self) {
            if byte == UInt8(ascii: "\n") {
                guard line.last == UInt8(ascii: "\r") else { throw Self.malformed("a line does not end in CRLF") }
                let result = Array(line.dropLast())
                line.removeAll(keepingCapacity: true)
                return result
            }
            line.append(byte)
            if line.count > Self.maxLineLength { throw Self.malformed("a chunk header is too long") }
        }
        return nil
    }

    private mutating func startChunk(_ header: [UInt8]) throws(S3Error) {
        let text = String(decoding: header, as: UTF8.self)
        let parts = text.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)
        guard let size = Int(hexDigits: parts[0]), size >= 0, size <= Self.maxChunkSize else {
            throw Self.malformed("the chunk size '\(parts[0].prefix(32))' is not a hex number up to 64 MiB")
        }
        if signing != nil {
            guard parts.count == 2, parts[1].hasPrefix("chunk-signature="), parts[1].utf8.count == 16 + 64 else {
                throw S3Error(.signatureDoesNotMatch, "A chunk of a signed aws-chunked body has no chunk-signature.")
            }
            chunkSignature = String(parts[1].dropFirst(16))
        }
        chunkHash = SHA256()
        if size == 0 {
            try endChunk(isLast: true)
            state = .trailer
        } else {
            state = .data(remaining: size)
        }
    }

    private mutating func endChunk(isLast: Bool) throws(S3Error) {
        guard let signing, let claimed = chunkSignature else { return }
        let stringToSign = [
            "AWS4-HMAC-SHA256-PAYLOAD", signing.amzDate, signing.scope, previousSignature, SigV4.emptyPayloadHash,
            Hex.encode(chunkHash.finalize()),
        ].joined(separator: "\n")
        let expected = SigV4.signature(stringToSign: stringToSign, signingKey: signing.signingKey.key)
        guard SigV4.constantTimeEquals(expected, claimed) else {
            throw S3Error(.signatureDoesNotMatch, "The signature of chunk ending at byte \(decodedLength) does not match.")
        }
        previousSignature = claimed
    }

    private mutating func endTrailer() throws(S3Error) {
        var signature: String?
        var canonical = ""
        for line in trailerLines {
            guard let colon = line.firstIndex(of: ":") else { throw Self.malformed("a trailer line has no ':'") }
            let name = line[..<colon].lowercased()
            let value = String(line[line.index(after: colon)...].trimmingSpaces())
            if name == "x-amz-trailer-signature" {
                signature = value
            } else {
                trailers[name] = value
                canonical += "\(name):\(value)\n"
            }
        }
        guard let signing else { return }
        if trailerLines.isEmpty { return }
        guard let signature else {
            throw S3Error(.signatureDoesNotMatch, "The trailer of a signed aws-chunked body has no x-amz-trailer-signature.")
        }
        let stringToSign = [
            "AWS4-HMAC-SHA256-TRAILER", signing.amzDate, signing.scope, previousSignature, SigV4.sha256Hex(canonical),
        ].joined(separator: "\n")
        let expected = SigV4.signature(stringToSign: stringToSign, signingKey: signing.signingKey.key)
        guard SigV4.constantTimeEquals(expected, signature) else {
            throw S3Error(.signatureDoesNotMatch, "The trailer signature does not match.")
        }
    }
}
