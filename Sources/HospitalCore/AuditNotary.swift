package import ChunkChain
import Foundation
package import Logging
import Metrics
import NIOPosix
import Operations
import ServiceLifecycle
package import Transparency

/// Signs the audit ledger's tree heads as C2SP checkpoints and gets them out of the database's reach.
/// Every checkpoint is recorded in the database's checkpoint log, in the same write as the head it
/// signs, so that instances sharing a database sign one log in one order (``LedgerStore``); one
/// instance alone also appends it to the local checkpoint file before the commit (and before anyone
/// sees it); ``publish()`` copies it into both chain buckets. It never signs a head that is not
/// consistent with the log's last checkpoint, and refuses a log that goes back behind one it saw, so
/// that a database rolled back, rewritten or failed over to a standby that lost commits cannot be
/// blessed after the fact.
///
/// The signing key is not in the database: the executable reads it from its key file and hands it in.
package actor AuditNotary {
    package nonisolated let signer: NoteSigner
    /// The local checkpoint file; nil for instances sharing a database, whose log is the database's
    /// (and whose witnesses outside it are the bucket copies).
    let log: CheckpointLog?
    let storage: any HospitalStorage
    let copies: (any ChunkStore)?
    let logger: Logger
    /// The signer's key and those its log's key rotations link it to.
    let trusted: [NoteVerifier]

    /// The newest checkpoint of the log this instance has seen (signed or read).
    private(set) var latest: SignedCheckpoint?
    /// The size of the checkpoint last written to the buckets.
    private var published: Int?
    /// The signing in progress: one at a time, in order.
    private var signing: Task<SignedCheckpoint, any Error>?
    /// When the last checkpoint was signed: on-demand signing (a proof of a new entry) waits until
    /// ``minimumGap`` has passed, so that no caller can grow the checkpoint log faster than a record
    /// a second per instance however fast the ledger grows.
    private var lastSigned: ContinuousClock.Instant?
    static let minimumGap: Duration = .seconds(1)

    /// Why the notary will not start, or will not sign.
    package enum Refusal: Error, Equatable, CustomStringConvertible {
        /// The checkpoint file or the database's log has a record this key did not sign.
        case foreignCheckpoint(path: String, reason: String)
        /// A bucket's copy is a checkpoint the log does not have: newer (the log was cut or replaced),
        /// or unknown (forged, or the log was edited).
        case copyNotInFile(copy: String, size: Int, fileSize: Int?)
        /// The database's checkpoint log holds a checkpoint the local file lacks: the file was removed
        /// (`fileSize` nil: it has no record), cut or replaced.
        case fileBehindDatabase(path: String, size: Int, fileSize: Int?)
        /// The database's checkpoint log is behind a checkpoint this instance saw: restored, or failed
        /// over to a standby that lost the newest commits.
        case logWentBack(recorded: Int?, seen: Int)
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
                "\(path) holds a checkpoint this signing key did not sign (\(reason)): it was replaced or the key was"
            case .copyNotInFile(let copy, let size, let fileSize):
                if let fileSize, size > fileSize {
                    "the checkpoint in \(copy) (tree size \(size)) is newer than the checkpoint log's last (\(fileSize)): the log was cut or replaced"
                } else if fileSize == nil {
                    "the checkpoint log is missing or empty, but \(copy) holds a checkpoint of tree size \(size): it was removed"
                } else {
                    "the checkpoint in \(copy) (tree size \(size)) is not in the checkpoint log: the log was edited or the copy forged"
                }
            case .fileBehindDatabase(let path, let size, let fileSize):
                if let fileSize {
                    "the database's checkpoint log holds a checkpoint (tree size \(size)) that the checkpoint file \(path) lacks (its last covers \(fileSize)): the file was cut or replaced"
                } else {
                    "the checkpoint file \(path) is missing or empty, but the database's checkpoint log holds a checkpoint of tree size \(size): it was removed"
                }
            case .logWentBack(let recorded, let seen):
                "the database's checkpoint log went back: its newest checkpoint covers \(recorded.map(String.init) ?? "nothing"), this instance saw one covering \(seen) entries: the database was restored or failed over to a standby that lost the newest commits"
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

    /// What the database's checkpoint log is called in messages.
    static let databaseLog = "the database's checkpoint log"

    /// Opens the notary over a ledger, checking before anything is signed that the checkpoint log is
    /// this key's, that the buckets hold no checkpoint the log lacks, and that the database still holds
    /// what the last checkpoint signed. With a checkpoint file, a torn last record (a crash during an
    /// append) is cut off, and the file's records the database's log lacks (a ledger kept before the
    /// database had one, or a crash between the append and the commit) are recorded there.
    /// - Throws: ``Refusal`` or ``CheckpointLog/Failure``: start-up stops (a restore from backup is
    ///   accepted with `chainvault audit accept-restore`).
    package init(signer: NoteSigner, log: CheckpointLog?, storage: any HospitalStorage, copies: (any ChunkStore)?, logger: Logger)
        async throws
    {
        self.signer = signer
        self.log = log
        self.storage = storage
        self.copies = copies
        self.logger = logger
        var fileRecords: [SignedCheckpoint] = []
        if let log {
            let contents = try log.readCuttingTornRecord()
            if contents.tornBytes > 0 {
                logger.warning(
                    "the checkpoint file ended in a torn record (a crash during an append): cut off",
                    metadata: ["bytes": "\(contents.tornBytes)"])
            }
            fileRecords = contents.checkpoints
        }
        let statements = try await storage.read { try await Self.recorded($0.ledger, statementsOnly: true) }
        let trusted = AuditKeys.trusted([signer.verifier], history: fileRecords + statements)
        self.trusted = trusted
        for checkpoint in fileRecords {
            do {
                _ = try checkpoint.verified(by: trusted, origin: signer.name)
            } catch {
                throw Refusal.foreignCheckpoint(path: "the checkpoint file \(log?.path ?? "")", reason: "\(error)")
            }
        }
        var recorded = try await storage.write { [fileRecords] transaction -> SignedCheckpoint? in
            let ledger = transaction.ledger
            let newest = try await ledger.latestCheckpoint().map(Self.parse)
            guard let log else { return newest }
            var start = 0
            if let newest {
                guard let position = fileRecords.lastIndex(of: newest) else {
                    throw Refusal.fileBehindDatabase(
                        path: log.path, size: newest.checkpoint.size, fileSize: fileRecords.last?.checkpoint.size)
                }
                start = position + 1
            }
            for record in fileRecords[start...] { try await Self.record(record, in: ledger) }
            return fileRecords.last ?? newest
        }
        if let recorded, log == nil {
            do {
                _ = try recorded.verified(by: trusted, origin: signer.name)
            } catch {
                throw Refusal.foreignCheckpoint(path: Self.databaseLog, reason: "\(error)")
            }
        }
        if let copies {
            for (name, copy) in await Self.copies(in: copies, logger: logger) {
                if log != nil {
                    guard fileRecords.contains(copy) else {
                        throw Refusal.copyNotInFile(copy: name, size: copy.checkpoint.size, fileSize: recorded?.checkpoint.size)
                    }
                } else if let newer = try await Self.recordLostCopy(
                    copy, named: name, after: recorded, trusted: trusted, origin: signer.name, storage: storage)
                {
                    recorded = newer
                }
            }
        }
        if let recorded {
            try await Self.check(recorded.checkpoint, against: storage)
        }
        // Every entry against the leaf the tree stored when it was appended, as `audit verify` does (one pass:
        // an entry rewritten with the chain hashes recomputed, but the tree left as it was, stops the start).
        let problems = try await storage.read { try await AuditVerifier.walkEntries($0.ledger, rootsAt: []).problems }
        guard problems.isEmpty else { throw Refusal.entriesDoNotMatchTree(problems.map(\.description)) }
        latest = recorded
        published = nil
    }

    /// A bucket copy the database's log lacks, with no checkpoint file to consult (instances sharing a
    /// database). A copy left the log first, so the log lost it: a failover to a standby without the
    /// newest commits. When only the checkpoint's row went (the copy is this key's and the tree still
    /// holds what it signs), the copy is recorded again and returned when it is newer than `latest`;
    /// when entries went too, the start is refused (a rollback: `audit accept-restore`).
    private static func recordLostCopy(
        _ copy: SignedCheckpoint, named name: String, after latest: SignedCheckpoint?, trusted: [NoteVerifier], origin: String,
        storage: any HospitalStorage
    ) async throws -> SignedCheckpoint? {
        let note = copy.note.serialized
        guard !(try await storage.read { try await $0.ledger.containsCheckpoint(note, size: copy.checkpoint.size) }) else { return nil }
        let checkpoint: Checkpoint
        do {
            checkpoint = try copy.verified(by: trusted, origin: origin)
        } catch {
            throw Refusal.foreignCheckpoint(path: name, reason: "\(error)")
        }
        try await check(checkpoint, against: storage)
        guard checkpoint.size > latest?.checkpoint.size ?? -1 else { return nil }
        try await storage.write { try await record(copy, in: $0.ledger) }
        return copy
    }

    /// A checkpoint of the database's log, parsed (its signature is checked where it is used).
    static func parse(_ recorded: RecordedCheckpoint) throws -> SignedCheckpoint {
        do {
            return try SignedCheckpoint(parsing: Array(recorded.note.utf8))
        } catch {
            throw Refusal.foreignCheckpoint(path: "\(databaseLog) (record \(recorded.number))", reason: "\(error)")
        }
    }

    /// Records `signed` in the database's checkpoint log.
    static func record(_ signed: SignedCheckpoint, in ledger: any LedgerStore) async throws {
        try await ledger.recordCheckpoint(
            signed.note.serialized, size: signed.checkpoint.size, isStatement: !signed.checkpoint.extensions.isEmpty)
    }

    /// The database's recorded checkpoints, oldest first: every one, or the statements (key rotations, restores).
    static func recorded(_ ledger: any LedgerStore, statementsOnly: Bool) async throws -> [SignedCheckpoint] {
        var found: [SignedCheckpoint] = []
        var after: Int64 = 0
        while true {
            let page = try await ledger.checkpoints(after: after, statementsOnly: statementsOnly, limit: 1000)
            found += try page.map(parse)
            guard page.count == 1000, let last = page.last else { return found }
            after = last.number
        }
    }

    /// The checkpoint log's records as one instance keeps it: the checkpoint file's, or with none the database's.
    package static func history(log: CheckpointLog?, storage: any HospitalStorage) async throws -> [SignedCheckpoint] {
        if let log { return try log.readCuttingTornRecord().checkpoints }
        return try await storage.read { try await recorded($0.ledger, statementsOnly: false) }
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

    /// Signs the current head if it differs from the log's last checkpoint, after proving it consistent
    /// with it, and records it — in the write that holds the ledger's lock, so that every instance signs
    /// the same log in one order. A checkpoint another instance signed since is accepted once its key and
    /// its consistency with the last one seen are checked; a log that went back is refused.
    private func signHead() async throws -> SignedCheckpoint {
        if let lastSigned, ContinuousClock.now - lastSigned < Self.minimumGap {
            try await ContinuousClock().sleep(until: lastSigned + Self.minimumGap)
        }
        let seen = latest
        let (signer, trusted, log) = (self.signer, self.trusted, self.log)
        let (signed, isNew) = try await storage.write { transaction -> (SignedCheckpoint, Bool) in
            let ledger = transaction.ledger
            var last = seen
            let newest = try await ledger.latestCheckpoint().map(Self.parse)
            if newest != seen {
                guard let newest else { throw Refusal.logWentBack(recorded: nil, seen: seen?.checkpoint.size ?? 0) }
                let checkpoint: Checkpoint
                do {
                    checkpoint = try newest.verified(by: trusted, origin: signer.name)
                } catch {
                    throw Refusal.foreignCheckpoint(path: Self.databaseLog, reason: "\(error)")
                }
                if let seen {
                    guard checkpoint.size >= seen.checkpoint.size else {
                        throw Refusal.logWentBack(recorded: checkpoint.size, seen: seen.checkpoint.size)
                    }
                    try await Self.checkConsistent(seen.checkpoint, checkpoint, ledger)
                }
                last = newest
            }
            let head: (size: Int, root: MerkleTree.Hash)
            let rows: Int
            do {
                head = try await AuditTree.head(in: ledger)
                rows = Int(try await ledger.newestEntry()?.id ?? 0)
            } catch let error as AuditTree.MissingNode {
                throw Refusal.damagedTree(error.description)
            }
            // The newest rows deleted under the tree (their leaves remain): never sign a head the entries no longer make.
            guard rows >= head.size else { throw Refusal.rollback(entries: rows, signed: head.size) }
            if let last, last.checkpoint.size == head.size, last.checkpoint.root == head.root { return (last, false) }
            if let last {
                guard head.size >= last.checkpoint.size else { throw Refusal.rollback(entries: head.size, signed: last.checkpoint.size) }
                try await Self.checkConsistent(last.checkpoint, Checkpoint(origin: signer.name, size: head.size, root: head.root), ledger)
            }
            let signed = try SignedCheckpoint(signing: Checkpoint(origin: signer.name, size: head.size, root: head.root), by: [signer])
            // The file first: a crash before the commit leaves a record the next start copies into the database.
            if let log { try await NIOThreadPool.singleton.runIfActive { try log.append(signed) } }
            try await Self.record(signed, in: ledger)
            return (signed, true)
        }
        latest = signed
        if isNew { lastSigned = .now }
        return signed
    }

    /// Whether the tree `later` signs extends the one `earlier` signs, by a consistency proof from the stored tree.
    static func checkConsistent(_ earlier: Checkpoint, _ later: Checkpoint, _ ledger: any LedgerStore) async throws {
        guard earlier.size > 0, earlier.size < later.size else {
            guard earlier.size != later.size || earlier.root == later.root else { throw Refusal.rewritten(size: earlier.size) }
            return
        }
        let proof: [MerkleTree.Hash]
        do {
            proof = try await AuditTree.withSubtrees(in: ledger) {
                try MerkleTree.consistencyProof(first: earlier.size, size: later.size, $0)
            }
        } catch let error as AuditTree.MissingNode {
            throw Refusal.damagedTree(error.description)
        }
        guard MerkleTree.verifyConsistency(size1: earlier.size, size2: later.size, root1: earlier.root, root2: later.root, proof: proof)
        else { throw Refusal.rewritten(size: earlier.size) }
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

    /// Whether any checkpoint exists for the ledger: in the checkpoint file, in the database's log, in a
    /// bucket, or as a key the ledger recorded. A missing signing key is then an error (a new key would
    /// hide the old history), never a reason to make one.
    package static func evidenceOfCheckpoints(log: CheckpointLog?, storage: any HospitalStorage, copies: (any ChunkStore)?, logger: Logger)
        async throws -> String?
    {
        if let log, log.exists { return "the checkpoint file \(log.path) exists" }
        let (keyRecorded, logged) = try await storage.read {
            (try await $0.ledger.contains(action: .auditKeyCreated), try await $0.ledger.latestCheckpoint() != nil)
        }
        if keyRecorded { return "the ledger recorded the making of a signing key" }
        if logged { return "\(databaseLog) holds checkpoints" }
        if let copies, let copy = await Self.copies(in: copies, logger: logger).first { return "\(copy.0) holds a checkpoint" }
        return nil
    }

    /// Records a new signing key in the ledger (its verifier key as the detail), so that the ledger
    /// itself says when and which key began to sign it.
    package static func recordNewKey(_ verifier: NoteVerifier, storage: any HospitalStorage, time: Int64) async throws {
        try await AuditLedger.record(
            actor: nil, .auditKeyCreated, subject: "audit-key", detail: verifier.description, time: time, in: storage)
    }

    /// Rotates the signing key (every server stopped): records the new key in the ledger
    /// (`audit_key_rotated`, its verifier key as the detail), and signs the head with both keys in a
    /// checkpoint whose extension line `key-rotation OLD NEW` names both, recorded in the checkpoint log
    /// (the file, when there is one, and the database's). The caller then puts the new key in the key file.
    /// - Throws: ``Refusal`` when the database no longer holds what the last checkpoint signed.
    package static func rotate(from old: NoteSigner, to new: NoteSigner, log: CheckpointLog?, storage: any HospitalStorage, time: Int64)
        async throws -> SignedCheckpoint
    {
        let history = try await history(log: log, storage: storage)
        if let last = history.last {
            try await check(try last.verified(by: AuditKeys.trusted([old.verifier], history: history)), against: storage)
        }
        return try await storage.write { transaction in
            try await AuditLedger.append(
                .init(actor: nil, .auditKeyRotated, subject: "audit-key", detail: new.verifier.description), time: time, in: transaction)
            let head = try await AuditTree.head(in: transaction.ledger)
            let rotation = Checkpoint(
                origin: old.name, size: head.size, root: head.root,
                extensions: ["\(AuditKeys.rotationTag) \(old.verifier) \(new.verifier)"])
            return try await sign(rotation, by: [old, new], log: log, ledger: transaction.ledger)
        }
    }

    /// Signs a statement checkpoint and records it: in the file first, when there is one, then in the
    /// database's log (in the caller's write).
    private static func sign(_ checkpoint: Checkpoint, by signers: [NoteSigner], log: CheckpointLog?, ledger: any LedgerStore)
        async throws -> SignedCheckpoint
    {
        let signed = try SignedCheckpoint(signing: checkpoint, by: signers)
        try log?.append(signed)
        try await record(signed, in: ledger)
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
            case .noCheckpoint: "the checkpoint log has no checkpoint: there is nothing a restore could contradict"
            case .badReason: "the reason is 1 to 300 characters on one line"
            }
        }
    }

    /// Accepts a database restored from a backup: appends a `restore_accepted` entry with the reason and
    /// signs the ledger's new head as a checkpoint whose extension lines state the restore (time, the
    /// head it replaces, the reason), recorded in the checkpoint log. The head replaced is the newest
    /// checkpoint the log or a bucket copy holds: a database restored with its own log is behind the
    /// copies its instances published. The servers then start again; `audit verify` reports the restore
    /// and checks the ledger against checkpoints from it on.
    package static func acceptRestore(
        reason: String, signer: NoteSigner, log: CheckpointLog?, storage: any HospitalStorage, copies: (any ChunkStore)?, time: Int64,
        logger: Logger
    ) async throws -> SignedCheckpoint {
        let reason = reason.trimmingCharacters(in: .whitespaces)
        guard (1...300).contains(reason.count), !reason.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw RestoreRefusal.badReason
        }
        let history = try await history(log: log, storage: storage)
        let trusted = AuditKeys.trusted([signer.verifier], history: history)
        var copied: [SignedCheckpoint] = []
        if let copies {
            copied = await Self.copies(in: copies, logger: logger).map(\.1).filter {
                (try? $0.verified(by: trusted, origin: signer.name)) != nil
            }
        }
        let replaced = (history.suffix(1) + copied).compactMap { try? $0.verified(by: trusted, origin: signer.name) }.max {
            $0.size < $1.size
        }
        guard let replaced else { throw RestoreRefusal.noCheckpoint }
        do {
            try await check(replaced, against: storage)
            throw RestoreRefusal.consistent(entries: try await storage.read { try await $0.ledger.treeSize() })
        } catch is Refusal {
            // Rolled back or rewritten: what a restore looks like.
        }
        return try await storage.write { [copied] transaction in
            // A database restored with its log lacks the checkpoints signed after its backup that the buckets
            // kept: they join the log before the statement, as the history it replaces.
            if log == nil {
                for copy in copied
                where !(try await transaction.ledger.containsCheckpoint(copy.note.serialized, size: copy.checkpoint.size)) {
                    try await record(copy, in: transaction.ledger)
                }
            }
            try await AuditLedger.append(
                .init(actor: nil, .restoreAccepted, subject: "audit-ledger", outcome: .success, detail: reason), time: time,
                in: transaction)
            let head = try await AuditTree.head(in: transaction.ledger)
            let statement = Checkpoint(
                origin: signer.name, size: head.size, root: head.root,
                extensions: [
                    "\(AuditVerifier.restoreTag) \(time)", "replaces \(replaced.size) \(Data(replaced.root).base64EncodedString())",
                    "reason \(reason)",
                ])
            return try await sign(statement, by: [signer], log: log, ledger: transaction.ledger)
        }
    }
}

