package import ChunkChain
import DurableFiles
import Foundation
import Hex
package import Logging
package import Transparency

/// The start-up policy of the ledger's signing key, decided here rather than by the program that starts
/// the server: an existing key must carry the configured origin; a missing key is made only for a ledger
/// without checkpoints anywhere (a new key would disown a signed history); and the database must still
/// hold what was signed.
package enum AuditKeyPolicy {
    /// Why the server does not start with this key and ledger.
    package enum Refusal: Error, CustomStringConvertible {
        /// The configured origin is not the existing key's.
        case originMismatch(configured: String, key: String, keyPath: String)
        /// The key file is missing, but `evidence` shows checkpoints were signed.
        case keyMissing(keyPath: String, evidence: String)
        /// The database no longer holds what was signed.
        case ledger(AuditNotary.Refusal)

        package var description: String {
            switch self {
            case .originMismatch(let configured, let key, let keyPath):
                "--audit-origin '\(configured)' is not the name of the audit signing key \(keyPath) ('\(key)'): the origin is fixed when "
                    + "the key is made."
            case .keyMissing(let keyPath, let evidence):
                "the audit signing key \(keyPath) is missing, but \(evidence): restore the key from its backup (a new key would disown "
                    + "the ledger's signed history)."
            case .ledger(let refusal):
                "\(refusal). Run `chainvault audit verify`; if the database was restored from a backup, accept it with "
                    + "`chainvault audit accept-restore --reason ...`."
            }
        }
    }

    /// The notary the server runs with, and the verifier key of a key made now (to show once).
    /// - Parameters:
    ///   - existing: The key read from `keyPath`, nil when the file does not exist.
    ///   - origin: The configured origin; nil: the existing key's, or a random one for a new key.
    /// - Throws: ``Refusal``, or what writing a new key throws.
    package static func notary(
        existing: NoteSigner?, keyPath: String, origin: String?, log: CheckpointLog?, storage: any HospitalStorage, copies: any ChunkStore,
        random: @Sendable (Int) -> [UInt8], now: Int64, logger: Logger
    ) async throws -> (notary: AuditNotary, newKey: NoteVerifier?) {
        let signer: NoteSigner
        var newKey: NoteVerifier?
        if let existing {
            if let origin, origin != existing.name {
                throw Refusal.originMismatch(configured: origin, key: existing.name, keyPath: keyPath)
            }
            signer = existing
        } else {
            if let evidence = try await AuditNotary.evidenceOfCheckpoints(log: log, storage: storage, copies: copies, logger: logger) {
                throw Refusal.keyMissing(keyPath: keyPath, evidence: evidence)
            }
            signer = try NoteSigner(generatingFor: origin ?? "chainvault.local/audit-" + Hex.encode(random(8)))
            try DurableFile.replace(keyPath, bytes: Array((signer.serialized + "\n").utf8), mode: 0o600)
            try await AuditNotary.recordNewKey(signer.verifier, storage: storage, time: now)
            newKey = signer.verifier
        }
        do {
            return (try await AuditNotary(signer: signer, log: log, storage: storage, copies: copies, logger: logger), newKey)
        } catch let refusal as AuditNotary.Refusal {
            throw Refusal.ledger(refusal)
        }
    }
}
