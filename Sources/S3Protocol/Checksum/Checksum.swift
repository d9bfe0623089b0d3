import Crypto
import Foundation

/// The S3 checksum algorithms (`x-amz-checksum-*`), computed incrementally as a body streams.
public enum ChecksumAlgorithm: String, Sendable, CaseIterable {
    case crc32 = "CRC32"
    case crc32c = "CRC32C"
    case crc64nvme = "CRC64NVME"
    case sha1 = "SHA1"
    case sha256 = "SHA256"

    /// The header that carries this checksum, such as `x-amz-checksum-crc32`.
    public var headerName: String { "x-amz-checksum-\(rawValue.lowercased())" }

    /// The length in bytes of the raw digest.
    public var digestLength: Int {
        switch self {
        case .crc32, .crc32c: 4
        case .crc64nvme: 8
        case .sha1: 20
        case .sha256: 32
        }
    }

    /// A fresh incremental hasher for this algorithm.
    public func makeHasher() -> ChecksumHasher { ChecksumHasher(self) }
}

/// An incremental checksum; ``finalize()`` gives the base64 text S3 sends in headers.
public struct ChecksumHasher: Sendable {
    private enum State: Sendable {
        case crc32(UInt32, CRCTable<UInt32>)
        case crc64(UInt64)
        case sha1(Insecure.SHA1)
        case sha256(SHA256)
    }

    public let algorithm: ChecksumAlgorithm
    private var state: State

    init(_ algorithm: ChecksumAlgorithm) {
        self.algorithm = algorithm
        switch algorithm {
        case .crc32: state = .crc32(0xFFFF_FFFF, crc32IEEE)
        case .crc32c: state = .crc32(0xFFFF_FFFF, crc32Castagnoli)
        case .crc64nvme: state = .crc64(~0)
        case .sha1: state = .sha1(Insecure.SHA1())
        case .sha256: state = .sha256(SHA256())
        }
    }

    /// Adds bytes to the checksum.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        switch state {
        case .crc32(let crc, let table): state = .crc32(table.update(crc, bytes), table)
        case .crc64(let crc): state = .crc64(crc64NVME.update(crc, bytes))
        case .sha1(var hash):
            hash.update(bufferPointer: bytes)
            state = .sha1(hash)
        case .sha256(var hash):
            hash.update(bufferPointer: bytes)
            state = .sha256(hash)
        }
    }

    /// The raw digest bytes (big-endian for CRCs, as S3 encodes them).
    public func finalizeBytes() -> [UInt8] {
        switch state {
        case .crc32(let crc, _): return withUnsafeBytes(of: (~crc).bigEndian) { Array($0) }
        case .crc64(let crc): return withUnsafeBytes(of: (~crc).bigEndian) { Array($0) }
        case .sha1(let hash): return Array(hash.finalize())
        case .sha256(let hash): return Array(hash.finalize())
        }
    }

    /// The digest as base64, the form used in `x-amz-checksum-*` headers.
    public func finalize() -> String { Data(finalizeBytes()).base64EncodedString() }
}

/// A reflected, table-driven CRC over `Word` (32 or 64 bits).
struct CRCTable<Word: FixedWidthInteger & UnsignedInteger & Sendable>: Sendable {
    let table: [Word]

    init(polynomial: Word) {
        table = (0..<256).map { index in
            var crc = Word(index)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ polynomial : crc >> 1 }
            return crc
        }
    }

    func update(_ crc: Word, _ bytes: UnsafeRawBufferPointer) -> Word {
        var crc = crc
        table.withUnsafeBufferPointer { table in
            for byte in bytes { crc = table[Int(truncatingIfNeeded: (crc ^ Word(byte)) & 0xFF)] ^ (crc >> 8) }
        }
        return crc
    }
}

/// CRC-32 (IEEE 802.3), CRC-32C (Castagnoli) and CRC-64/NVME, as S3 defines its checksums.
let crc32IEEE = CRCTable<UInt32>(polynomial: 0xEDB8_8320)
let crc32Castagnoli = CRCTable<UInt32>(polynomial: 0x82F6_3B78)
let crc64NVME = CRCTable<UInt64>(polynomial: 0x9A6C_9329_AC4B_C9B5)