/// Signs and publishes the ledger's checkpoint at start and then every `interval` (when the ledger
/// grew): the program runs it beside the listeners. Of instances sharing a database, the one holding
/// ``SoleRole/checkpointPublisher`` publishes; the others look every ``lookEvery`` and take over when
/// it is gone. A refusal to sign (a rolled back or rewritten database) is logged as an error every
/// round and counted, never papered over.
package struct AuditCheckpointPublisher: Service {
    let notary: AuditNotary
    let interval: Duration
    let leadership: any Leadership
    let logger: Logger
    /// How often an instance without the role looks whether it is free.
    static let lookEvery: Duration = .seconds(30)

    package init(
        notary: AuditNotary, interval: Duration, leadership: any Leadership = SoleInstance(),
        logger: Logger = Logger(label: "chainvault.audit")
    ) {
        self.notary = notary
        self.interval = interval
        self.leadership = leadership
        self.logger = logger
    }

    package func run() async throws {
        var lastPublished: ContinuousClock.Instant?
        await Periodic.run(every: min(interval, Self.lookEvery)) {
            guard await leadership.holds(.checkpointPublisher) else { return }
            if let lastPublished, ContinuousClock.now - lastPublished < interval { return }
            lastPublished = .now
            await publish()
        } atShutdown: {
            // The entries of the last moments are signed and copied out before the process ends.
            await publish()
        }
    }

    private func publish() async {
        do {
            try await notary.publish()
        } catch let refusal as AuditNotary.Refusal {
            logger.error("the audit ledger's head was not signed", metadata: ["reason": "\(refusal)"])
            Counter(label: "chainvault_audit_checkpoint_failures_total").increment()
        } catch {
            logger.error("publishing the audit checkpoint failed; trying again next round", metadata: ["error": "\(error)"])
            Counter(label: "chainvault_audit_checkpoint_failures_total").increment()
        }
    }
}
