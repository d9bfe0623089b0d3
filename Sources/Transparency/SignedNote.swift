import Crypto
import Foundation
import Hex

/// A C2SP signed note (c2sp.org/signed-note): a text ending in a newline, a blank line, and one or more
/// signature lines `— <key name> base64(key ID ‖ signature)`.
///
/// Parsing is bounded (``maxSize`` bytes, ``maxSignatures`` lines) and refuses anything the
/// specification forbids: invalid UTF-8, control characters other than newline, a text without its
/// final newline, a malformed signature line.
public struct SignedNote: Sendable, Equatable {
    /// The signed text, with its final newline.
    public var text: String
    public var signatures: [Signature]

    /// The largest note read: a checkpoint with a few signatures is well under a kilobyte.
    public static let maxSize = 16 * 1024
    /// More signature lines than any ledger writes (the specification asks verifiers to take 16).
    public static let maxSignatures = 32

    /// One signature line.
    public struct Signature: Sendable, Equatable {
        public var name: String
        /// The first four bytes of the decoded signature, big-endian.
        public var keyId: UInt32
        /// The signature proper (64 bytes for Ed25519).
        public var bytes: [UInt8]

        public init(name: String, keyId: UInt32, bytes: [UInt8]) {
            self.name = name
            self.keyId = keyId
            self.bytes = bytes
        }
    }

    public init(text: String, signatures: [Signature]) {
        self.text = text
        self.signatures = signatures
    }

    /// Why a note was not accepted.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case malformed(String)
        /// A signature by a trusted key that does not verify.
        case badSignature(keyName: String)
        /// No signature by a trusted key.
        case unverified

        public var description: String {
            switch self {
            case .malformed(let reason): "not a signed note: \(reason)"
            case .badSignature(let name): "the signature of \(name) does not verify: the note was altered or forged"
            case .unverified: "the note carries no signature by a trusted key"
            }
        }
    }

    /// The note as text: its text, a blank line, its signature lines.
    public var serialized: String {
        text + "\n" + signatures.map { "— \($0.name) \(Data(Self.bigEndian($0.keyId) + $0.bytes).base64EncodedString())\n" }.joined()
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.bigEndian, Array.init) }

    /// Parses a note. The text ends at the last blank line; every line after it must be a signature.
    public init(parsing bytes: some Collection<UInt8>) throws(Failure) {
        guard bytes.count <= Self.maxSize else { throw .malformed("longer than \(Self.maxSize) bytes") }
        guard let message = String(validating: Array(bytes), as: UTF8.self) else { throw .malformed("not UTF-8") }
        guard !message.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" }) else {
            throw .malformed("a control character")
        }
        guard let split = message.range(of: "\n\n", options: .backwards) else { throw .malformed("no blank line before the signatures") }
        let text = String(message[..<split.lowerBound]) + "\n"
        let lines = message[split.upperBound...]
        guard lines.hasSuffix("\n") else { throw .malformed("the signatures do not end in a newline") }
        var signatures: [Signature] = []
        for line in lines.dropLast().split(separator: "\n", omittingEmptySubsequences: false) {
            guard signatures.count < Self.maxSignatures else { throw .malformed("more than \(Self.maxSignatures) signatures") }
            guard line.hasPrefix("— ") else { throw .malformed("a line after the blank line is not a signature") }
            let fields = line.dropFirst(2).split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 2, NoteKeys.isValidName(fields[0]) else { throw .malformed("a signature line is not '— NAME SIGNATURE'") }
            guard let decoded = Data(base64Encoded: String(fields[1])), decoded.count > 4 else {
                throw .malformed("a signature is not base64 of a key ID and a signature")
            }
            let raw = Array(decoded)
            let keyId = raw[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            signatures.append(Signature(name: String(fields[0]), keyId: keyId, bytes: Array(raw[4...])))
        }
        guard !signatures.isEmpty else { throw .malformed("no signature") }
        self.init(text: text, signatures: signatures)
    }

    /// Checks the note against trusted keys: every signature by one of them must verify and at least
    /// one must be there; signatures by other keys are ignored (the specification's rules).
    /// - Returns: The keys whose signatures verified.
    @discardableResult
    public func verify(by verifiers: [NoteVerifier]) throws(Failure) -> [NoteVerifier] {
        var verified: [NoteVerifier] = []
        let message = Array(text.utf8)
        for signature in signatures {
            guard let verifier = verifiers.first(where: { $0.name == signature.name && $0.keyId == signature.keyId }) else { continue }
            guard verifier.isValid(signature.bytes, for: message) else { throw .badSignature(keyName: verifier.name) }
            if !verified.contains(verifier) { verified.append(verifier) }
        }
        guard !verified.isEmpty else { throw .unverified }
        return verified
    }

    /// Signs `text` (which must end in a newline and hold no control character but newlines) with
    /// each signer.
    public static func sign(_ text: String, by signers: [NoteSigner]) throws -> SignedNote {
        guard text.hasSuffix("\n"), !text.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" })
        else { throw Failure.malformed("a note's text ends in one newline and holds no control character") }
        return SignedNote(text: text, signatures: try signers.map { try $0.sign(Array(text.utf8)) })
    }
}

