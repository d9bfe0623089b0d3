package import ChunkChain
import Foundation
package import Logging
import Metrics
import NIOPosix
import Operations
import ServiceLifecycle
package import Transparency

/// Signs the audit ledger's tree heads as C2SP checkpoints and gets them out of the database's reach:
/// into the local append-only checkpoint file (before anyone sees one) and, on ``publish()``, into both
/// chain buckets. It never signs a head that is not consistent with the last one it signed, so that a
/// database rolled back or rewritten cannot be blessed after the fact.
///
/// The signing key is not in the database: the executable reads it from its key file and hands it in.
package actor AuditNotary {
    package nonisolated let signer: NoteSigner
    let log: CheckpointLog
    let storage: any HospitalStorage
    let copies: (any ChunkStore)?
    let logger: Logger

    /// The last checkpoint signed (the checkpoint file's last record).
    private(set) var latest: SignedCheckpoint?
    /// The size of the checkpoint last written to the buckets.
    private var published: Int?
    /// The signing in progress: one at a time, in order.
    private var signing: Task<SignedCheckpoint, any Error>?
    /// When the last checkpoint was signed: on-demand signing (a proof of a new entry) waits until
    /// ``minimumGap`` has passed, so that no caller can grow the checkpoint file faster than a record
    /// a second however fast the ledger grows.
    private var lastSigned: ContinuousClock.Instant?
    static let minimumGap: Duration = .seconds(1)

    /// Why the notary will not start, or will not sign.
    package enum Refusal: Error, Equatable, CustomStringConvertible {
        /// The checkpoint file has a record this key did not sign.
        case foreignCheckpoint(path: String, reason: String)
        /// A bucket's copy is a checkpoint the file does not have: newer (the file was cut or replaced),
        /// or unknown (forged, or the file was edited).
        case copyNotInFile(copy: String, size: Int, fileSize: Int?)
        /// The database has fewer entries than a signed checkpoint covers.
        case rollback(entries: Int, signed: Int)
        /// The database's tree at a signed size is not the one signed: entries were rewritten.
        case rewritten(size: Int)
        /// The stored tree cannot give a root or proof.
        case damagedTree(String)
        /// The entries do not match the tree they were appended to (an entry edited with every later
        /// chain hash recomputed, the newest entries deleted): what `chainvault audit verify` reports.
        case entriesDoNotMatchTree([String])

        package var description: String {
            switch self {
            case .foreignCheckpoint(let path, let reason):
                "the checkpoint file \(path) holds a checkpoint this signing key did not sign (\(reason)): it was replaced or the key was"
            case .copyNotInFile(let copy, let size, let fileSize):
                if let fileSize, size > fileSize {
                    "the checkpoint in \(copy) (tree size \(size)) is newer than the checkpoint file's last (\(fileSize)): the file was cut or replaced"
                } else if fileSize == nil {
                    "the checkpoint file is missing or empty, but \(copy) holds a checkpoint of tree size \(size): it was removed"
                } else {
                    "the checkpoint in \(copy) (tree size \(size)) is not in the checkpoint file: the file was edited or the copy forged"
                }
            case .rollback(let entries, let signed):
                "the ledger has \(entries) entries but a signed checkpoint covers \(signed): entries were removed or the database rolled back"
            case .rewritten(let size):
                "the ledger's first \(size) entries are not the ones a signed checkpoint covers: its history was rewritten"
            case .damagedTree(let reason): "the ledger's Merkle tree is damaged: \(reason)"
            case .entriesDoNotMatchTree(let problems):
                "the ledger's entries do not match its Merkle tree (\(problems.joined(separator: "; "))): `chainvault audit verify` says more"
            }
        }
    }

    /// Opens the notary over a ledger, checking before anything is signed that the checkpoint file is
    /// this key's, that the buckets hold no checkpoint the file lacks, and that the database still holds
    /// what the last checkpoint signed. A torn last record (a crash during an append) is cut off.
    /// - Throws: ``Refusal`` or ``CheckpointLog/Failure``: start-up stops (a restore from backup is
    ///   accepted with `chainvault audit accept-restore`).
    package init(signer: NoteSigner, log: CheckpointLog, storage: any HospitalStorage, copies: (any ChunkStore)?, logger: Logger)
        async throws
    {
        self.signer = signer
        self.log = log
        self.storage = storage
        self.copies = copies
        self.logger = logger
        let contents = try log.readCuttingTornRecord()
        if contents.tornBytes > 0 {
            logger.warning(
                "the checkpoint file ended in a torn record (a crash during an append): cut off",
                metadata: ["bytes": "\(contents.tornBytes)"])
        }
        let trusted = AuditKeys.trusted([signer.verifier], history: contents.checkpoints)
        for checkpoint in contents.checkpoints {
            do {
                _ = try checkpoint.verified(by: trusted, origin: signer.name)
            } catch {
                throw Refusal.foreignCheckpoint(path: log.path, reason: "\(error)")
            }
        }
        let last = contents.checkpoints.last
        if let copies {
            for (name, copy) in await Self.copies(in: copies, logger: logger) {
                guard contents.checkpoints.contains(copy) else {
                    throw Refusal.copyNotInFile(copy: name, size: copy.checkpoint.size, fileSize: last?.checkpoint.size)
                }
            }
        }
        if let last {
            try await Self.check(last.checkpoint, against: storage)
        }
        // Every entry against the leaf the tree stored when it was appended, as `audit verify` does (one pass:
        // an entry rewritten with the chain hashes recomputed, but the tree left as it was, stops the start).
        let problems = try await storage.read { try await AuditVerifier.walkEntries($0.ledger, rootsAt: []).problems }
        guard problems.isEmpty else { throw Refusal.entriesDoNotMatchTree(problems.map(\.description)) }
        latest = last
        published = nil
    }

    /// The checkpoint copies the buckets hold, by bucket (unreadable ones are logged and skipped: the
    /// ledger's own checks do not depend on a remote service being up).
    static func copies(in store: any ChunkStore, logger: Logger) async -> [(String, SignedCheckpoint)] {
        var found: [(String, SignedCheckpoint)] = []
        for bucket in ChainBucket.allCases {
            do {
                guard let bytes = try await store.get(key: ChainBucket.auditCheckpointKey, bucket: bucket) else { continue }
                found.append(("bucket \(bucket)", try SignedCheckpoint(parsing: bytes)))
            } catch {
                logger.warning("cannot read the audit checkpoint copy", metadata: ["bucket": "\(bucket)", "error": "\(error)"])
            }
        }
        return found
    }

    /// Whether the database still holds the tree `checkpoint` signed.
    static func check(_ checkpoint: Checkpoint, against storage: any HospitalStorage) async throws {
        let size = checkpoint.size
        let (entries, root) = try await storage.read { transaction -> (Int, MerkleTree.Hash?) in
            // The fewer of the tree's leaves and the entries (the newest id: O(log n), unlike a count; a gap
            // further back is `audit verify`'s to find): deleting the newest rows leaves their leaves.
            let ledger = transaction.ledger
            let entries = min(try await ledger.treeSize(), Int(try await ledger.newestEntry()?.id ?? 0))
            guard size <= entries else { return (entries, nil) }
            return (entries, try? await AuditTree.withSubtrees(in: ledger) { try MerkleTree.root(size: size, $0) })
        }
        guard size <= entries else { throw Refusal.rollback(entries: entries, signed: size) }
        guard root == checkpoint.root else { throw Refusal.rewritten(size: size) }
    }

    /// The latest signed checkpoint, signing a new one first when the ledger grew since.
    package func checkpoint() async throws -> SignedCheckpoint {
        let previous = signing
        let next = Task { [self] in
            _ = try? await previous?.value
            return try await self.signHead()
        }
        signing = next
        return try await next.value
    }

    /// Signs the current head if it differs from the last signed, after proving it consistent with it.
    private func signHead() async throws -> SignedCheckpoint {
        if let lastSigned, ContinuousClock.now - lastSigned < Self.minimumGap {
            try await ContinuousClock().sleep(until: lastSigned + Self.minimumGap)
        }
        let last = latest?.checkpoint
        let (head, rows, proof) = try await storage.read {
            transaction -> ((size: Int, root: MerkleTree.Hash), Int, [MerkleTree.Hash]) in
            do {
                let ledger = transaction.ledger
                let head = try await AuditTree.head(in: ledger)
                let rows = Int(try await ledger.newestEntry()?.id ?? 0)
                guard let last, last.size > 0, last.size < head.size else { return (head, rows, []) }
                let proof = try await AuditTree.withSubtrees(in: ledger) {
                    try MerkleTree.consistencyProof(first: last.size, size: head.size, $0)
                }
                return (head, rows, proof)
            } catch let error as AuditTree.MissingNode {
                throw Refusal.damagedTree(error.description)
            }
        }
        // The newest rows deleted under the tree (their leaves remain): never sign a head the entries no longer make.
        guard rows >= head.size else { throw Refusal.rollback(entries: rows, signed: head.size) }
        if let latest, let last, last.size == head.size, last.root == head.root { return latest }
        if let last {
            guard head.size >= last.size else { throw Refusal.rollback(entries: head.size, signed: last.size) }
            guard
                last.size == 0
                    || MerkleTree.verifyConsistency(size1: last.size, size2: head.size, root1: last.root, root2: head.root, proof: proof)
            else { throw Refusal.rewritten(size: last.size) }
        }
        let signed = try SignedCheckpoint(signing: Checkpoint(origin: signer.name, size: head.size, root: head.root), by: [signer])
        try await append(signed)
        return signed
    }

    private func append(_ signed: SignedCheckpoint) async throws {
        let log = self.log
        try await NIOThreadPool.singleton.runIfActive { try log.append(signed) }
        latest = signed
        lastSigned = .now
    }

    /// The latest signed checkpoint, without signing a new one (what anyone may fetch: the publisher
    /// signs at its interval); signs only when there is none yet.
    package func latestCheckpoint() async throws -> SignedCheckpoint {
        if let latest { return latest }
        return try await checkpoint()
    }

    /// Signs the current head if the ledger grew and writes the latest checkpoint to both buckets when
    /// they do not have it yet. Every `--audit-checkpoint-interval`.
    package func publish() async throws {
        try await copy(try await checkpoint())
    }

    /// Writes `signed` to both buckets unless they have it (or a newer one) already. Every checkpoint that
    /// leaves the process (in a proof shown or e-mailed) goes there first, so that an insider holding the
    /// database and the checkpoint file cannot drop the entries it covers unseen.
    private func copy(_ signed: SignedCheckpoint) async throws {
        guard let copies, (published ?? -1) < signed.checkpoint.size else { return }
        let bytes = Array(signed.note.serialized.utf8)
        for bucket in ChainBucket.allCases {
            try await copies.put(bytes, key: ChainBucket.auditCheckpointKey, bucket: bucket)
        }
        try await copies.sync()
        published = max(published ?? 0, signed.checkpoint.size)
    }

    /// The inclusion proof of entry `id` in a signed checkpoint that covers it (the latest, or a new
    /// one when the entry is newer), with the entry's canonical bytes as the proof's extra data; nil
    /// when there is no such entry.
    package func proof(entry id: Int64) async throws -> TlogProof? {
        try await proofs(of: [id])[id]
    }

    /// The proofs of several entries, in one signed checkpoint that covers all of them, by id.
    /// The checkpoint is in both buckets before the proofs are returned (``copy(_:)``).
    package func proofs(of ids: [Int64]) async throws -> [Int64: TlogProof] {
        guard let newest = ids.max() else { return [:] }
        var signed = latest
        if signed.map({ Int64($0.checkpoint.size) < newest }) ?? true { signed = try await checkpoint() }
        guard let signed else { return [:] }
        try await copy(signed)
        return try await storage.read { try await AuditLedger.proofs(of: ids, in: signed, $0.ledger) }
    }

    /// The entries among `entries` whose fields, as they are now, the signed tree includes: what the
    /// portal marks "verified". Each proof is checked as an auditor would, against the signed root.
    package func verified(_ entries: [AuditEntry]) async throws -> Set<Int64> {
        let proofs = try await proofs(of: entries.map(\.id))
        return Set(
            entries.filter { entry in
                proofs[entry.id].map { $0.includes(leafHash: entry.leafHash, in: $0.checkpoint.checkpoint) } ?? false
            }.map(\.id))
    }

    /// A plain-text footer for an e-mail telling of entry `id`: the entry's proof in a checkpoint signed
    /// now, and how to check it with the public key. Nil (logged) when no proof can be made: the
    /// message still goes, as it did before the ledger was signed.
    package func footer(entry id: Int64) async -> String? {
        do {
            guard let proof = try await proof(entry: id) else { return nil }
            return """


                --\u{20}
                Audit proof: this message tells of entry \(id) of the hospital's audit ledger. The lines below prove that the \
                entry is in the ledger as the hospital's key signed it (of \(proof.checkpoint.checkpoint.size) entries). Keep \
                this message; to check it, save it as a file and run
                  chainvault audit check-proof FILE --key \(signer.verifier)

                \(proof.serialized)
                """
        } catch {
            logger.error("no audit proof for a message", metadata: ["entry": "\(id)", "error": "\(error)"])
            return nil
        }
    }

    /// The consistency proof from the tree of `first` entries to the tree of `size` (RFC 6962 §2.1.2);
    /// nil when either is out of the ledger's range or `first` is 0.
    package func consistencyProof(first: Int, size: Int) async throws -> [MerkleTree.Hash]? {
        try await storage.read { transaction in
            guard first >= 1, first <= size, size <= (try await transaction.ledger.treeSize()) else { return nil }
            return try await AuditTree.withSubtrees(in: transaction.ledger) {
                try MerkleTree.consistencyProof(first: first, size: size, $0)
            }
        }
    }

    /// `audit verify` over this notary's own files and buckets, with its key: what the admins' ledger
    /// page shows.
    package func verify() async throws -> AuditReport {
        try await AuditVerifier.verify(
            storage: storage, log: log, copies: copies, verifiers: [signer.verifier], origin: signer.name, logger: logger)
    }

    /// Whether any checkpoint exists for the ledger: in the checkpoint file, in a bucket, or as a key the
    /// ledger recorded. A missing signing key is then an error (a new key would hide the old history),
    /// never a reason to make one.
    package static func evidenceOfCheckpoints(log: CheckpointLog, storage: any HospitalStorage, copies: (any ChunkStore)?, logger: Logger)
        async throws -> String?
    {
        if log.exists { return "the checkpoint file \(log.path) exists" }
        let recorded = try await storage.read { try await $0.ledger.contains(action: .auditKeyCreated) }
        if recorded { return "the ledger recorded the making of a signing key" }
        if let copies, let copy = await Self.copies(in: copies, logger: logger).first { return "\(copy.0) holds a checkpoint" }
        return nil
    }

    /// Records a new signing key in the ledger (its verifier key as the detail), so that the ledger
    /// itself says when and which key began to sign it.
    package static func recordNewKey(_ verifier: NoteVerifier, storage: any HospitalStorage, time: Int64) async throws {
        try await AuditLedger.record(
            actor: nil, .auditKeyCreated, subject: "audit-key", detail: verifier.description, time: time, in: storage)
    }

    /// Rotates the signing key (the server stopped): records the new key in the ledger
    /// (`audit_key_rotated`, its verifier key as the detail), and signs the head with both keys in a
    /// checkpoint whose extension line `key-rotation OLD NEW` names both, appended to the checkpoint
    /// file. The caller then puts the new key in the key file.
    /// - Throws: ``Refusal`` when the database no longer holds what the last checkpoint signed.
    package static func rotate(from old: NoteSigner, to new: NoteSigner, log: CheckpointLog, storage: any HospitalStorage, time: Int64)
        async throws -> SignedCheckpoint
    {
        let contents = try log.readCuttingTornRecord()
        if let last = contents.checkpoints.last {
            try await check(try last.verified(by: AuditKeys.trusted([old.verifier], history: contents.checkpoints)), against: storage)
        }
        let head = try await storage.write { transaction in
            try await AuditLedger.append(
                .init(actor: nil, .auditKeyRotated, subject: "audit-key", detail: new.verifier.description), time: time, in: transaction)
            return try await AuditTree.head(in: transaction.ledger)
        }
        let rotation = Checkpoint(
            origin: old.name, size: head.size, root: head.root, extensions: ["\(AuditKeys.rotationTag) \(old.verifier) \(new.verifier)"])
        let signed = try SignedCheckpoint(signing: rotation, by: [old, new])
        try log.append(signed)
        return signed
    }

    /// Why a restore cannot be accepted.
    package enum RestoreRefusal: Error, CustomStringConvertible {
        case consistent(entries: Int)
        case noCheckpoint
        case badReason

        package var description: String {
            switch self {
            case .consistent(let entries):
                "the ledger (\(entries) entries) is consistent with the last signed checkpoint: there is no restore to accept"
            case .noCheckpoint: "the checkpoint file has no checkpoint: there is nothing a restore could contradict"
            case .badReason: "the reason is 1 to 300 characters on one line"
            }
        }
    }

    /// Accepts a database restored from a backup: appends a `restore_accepted` entry with the reason and
    /// signs the ledger's new head as a checkpoint whose extension lines state the restore (time, the
    /// head it replaces, the reason), appended to the checkpoint file. The server then starts again;
    /// `audit verify` reports the restore and checks the ledger against checkpoints from it on.
    package static func acceptRestore(reason: String, signer: NoteSigner, log: CheckpointLog, storage: any HospitalStorage, time: Int64)
        async throws -> SignedCheckpoint
    {
        let reason = reason.trimmingCharacters(in: .whitespaces)
        guard (1...300).contains(reason.count), !reason.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw RestoreRefusal.badReason
        }
        let contents = try log.readCuttingTornRecord()
        guard let last = contents.checkpoints.last else { throw RestoreRefusal.noCheckpoint }
        let replaced = try last.verified(by: AuditKeys.trusted([signer.verifier], history: contents.checkpoints), origin: signer.name)
        do {
            try await check(replaced, against: storage)
            throw RestoreRefusal.consistent(entries: try await storage.read { try await $0.ledger.treeSize() })
        } catch is Refusal {
            // Rolled back or rewritten: what a restore looks like.
        }
        let head = try await storage.write { transaction in
            try await AuditLedger.append(
                .init(actor: nil, .restoreAccepted, subject: "audit-ledger", outcome: .success, detail: reason), time: time,
                in: transaction)
            return try await AuditTree.head(in: transaction.ledger)
        }
        let statement = Checkpoint(
            origin: signer.name, size: head.size, root: head.root,
            extensions: [
                "\(AuditVerifier.restoreTag) \(time)", "replaces \(replaced.size) \(Data(replaced.root).base64EncodedString())",
                "reason \(reason)",
            ])
        let signed = try SignedCheckpoint(signing: statement, by: [signer])
        try log.append(signed)
        return signed
    }
}

