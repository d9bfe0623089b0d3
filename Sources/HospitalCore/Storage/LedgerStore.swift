package import Foundation
package import Transparency

/// The audit ledger's entries and its stored Merkle tree (``AuditTree``), as a ``HospitalTransaction``
/// reads and writes them. Appending is ``AuditLedger``'s: an engine stores what it is given.
package protocol LedgerStore: Sendable {
    /// The newest entry's id and hash; nil for an empty ledger.
    func newestEntry() async throws -> (id: Int64, hash: Data)?
    /// The names a new entry's leaf carries, as they are now: the actor's and the patient's (empty for
    /// none or an unknown account), and the report's title when `reportId` names one.
    func leafNames(actor: Int64?, patient: Int64?, reportId: Int64?) async throws -> AuditEntry.Names
    /// Stores a new entry with the subtree hashes its leaf completes (``AuditTree``).
    func insert(_ entry: AuditEntry, subtrees: [AuditTree.Node: MerkleTree.Hash]) async throws
    func entry(id: Int64) async throws -> AuditEntry?
    /// Entries after the id `after`, oldest first: every one, or those about `patientId`'s data.
    func entries(after: Int64, patientId: Int64?, limit: Int) async throws -> [AuditEntry]
    /// Entries matching `filter`, newest first, with the names behind their ids.
    func search(_ filter: AuditLedger.Filter, limit: Int) async throws -> [AuditLedger.NamedEntry]
    /// How many entries of the actor's with this action and outcome are later than `time`.
    func count(actorId: Int64, action: AuditAction, outcome: AuditOutcome, after time: Int64) async throws -> Int
    /// Whether an entry with this action exists.
    func contains(action: AuditAction) async throws -> Bool
    /// Entries after the id `after` as stored, fields as text (an edited row reads too), each with its stored leaf hash.
    func storedEntries(after: Int64, limit: Int) async throws -> [AuditLedger.StoredEntry]

    /// How many leaves the stored tree has.
    func treeSize() async throws -> Int
    /// The stored subtree hashes among `nodes` (a missing one is absent).
    func subtrees(_ nodes: Set<AuditTree.Node>) async throws -> [AuditTree.Node: MerkleTree.Hash]

    /// The checkpoint log (``AuditNotary``): every checkpoint signed over the ledger, in the order
    /// signed, as the signed notes' text. The newest recorded, with its number (from 1).
    func latestCheckpoint() async throws -> RecordedCheckpoint?
    /// Records a checkpoint after those recorded (in a write, under the lock every append takes).
    func recordCheckpoint(_ note: String, size: Int, isStatement: Bool) async throws
    /// Recorded checkpoints numbered after `after`, oldest first: every one, or only the statements
    /// (key rotations and accepted restores, which carry extension lines).
    func checkpoints(after: Int64, statementsOnly: Bool, limit: Int) async throws -> [RecordedCheckpoint]
    /// Whether this signed note is recorded.
    func containsCheckpoint(_ note: String, size: Int) async throws -> Bool
}

/// A checkpoint of the database's log, as recorded: its number in the log and its signed note's text.
package struct RecordedCheckpoint: Sendable, Equatable {
    package var number: Int64
    package var note: String

    package init(number: Int64, note: String) {
        self.number = number
        self.note = note
    }
}
