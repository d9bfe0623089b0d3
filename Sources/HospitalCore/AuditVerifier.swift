package import ChunkChain
import Foundation
package import Logging
import NIOPosix
package import Transparency

/// What `chainvault audit verify` finds wrong with a ledger.
package enum AuditProblem: Sendable, Equatable, CustomStringConvertible {
    /// The per-entry hash chain breaks at this entry (an edit that did not recompute the hashes, a
    /// removed or reordered entry).
    case brokenChain(entry: Int64, reason: String)
    /// The entry is not the leaf the tree stored when it was appended: edited, with every later hash
    /// recomputed.
    case editedEntry(entry: Int64)
    /// The tree holds leaves for entries that are no longer there: the newest entries were deleted.
    case missingTail(entries: Int, leaves: Int)
    /// The ledger is smaller than a signed checkpoint: entries removed, or the database rolled back
    /// (replaced by an older copy).
    case rollback(entries: Int, signed: Int, source: String)
    /// The ledger's first `size` entries are not those a signed checkpoint covers: history rewritten.
    case rewritten(size: Int, source: String)
    /// A checkpoint that does not parse, is not signed by the key, or names another log.
    case badCheckpoint(source: String, reason: String)
    /// A bucket's checkpoint that the checkpoint log (`log`: the file, or the database's) lacks: it was
    /// removed, cut or replaced.
    case checkpointFileBehind(source: String, size: Int, fileSize: Int?, log: String = "the checkpoint file")
    /// The stored tree cannot be read, or does not match the entries.
    case damagedTree(String)

    package var description: String {
        switch self {
        case .brokenChain(let entry, let reason): "entry \(entry) breaks the hash chain: \(reason)"
        case .editedEntry(let entry):
            "entry \(entry) is not the entry the Merkle tree recorded when it was appended: it was edited (and the later hashes recomputed)"
        case .missingTail(let entries, let leaves):
            "entries \(entries + 1)…\(leaves) are missing: the tree recorded \(leaves) entries, the ledger holds \(entries) (the newest were deleted)"
        case .rollback(let entries, let signed, let source):
            "rollback: the ledger holds \(entries) entries, but a signed checkpoint (\(source)) covers \(signed): entries were removed or an older database put in place"
        case .rewritten(let size, let source):
            "rewritten history: the ledger's first \(size) entries are not the ones signed in \(source)"
        case .badCheckpoint(let source, let reason): "bad checkpoint in \(source): \(reason)"
        case .checkpointFileBehind(let source, let size, let fileSize, let log):
            if let fileSize {
                "\(log) was cut or replaced: \(source) holds a signed checkpoint of \(size) entries it lacks (its last covers \(fileSize))"
            } else {
                "\(log) is missing: \(source) holds a signed checkpoint of \(size) entries"
            }
        case .damagedTree(let reason): "the stored Merkle tree is damaged: \(reason)"
        }
    }
}

/// The outcome of `chainvault audit verify`.
package struct AuditReport: Sendable {
    /// Entries in the ledger.
    package var entries = 0
    /// Signed checkpoints checked against it (file records and bucket copies).
    package var checkpoints = 0
    /// The newest checkpoint with a good signature that the ledger must match (since the last restore).
    package var newest: Checkpoint?
    package var problems: [AuditProblem] = []
    /// Restores accepted by an operator, as the signed statements say (time, sizes, reason).
    package var restores: [String] = []
}