/// Signs and publishes the ledger's checkpoint at start and then every `interval` (when the ledger
/// grew): the program runs it beside the listeners. A refusal to sign (a rolled back or rewritten
/// database) is logged as an error every round and counted, never papered over.
package struct AuditCheckpointPublisher: Service {
    let notary: AuditNotary
    let interval: Duration
    let logger: Logger

    package init(notary: AuditNotary, interval: Duration, logger: Logger = Logger(label: "chainvault.audit")) {
        self.notary = notary
        self.interval = interval
        self.logger = logger
    }

    package func run() async throws {
        await Periodic.run(every: interval) {
            do {
                try await notary.publish()
            } catch let refusal as AuditNotary.Refusal {
                logger.error("the audit ledger's head was not signed", metadata: ["reason": "\(refusal)"])
                Counter(label: "chainvault_audit_checkpoint_failures_total").increment()
            } catch {
                logger.error("publishing the audit checkpoint failed; trying again next round", metadata: ["error": "\(error)"])
                Counter(label: "chainvault_audit_checkpoint_failures_total").increment()
            }
        } atShutdown: {
            // The entries of the last moments are signed and copied out before the process ends.
            do {
                try await notary.publish()
            } catch {
                logger.error("publishing the audit checkpoint at shutdown failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
