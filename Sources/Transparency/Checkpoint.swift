import Foundation

/// A C2SP tlog checkpoint (c2sp.org/tlog-checkpoint): the text of a signed note naming a log's Merkle
/// tree head.
///
/// ```
/// <origin>
/// <tree size>
/// <base64 root hash>
/// [extension lines]
/// ```
public struct Checkpoint: Sendable, Equatable {
    /// Names the log (this instance's ledger).
    public var origin: String
    public var size: Int
    public var root: MerkleTree.Hash
    /// Opaque, signed lines after the root; ChainVault writes them only on a restore statement.
    public var extensions: [String]

    public init(origin: String, size: Int, root: MerkleTree.Hash, extensions: [String] = []) {
        self.origin = origin
        self.size = size
        self.root = root
        self.extensions = extensions
    }

    /// The note text.
    public var text: String {
        ([origin, String(size), Data(root).base64EncodedString()] + extensions).map { $0 + "\n" }.joined()
    }

    /// Parses a note's text: at least three non-empty lines, a decimal size without leading zeros, a
    /// 32-byte root.
    public init(text: String) throws(SignedNote.Failure) {
        guard text.hasSuffix("\n") else { throw .malformed("a checkpoint ends in a newline") }
        let lines = text.dropLast().split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 3, lines.allSatisfy({ !$0.isEmpty }) else {
            throw .malformed("a checkpoint has three or more non-empty lines")
        }
        guard let size = DecimalText.parse(lines[1]) else { throw .malformed("the tree size is not a decimal number") }
        guard let root = Data(base64Encoded: String(lines[2])), root.count == 32 else {
            throw .malformed("the root hash is not base64 of 32 bytes")
        }
        self.init(origin: String(lines[0]), size: size, root: Array(root), extensions: lines.dropFirst(3).map(String.init))
    }
}

/// A signed checkpoint: the note, and the checkpoint its text holds.
public struct SignedCheckpoint: Sendable, Equatable {
    public var note: SignedNote
    public var checkpoint: Checkpoint

    /// Signs `checkpoint`.
    public init(signing checkpoint: Checkpoint, by signers: [NoteSigner]) throws {
        note = try SignedNote.sign(checkpoint.text, by: signers)
        self.checkpoint = checkpoint
    }

    /// Parses a signed note holding a checkpoint (not yet verified: see ``verified(by:)``).
    public init(parsing bytes: some Collection<UInt8>) throws(SignedNote.Failure) {
        note = try SignedNote(parsing: bytes)
        checkpoint = try Checkpoint(text: note.text)
    }

    /// The checkpoint when `verifiers` vouch for it and its origin is `origin` (when given).
    public func verified(by verifiers: [NoteVerifier], origin: String? = nil) throws(SignedNote.Failure) -> Checkpoint {
        try note.verify(by: verifiers)
        if let origin, checkpoint.origin != origin {
            throw .malformed("the checkpoint is of log '\(checkpoint.origin)', not '\(origin)'")
        }
        return checkpoint
    }
}

/// Decimal text as C2SP writes numbers: ASCII digits, no sign, no leading zero (but `0` itself).
enum DecimalText {
    static func parse(_ text: some StringProtocol) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 19, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            text == "0" || !text.hasPrefix("0")
        else { return nil }
        return Int(text)
    }
}
