import FuzzDriver
import HospitalTesting
import Transparency

/// The audit ledger's parsers of outside bytes: signed notes, checkpoints, tlog proofs (and a proof
/// found inside a saved e-mail, its body decoded), verifier and signer keys, the ledger entry's canonical encoding, and the
/// checkpoint file. The first byte picks the parser. Any bytes must parse or be refused, never crash
/// or hang; what parses must serialize to bytes that parse to the same value, and a parsed proof is
/// run through the Merkle verifiers.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    guard let selector = input.first else { return 0 }
    let rest = Array(input.dropFirst())
    let text = String(decoding: rest, as: UTF8.self)
    switch selector % 7 {
    case 0:
        if let note = try? SignedNote(parsing: rest) {
            precondition((try? SignedNote(parsing: Array(note.serialized.utf8))) == note, "a signed note does not round-trip")
        }
    case 1:
        if let checkpoint = try? Checkpoint(text: text) {
            precondition((try? Checkpoint(text: checkpoint.text)) == checkpoint, "a checkpoint does not round-trip")
        }
        _ = try? SignedCheckpoint(parsing: rest)
    case 2:
        if let proof = try? TlogProof(parsing: rest) {
            precondition((try? TlogProof(parsing: Array(proof.serialized.utf8))) == proof, "a tlog proof does not round-trip")
            let checkpoint = proof.checkpoint.checkpoint
            _ = proof.includes(leafHash: MerkleTree.leafHash(proof.extra ?? []), in: checkpoint)
            _ = MerkleTree.verifyConsistency(
                size1: proof.index, size2: checkpoint.size, root1: checkpoint.root, root2: checkpoint.root, proof: proof.hashes)
        }
    case 3:
        if let found = TlogProof.extract(from: LedgerParsers.mailText(text)) { _ = try? TlogProof(parsing: Array(found.utf8)) }
    case 4:
        if let verifier = try? NoteVerifier(text) {
            precondition((try? NoteVerifier(verifier.description)) == verifier, "a verifier key does not round-trip")
        }
        _ = try? NoteSigner(text)
    case 5:
        _ = LedgerParsers.entryFields(decoding: rest)
    default:
        if let contents = LedgerParsers.checkpointFile(rest) {
            precondition(contents.validLength + contents.tornBytes == rest.count, "the checkpoint file's parts do not add up")
        }
    }
    return 0
}

@_cdecl("FuzzTransparency_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { runFuzzer(argc, argv) }