/// Key names and the key ID of C2SP signed notes.
public enum NoteKeys {
    /// The Ed25519 signature type (signed-note §"Signature types").
    static let ed25519: UInt8 = 0x01

    /// Non-empty, without Unicode spaces or plus signs.
    public static func isValidName(_ name: some StringProtocol) -> Bool {
        !name.isEmpty && !name.contains("+") && !name.unicodeScalars.contains { $0.properties.isWhitespace }
    }

    /// `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]`, big-endian.
    static func keyId(name: String, publicKey: [UInt8]) -> UInt32 {
        let digest = Array(SHA256.hash(data: Array(name.utf8) + [0x0A, ed25519] + publicKey))
        return digest[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }

    /// The key ID as eight hex digits.
    static func hex(_ keyId: UInt32) -> String { Hex.encode(withUnsafeBytes(of: keyId.bigEndian) { Array($0) }) }
}

/// The public half: checks signatures. Its text form is the note's verifier key,
/// `<name>+<hex key ID>+base64(0x01 ‖ public key)`, which operators publish and auditors pass to
/// `chainvault audit check-proof --key`.
public struct NoteVerifier: Sendable, Equatable, CustomStringConvertible {
    public let name: String
    public let keyId: UInt32
    let publicKey: Curve25519.Signing.PublicKey

    public static func == (lhs: NoteVerifier, rhs: NoteVerifier) -> Bool {
        lhs.name == rhs.name && lhs.keyId == rhs.keyId && lhs.publicKey.rawRepresentation == rhs.publicKey.rawRepresentation
    }

    init(name: String, publicKey: Curve25519.Signing.PublicKey) {
        self.name = name
        self.publicKey = publicKey
        self.keyId = NoteKeys.keyId(name: name, publicKey: Array(publicKey.rawRepresentation))
    }

    /// Parses a verifier key. The key ID must be the one the name and key give (as the specification
    /// recommends and every Ed25519 key this program makes has).
    public init(_ text: String) throws(SignedNote.Failure) {
        // The key's base64 may hold '+' itself: only the first two separate fields.
        let parts = text.trimmingCharacters(in: .whitespacesAndNewlines).split(
            separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, NoteKeys.isValidName(parts[0]), parts[1].utf8.count == 8, let id = UInt32(parts[1], radix: 16),
            parts[1].allSatisfy({ $0.isHexDigit && !$0.isUppercase }),
            let key = Data(base64Encoded: String(parts[2])), key.count == 33, key.first == NoteKeys.ed25519,
            let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: key.dropFirst())
        else { throw .malformed("not an Ed25519 verifier key NAME+KEYID+KEY") }
        self.init(name: String(parts[0]), publicKey: publicKey)
        guard keyId == id else { throw .malformed("the verifier key's ID does not match its name and key") }
    }

    public var description: String {
        "\(name)+\(NoteKeys.hex(keyId))+\(Data([NoteKeys.ed25519] + publicKey.rawRepresentation).base64EncodedString())"
    }

    func isValid(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        signature.count == 64 && publicKey.isValidSignature(signature, for: message)
    }
}

/// The private half: an Ed25519 key with its name. Its text form is Go's `golang.org/x/mod/sumdb/note`
/// signer key, `PRIVATE+KEY+<name>+<hex key ID>+base64(0x01 ‖ seed)`, so that the same key file works
/// with Go's tools.
public struct NoteSigner: Sendable {
    public let verifier: NoteVerifier
    private let key: Curve25519.Signing.PrivateKey

    public var name: String { verifier.name }

    /// A new key for `name`.
    public init(generatingFor name: String) throws {
        guard NoteKeys.isValidName(name) else { throw SignedNote.Failure.malformed("a key name is non-empty, without spaces or '+'") }
        let key = Curve25519.Signing.PrivateKey()
        self.key = key
        verifier = NoteVerifier(name: name, publicKey: key.publicKey)
    }

    /// Parses a signer key (the text of a key file).
    public init(_ text: String) throws(SignedNote.Failure) {
        let parts = text.trimmingCharacters(in: .whitespacesAndNewlines).split(
            separator: "+", maxSplits: 4, omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "PRIVATE", parts[1] == "KEY", NoteKeys.isValidName(parts[2]), parts[3].utf8.count == 8,
            let id = UInt32(parts[3], radix: 16), let seed = Data(base64Encoded: String(parts[4])), seed.count == 33,
            seed.first == NoteKeys.ed25519, let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed.dropFirst())
        else { throw .malformed("not an Ed25519 signer key PRIVATE+KEY+NAME+KEYID+KEY") }
        self.key = key
        verifier = NoteVerifier(name: String(parts[2]), publicKey: key.publicKey)
        guard verifier.keyId == id else { throw .malformed("the signer key's ID does not match its name and key") }
    }

    /// The key file's text (a secret: mode 0600, never logged).
    public var serialized: String {
        "PRIVATE+KEY+\(name)+\(NoteKeys.hex(verifier.keyId))+\(Data([NoteKeys.ed25519] + key.rawRepresentation).base64EncodedString())"
    }

    func sign(_ message: [UInt8]) throws -> SignedNote.Signature {
        SignedNote.Signature(name: name, keyId: verifier.keyId, bytes: Array(try key.signature(for: message)))
    }
}
