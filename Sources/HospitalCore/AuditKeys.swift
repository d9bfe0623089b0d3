package import Transparency

/// The keys a checkpoint file's history is signed with. A key rotation is a checkpoint signed by the
/// old key and the new one whose extension line `key-rotation OLD NEW` names both verifier keys:
/// whoever trusts either key learns the other from it.
package enum AuditKeys {
    static let rotationTag = "key-rotation"

    /// `keys` and every key a verified rotation record links to them, in any direction, transitively.
    package static func trusted(_ keys: [NoteVerifier], history: [SignedCheckpoint]) -> [NoteVerifier] {
        var trusted = keys
        var grew = true
        while grew {
            grew = false
            for record in history {
                guard let (old, new) = rotation(in: record.checkpoint), (try? record.note.verify(by: trusted)) != nil,
                    (try? record.note.verify(by: [old])) != nil, (try? record.note.verify(by: [new])) != nil
                else { continue }
                for key in [old, new] where !trusted.contains(key) {
                    trusted.append(key)
                    grew = true
                }
            }
        }
        return trusted
    }

    /// The old and new verifier keys a rotation checkpoint names.
    static func rotation(in checkpoint: Checkpoint) -> (NoteVerifier, NoteVerifier)? {
        guard let line = checkpoint.extensions.first(where: { $0.hasPrefix(rotationTag + " ") }) else { return nil }
        let parts = line.split(separator: " ")
        guard parts.count == 3, let old = try? NoteVerifier(String(parts[1])), let new = try? NoteVerifier(String(parts[2])) else {
            return nil
        }
        return (old, new)
    }
}
