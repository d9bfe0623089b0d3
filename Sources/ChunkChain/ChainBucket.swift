/// One of the two buckets a chain spreads over.
public enum ChainBucket: UInt8, Sendable, CaseIterable, Codable, CustomStringConvertible {
    case a = 0
    case b = 1

    public var description: String { self == .a ? "A" : "B" }

    var other: ChainBucket { self == .a ? .b : .a }
}

/// Where a chunk is: its bucket and the SHA-256 of its stored bytes (its object key is the hex of it).
public struct ChunkPointer: Sendable, Hashable, Codable, CustomStringConvertible {
    public var bucket: ChainBucket
    public var hash: [UInt8]

    public init(bucket: ChainBucket, hash: [UInt8]) {
        self.bucket = bucket
        self.hash = hash
    }

    /// The object key: lowercase hex SHA-256.
    public var key: String { hash.map { String($0, radix: 16).leftPadded(to: 2) }.joined() }

    public var description: String { "\(bucket):\(key)" }

    /// Parses `A:<64 hex>` or `B:<64 hex>`.
    public init?(_ text: String) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let bucket = parts[0] == "A" ? ChainBucket.a : parts[0] == "B" ? .b : nil,
            parts[1].utf8.count == 64
        else { return nil }
        var bytes: [UInt8] = []
        var index = parts[1].startIndex
        while index < parts[1].endIndex {
            let next = parts[1].index(index, offsetBy: 2)
            guard let byte = UInt8(parts[1][index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        self.init(bucket: bucket, hash: bytes)
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