/// Checks the audit ledger in the database against the checkpoints that left it: every record of the
/// local checkpoint file and the copies in the chain buckets, with the ledger's verifier key.
package enum AuditVerifier {
    /// The extension lines of a restore statement (`chainvault audit accept-restore`).
    static let restoreTag = "restore-accepted"

    package static func verify(
        storage: any HospitalStorage, log: CheckpointLog?, copies: (any ChunkStore)?, verifiers: [NoteVerifier], origin: String,
        logger: Logger
    ) async throws -> AuditReport {
        var report = AuditReport()
        // The checkpoints, each checked against the key first.
        var fileRecords: [SignedCheckpoint] = []
        var toCheck: [(source: String, checkpoint: Checkpoint)] = []
        var trusted = verifiers
        func accept(_ signed: SignedCheckpoint, source: String) -> Checkpoint? {
            do {
                let checkpoint = try signed.verified(by: trusted, origin: origin)
                report.checkpoints += 1
                return checkpoint
            } catch {
                report.problems.append(.badCheckpoint(source: source, reason: "\(error)"))
                return nil
            }
        }
        // The log: the local file, or (instances sharing a database) the database's.
        let recordName = log == nil ? "database checkpoint" : "checkpoint file record"
        do {
            if let log {
                // A file read: on NIO's thread pool, off the cooperative one (the admins' ledger page runs this).
                fileRecords = try await NIOThreadPool.singleton.runIfActive { try log.read().checkpoints }
            } else {
                fileRecords = try await storage.read { try await AuditNotary.recorded($0.ledger, statementsOnly: false) }
            }
        } catch {
            report.problems.append(.badCheckpoint(source: log == nil ? AuditNotary.databaseLog : "the checkpoint file", reason: "\(error)"))
        }
        // Keys rotated in the file's history are trusted as the given ones are.
        trusted = AuditKeys.trusted(verifiers, history: fileRecords)
        // Only records since the last accepted restore must match the database; earlier ones describe
        // the history the restore replaced.
        let epoch = fileRecords.lastIndex { $0.checkpoint.extensions.first?.hasPrefix(restoreTag) == true } ?? 0
        for (number, record) in fileRecords.enumerated() {
            guard let checkpoint = accept(record, source: "\(recordName) \(number + 1)") else { continue }
            if checkpoint.extensions.first?.hasPrefix(restoreTag) == true {
                report.restores.append(checkpoint.extensions.joined(separator: "; "))
            }
            if number >= epoch { toCheck.append(("\(recordName) \(number + 1)", checkpoint)) }
        }
        if let copies {
            for bucket in ChainBucket.allCases {
                let source = "bucket \(bucket) (\(ChainBucket.auditCheckpointKey))"
                let bytes: [UInt8]?
                do {
                    bytes = try await copies.get(key: ChainBucket.auditCheckpointKey, bucket: bucket)
                } catch {
                    logger.warning("cannot read a checkpoint copy", metadata: ["bucket": "\(bucket)", "error": "\(error)"])
                    report.problems.append(.badCheckpoint(source: source, reason: "unreadable: \(error)"))
                    continue
                }
                guard let bytes else { continue }
                let signed: SignedCheckpoint
                do {
                    signed = try SignedCheckpoint(parsing: bytes)
                } catch {
                    report.problems.append(.badCheckpoint(source: source, reason: "\(error)"))
                    continue
                }
                guard let checkpoint = accept(signed, source: source) else { continue }
                if let position = fileRecords.firstIndex(of: signed) {
                    if position < epoch { continue }
                } else {
                    report.problems.append(
                        .checkpointFileBehind(
                            source: source, size: checkpoint.size, fileSize: fileRecords.last?.checkpoint.size,
                            log: log == nil ? AuditNotary.databaseLog : "the checkpoint file"))
                }
                toCheck.append((source, checkpoint))
            }
        }
        report.newest = toCheck.map(\.checkpoint).max { $0.size < $1.size }
        // The entries, recomputed from their fields in one pass.
        let sizes = Set(toCheck.map(\.checkpoint.size))
        let walk = try await storage.read { try await walkEntries($0.ledger, rootsAt: sizes) }
        report.entries = walk.entries
        report.problems += walk.problems
        var rolledBack: (signed: Int, source: String)?
        var rewritten: (size: Int, source: String)?
        for (source, checkpoint) in toCheck {
            if checkpoint.size > walk.entries {
                if checkpoint.size > rolledBack?.signed ?? -1 { rolledBack = (checkpoint.size, source) }
            } else if walk.roots[checkpoint.size] != checkpoint.root {
                if checkpoint.size < rewritten?.size ?? .max { rewritten = (checkpoint.size, source) }
            }
        }
        if let rolledBack { report.problems.append(.rollback(entries: walk.entries, signed: rolledBack.signed, source: rolledBack.source)) }
        if let rewritten { report.problems.append(.rewritten(size: rewritten.size, source: rewritten.source)) }
        return report
    }

    struct Walk: Sendable {
        var entries = 0
        var roots: [Int: MerkleTree.Hash] = [:]
        var problems: [AuditProblem] = []
    }

    /// Recomputes every entry's chain hash and leaf from its stored fields (as text, so that an entry
    /// whose action or outcome was edited into nonsense still counts), compares the leaves with the
    /// stored tree, and keeps the recomputed roots at `rootsAt`.
    static func walkEntries(_ ledger: any LedgerStore, rootsAt sizes: Set<Int>) async throws -> Walk {
        var walk = Walk()
        if sizes.contains(0) { walk.roots[0] = MerkleTree.emptyRoot }
        var accumulator = MerkleAccumulator()
        var previous = AuditLedger.genesis
        var chainBroken = false
        var edited: Int64?
        var after: Int64 = 0
        while true {
            let page = try await ledger.storedEntries(after: after, limit: 1000)
            for entry in page {
                let fields = entry.canonicalFields
                if !chainBroken {
                    let expected = walk.entries + 1
                    let reason: String? =
                        if entry.id != Int64(expected) {
                            "entry \(expected) is missing (found \(entry.id) after \(expected - 1))"
                        } else if entry.previousHash != previous {
                            "its previous-hash does not match entry \(entry.id - 1)"
                        } else if AuditEntry.digest(previous: previous, fields: fields) != entry.hash {
                            "its fields do not match its hash (edited)"
                        } else {
                            nil
                        }
                    if let reason {
                        walk.problems.append(.brokenChain(entry: entry.id, reason: reason))
                        chainBroken = true
                    }
                }
                previous = entry.hash
                let leaf = MerkleTree.leafHash(AuditEntry.canonicalBytes(fields))
                if edited == nil, let stored = entry.storedLeaf, Array(stored) != leaf { edited = entry.id }
                accumulator.append(leaf)
                walk.entries = accumulator.count
                if sizes.contains(walk.entries) { walk.roots[walk.entries] = accumulator.root }
            }
            guard page.count == 1000, let last = page.last else { break }
            after = last.id
        }
        if let edited { walk.problems.append(.editedEntry(entry: edited)) }
        let leaves = try await ledger.treeSize()
        if leaves > walk.entries {
            walk.problems.append(.missingTail(entries: walk.entries, leaves: leaves))
        } else if edited == nil {
            do {
                let size = walk.entries
                if try await AuditTree.withSubtrees(in: ledger, { try MerkleTree.root(size: size, $0) }) != accumulator.root {
                    walk.problems.append(.damagedTree("its nodes do not hash to the entries' root"))
                }
            } catch {
                walk.problems.append(.damagedTree("\(error)"))
            }
        }
        return walk
    }
}
