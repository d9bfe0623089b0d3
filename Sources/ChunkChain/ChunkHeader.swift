/// The cleartext, authenticated header of a chunk (docs/chunk-format.md).
struct ChunkHeader: Sendable, Equatable {
    static let magic: [UInt8] = Array("CVCH".utf8)
    static let version: UInt8 = 1
    static let baseSize = 96
    static let headExtensionSize = 120
    static let tagSize = 16

    var chainId: [UInt8]
    var index: UInt32
    var isLast: Bool
    var keyId: [UInt8]
    var next: ChunkPointer?
    var ciphertextLength: UInt64
    /// Only in the head chunk.
    var head: HeadExtension?

    struct HeadExtension: Sendable, Equatable {
        var chunkCount: UInt32
        var wrapNonce: [UInt8]
        var wrappedKey: [UInt8]
        var sealedManifest: [UInt8]
    }

    var size: Int { Self.baseSize + (head == nil ? 0 : Self.headExtensionSize) }

    /// The AES-GCM nonce of the chunk: 4 zero bytes, then the index as 8 bytes.
    var nonce: [UInt8] { Self.nonce(index: UInt64(index)) }

    static func nonce(index: UInt64) -> [UInt8] { [0, 0, 0, 0] + index.bigEndianBytes }

    /// The nonce sealing the head's manifest, distinct from every chunk nonce.
    static let manifestNonce: [UInt8] = [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]

    func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        bytes += Self.magic
        bytes.append(Self.version)
        bytes.append((isLast ? 1 : 0) | (head != nil ? 2 : 0))
        bytes += [0, 0]
        bytes += chainId
        bytes += index.bigEndianBytes
        bytes += keyId
        bytes += nonce
        bytes.append(next?.bucket.rawValue ?? 255)
        bytes += next?.hash ?? [UInt8](repeating: 0, count: 32)
        bytes += [UInt8](repeating: 0, count: 7)
        bytes += ciphertextLength.bigEndianBytes
        if let head {
            bytes += head.chunkCount.bigEndianBytes
            bytes += head.wrapNonce
            bytes += head.wrappedKey
            bytes += head.sealedManifest
        }
        precondition(bytes.count == size, "chunk header layout")
        return bytes
    }

    /// Parses a header from the start of a stored chunk.
    /// - Parameter position: The chunk's place in the chain, for error messages.
    static func parse(_ bytes: ArraySlice<UInt8>, position: Int) throws(ChainError) -> ChunkHeader {
        guard bytes.count >= baseSize else { throw .truncatedChunk(index: position) }
        let b = Array(bytes.prefix(baseSize + headExtensionSize))
        guard Array(b[0..<4]) == magic else { throw .malformedChunk(index: position, reason: "no chunk magic") }
        guard b[4] == version else { throw .unsupportedVersion(Int(b[4])) }
        let flags = b[5]
        guard flags & ~3 == 0, b[6] == 0, b[7] == 0, b[81..<88].allSatisfy({ $0 == 0 }) else {
            throw .malformedChunk(index: position, reason: "reserved bits are set")
        }
        let index = UInt32(bigEndian: b[24..<28])
        guard Array(b[36..<48]) == nonce(index: UInt64(index)) else {
            throw .malformedChunk(index: position, reason: "the nonce does not follow the index")
        }
        let isLast = flags & 1 == 1
        var next: ChunkPointer?
        switch b[48] {
        case 255:
            guard b[49..<81].allSatisfy({ $0 == 0 }) else { throw .malformedChunk(index: position, reason: "a hash without a bucket") }
        case let raw:
            guard let bucket = ChainBucket(rawValue: raw) else { throw .malformedChunk(index: position, reason: "unknown next bucket") }
            next = ChunkPointer(bucket: bucket, hash: Array(b[49..<81]))
        }
        let ciphertextLength = UInt64(bigEndian: b[88..<96])
        // No chunk is larger than the largest chunk size: a length beyond it (up to 2^64 - 1) is not a
        // chunk, and must not reach the arithmetic that sizes one (found by the fuzz target FuzzChunk).
        guard ciphertextLength <= UInt64(maxStoredChunkSize) else {
            throw .malformedChunk(index: position, reason: "a ciphertext length beyond the largest chunk")
        }
        var header = ChunkHeader(
            chainId: Array(b[8..<24]),
            index: index,
            isLast: isLast,
            keyId: Array(b[28..<36]),
            next: next,
            ciphertextLength: ciphertextLength,
            head: nil
        )
        if flags & 2 == 2 {
            guard b.count >= baseSize + headExtensionSize else { throw .truncatedChunk(index: position) }
            header.head = HeadExtension(
                chunkCount: UInt32(bigEndian: b[96..<100]),
                wrapNonce: Array(b[100..<112]),
                wrappedKey: Array(b[112..<160]),
                sealedManifest: Array(b[160..<216])
            )
        }
        return header
    }
}

extension FixedWidthInteger {
    var bigEndianBytes: [UInt8] { withUnsafeBytes(of: self.bigEndian) { Array($0) } }

    init(bigEndian bytes: ArraySlice<UInt8>) {
        self = bytes.reduce(0) { ($0 << 8) | Self($1) }
    }
}
