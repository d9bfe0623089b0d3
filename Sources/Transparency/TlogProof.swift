import Foundation

/// A C2SP tlog proof (c2sp.org/tlog-proof@v1): an entry's inclusion proof with the signed checkpoint
/// it leads to, verifiable offline with the log's public key.
///
/// ```
/// c2sp.org/tlog-proof@v1
/// extra <base64 of the entry's bytes>      (ChainVault: the ledger entry's canonical encoding)
/// index <leaf index>
/// <base64 hash>                            (zero or more, the leaf's sibling first)
///
/// <signed checkpoint>
/// ```
public struct TlogProof: Sendable, Equatable {
    public static let header = "c2sp.org/tlog-proof@v1"
    /// A tree of 2^63 leaves needs 63 hashes.
    static let maxHashes = 63

    /// Opaque data carried beside the proof; not authenticated by itself.
    public var extra: [UInt8]?
    public var index: Int
    public var hashes: [MerkleTree.Hash]
    public var checkpoint: SignedCheckpoint

    public init(extra: [UInt8]?, index: Int, hashes: [MerkleTree.Hash], checkpoint: SignedCheckpoint) {
        self.extra = extra
        self.index = index
        self.hashes = hashes
        self.checkpoint = checkpoint
    }

    public var serialized: String {
        var lines = [Self.header]
        if let extra { lines.append("extra " + Data(extra).base64EncodedString()) }
        lines.append("index \(index)")
        lines += hashes.map { Data($0).base64EncodedString() }
        return lines.map { $0 + "\n" }.joined() + "\n" + checkpoint.note.serialized
    }

    /// The largest proof read: the hashes and a checkpoint note, with room for an entry in `extra`.
    public static let maxSize = 64 * 1024

    public init(parsing bytes: some Collection<UInt8>) throws(SignedNote.Failure) {
        guard bytes.count <= Self.maxSize else { throw .malformed("longer than \(Self.maxSize) bytes") }
        guard let text = String(validating: Array(bytes), as: UTF8.self) else { throw .malformed("not UTF-8") }
        guard let blank = text.range(of: "\n\n") else { throw .malformed("no blank line before the checkpoint") }
        var lines = text[..<blank.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)[...]
        guard lines.popFirst() == Substring(Self.header) else { throw .malformed("the first line is not \(Self.header)") }
        if let line = lines.first, line.hasPrefix("extra ") {
            guard let data = Data(base64Encoded: String(line.dropFirst(6))) else { throw .malformed("the extra line is not base64") }
            extra = Array(data)
            lines = lines.dropFirst()
        } else {
            extra = nil
        }
        guard let line = lines.popFirst(), line.hasPrefix("index "), let index = DecimalText.parse(line.dropFirst(6)) else {
            throw .malformed("no 'index N' line")
        }
        self.index = index
        guard lines.count <= Self.maxHashes else { throw .malformed("more than \(Self.maxHashes) hashes") }
        hashes = try lines.map { line throws(SignedNote.Failure) in
            guard let hash = Data(base64Encoded: String(line)), hash.count == 32 else { throw .malformed("a proof line is not a hash") }
            return Array(hash)
        }
        checkpoint = try SignedCheckpoint(parsing: Array(text[blank.upperBound...].utf8))
    }

    /// Whether the proof shows `leafHash` at ``index`` in the tree the checkpoint names, once the
    /// checkpoint's signature has been checked (``SignedCheckpoint/verified(by:origin:)``).
    public func includes(leafHash: MerkleTree.Hash, in checkpoint: Checkpoint) -> Bool {
        MerkleTree.verifyInclusion(leafHash: leafHash, index: index, size: checkpoint.size, proof: hashes, root: checkpoint.root)
    }
}

extension TlogProof {
    /// The proof inside a longer text (an e-mail's footer): from its header line to the end of its
    /// checkpoint's signature lines; nil when there is none. Lines may end in CRLF (mail).
    public static func extract(from text: String) -> String? {
        let lines = text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0 == Substring(header) }) else { return nil }
        var proof: [Substring] = []
        var blanks = 0
        for line in lines[start...] {
            if line.isEmpty {
                // The blank after the hashes, then the one between the checkpoint's text and its signatures.
                blanks += 1
                guard blanks <= 2 else { break }
                proof.append(line)
                continue
            }
            if blanks == 2, !line.hasPrefix("— ") { break }
            proof.append(line)
        }
        return proof.map { $0 + "\n" }.joined()
    }
}
