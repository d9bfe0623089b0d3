import Foundation
import Testing

@testable import Transparency

/// C2SP signed notes, checkpoints and tlog proofs: the specification's example verifies, what this
/// program signs verifies with only the verifier key, and one-byte changes are refused.
@Suite struct SignedNoteTests {
    static let directory = Bundle.module.resourceURL!.appendingPathComponent("Vectors/signed-note")

    static func vector(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: directory.appendingPathComponent(name))) }

    @Test func theSpecificationsExampleVerifies() throws {
        let verifier = try NoteVerifier(String(decoding: try Self.vector("example.vkey"), as: UTF8.self))
        #expect(verifier.name == "example.com/foo")
        #expect(verifier.keyId == 0x530d_903a)
        let note = try SignedNote(parsing: try Self.vector("example.note"))
        #expect(note.text == "This is an example message.\n")
        #expect(try note.verify(by: [verifier]) == [verifier])
        #expect(note.serialized == String(decoding: try Self.vector("example.note"), as: UTF8.self))
    }

    /// Every one-byte change of the example note is refused: it no longer parses, or no longer verifies.
    @Test func everyOneByteChangeIsRefused() throws {
        let verifier = try NoteVerifier(String(decoding: try Self.vector("example.vkey"), as: UTF8.self))
        let bytes = try Self.vector("example.note")
        for position in bytes.indices {
            for flip: UInt8 in [0x01, 0x20, 0x80] {
                var changed = bytes
                changed[position] ^= flip
                let accepted = (try? SignedNote(parsing: changed).verify(by: [verifier])) != nil
                #expect(!accepted, "byte \(position) ^ \(flip)")
            }
        }
    }

    @Test func aSignerMakesNotesItsVerifierKeyAccepts() throws {
        let signer = try NoteSigner(generatingFor: "hospital.example/audit")
        let note = try SignedNote.sign("line one\nline two\n", by: [signer])
        let verifier = try NoteVerifier(signer.verifier.description)
        #expect(verifier == signer.verifier)
        let parsed = try SignedNote(parsing: Array(note.serialized.utf8))
        #expect(parsed == note)
        #expect(try parsed.verify(by: [verifier]) == [verifier])
        // The key file's text round-trips, and is Go's note signer format.
        let reread = try NoteSigner(signer.serialized)
        #expect(reread.verifier == signer.verifier)
        #expect(signer.serialized.hasPrefix("PRIVATE+KEY+hospital.example/audit+\(NoteKeys.hex(signer.verifier.keyId))+"))
    }

    @Test func unknownKeysAreIgnoredAndABadKnownSignatureFails() throws {
        let log = try NoteSigner(generatingFor: "log.example")
        let other = try NoteSigner(generatingFor: "witness.example")
        let note = try SignedNote.sign("x\n", by: [log, other])
        #expect(try note.verify(by: [log.verifier]) == [log.verifier])
        #expect(throws: SignedNote.Failure.unverified) { try note.verify(by: [try NoteSigner(generatingFor: "log.example").verifier]) }
        var forged = note
        forged.signatures[0].bytes[0] ^= 1
        #expect(throws: SignedNote.Failure.badSignature(keyName: "log.example")) { try forged.verify(by: [log.verifier]) }
        var altered = note
        altered.text = "y\n"
        #expect(throws: SignedNote.Failure.badSignature(keyName: "log.example")) { try altered.verify(by: [log.verifier]) }
    }

    @Test(arguments: [
        "no blank line\n— a AAAAAAA=\n",
        "text\n\n",
        "text\n\nnot a signature\n",
        "text\n\n— a AAAA\n",
        "text\n\n— a b c\n",
        "text\n\n— a+b AAAAAAA=\n",
        "text\n\n— a AAAAAAA=",
        "te\u{7}xt\n\n— a AAAAAAA=\n",
    ])
    func malformedNotesAreRefused(_ text: String) {
        #expect(throws: SignedNote.Failure.self) { try SignedNote(parsing: Array(text.utf8)) }
    }

    @Test(arguments: [
        "", "a", "a+b+c", "a+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530d903a+AukyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
    ])
    func malformedVerifierKeysAreRefused(_ text: String) {
        #expect(throws: SignedNote.Failure.self) { try NoteVerifier(text) }
    }

    @Test func checkpointsRoundTripAndAreChecked() throws {
        let signer = try NoteSigner(generatingFor: "hospital.example/audit")
        let root = MerkleTree.leafHash([1, 2, 3])
        let checkpoint = Checkpoint(origin: "hospital.example/audit", size: 20_852_163, root: root)
        #expect(checkpoint.text == "hospital.example/audit\n20852163\n\(Data(root).base64EncodedString())\n")
        let signed = try SignedCheckpoint(signing: checkpoint, by: [signer])
        let parsed = try SignedCheckpoint(parsing: Array(signed.note.serialized.utf8))
        #expect(try parsed.verified(by: [signer.verifier], origin: "hospital.example/audit") == checkpoint)
        #expect(throws: SignedNote.Failure.self) { try parsed.verified(by: [signer.verifier], origin: "other.example") }
        for text in [
            "o\n1\n", "o\n01\nAAAA\n", "o\n-1\n\(Data(root).base64EncodedString())\n", "o\n1\nAAAA\n",
            "o\n1\n\(Data(root).base64EncodedString())\n\n",
        ] {
            #expect(throws: SignedNote.Failure.self, "\(text)") { try Checkpoint(text: text) }
        }
    }

    @Test func tlogProofsRoundTripAndVerify() throws {
        let signer = try NoteSigner(generatingFor: "hospital.example/audit")
        let leaves = (0..<11).map { MerkleTree.leafHash([UInt8($0)]) }
        let checkpoint = Checkpoint(origin: signer.name, size: leaves.count, root: MerkleTree.root(leaves))
        let signed = try SignedCheckpoint(signing: checkpoint, by: [signer])
        for index in leaves.indices {
            let proof = TlogProof(
                extra: [UInt8(index)], index: index,
                hashes: MerkleTree.inclusionProof(index: index, size: leaves.count, MerkleTree.subtrees(leaves)),
                checkpoint: signed)
            let parsed = try TlogProof(parsing: Array(proof.serialized.utf8))
            #expect(parsed == proof)
            let verified = try parsed.checkpoint.verified(by: [signer.verifier])
            #expect(parsed.includes(leafHash: leaves[index], in: verified))
            #expect(!parsed.includes(leafHash: leaves[(index + 1) % leaves.count], in: verified))
        }
        #expect(throws: SignedNote.Failure.self) { try TlogProof(parsing: Array("c2sp.org/tlog-proof@v1\nindex 01\n\n".utf8)) }
        #expect(throws: SignedNote.Failure.self) { try TlogProof(parsing: Array("c2sp.org/tlog-proof@v2\nindex 1\n\n".utf8)) }
    }
}
