import ChunkChain
import ChunkChainTesting
import Foundation
import GRDB
import Logging
import TestSupport
import Testing
import Transparency

@testable import Hospital
@testable import HospitalAPI
@testable import HospitalCore
@testable import HospitalPortal
@testable import HospitalSQLite

/// The audit ledger's Merkle tree, its signed checkpoints and what `audit verify` names, through the
/// real files: a database file, a checkpoint file and bucket copies.
@Suite struct AuditLedgerTests {
    static let logger = Logger(label: "test")

    /// A data root of the ledger's files in a fresh folder.
    struct Ledger {
        let folder: String
        let signer: NoteSigner
        var database: HospitalDatabase
        var storage: SQLiteHospitalStorage { SQLiteHospitalStorage(database) }
        let log: CheckpointLog
        let copies = MemoryChunkStore()

        init() throws {
            folder = temporaryPath("ledger")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            signer = try NoteSigner(generatingFor: "hospital.example/audit")
            database = try HospitalDatabase.open(path: folder + "/hospital.sqlite")
            log = CheckpointLog(path: folder + "/audit-checkpoints")
        }

        func append(_ count: Int, from first: Int = 1) async throws {
            for number in first..<(first + count) {
                try await AuditLedger.record(
                    actor: Int64(number % 7 + 1), .download, subject: "report:\(number)", patient: 3, detail: "entry \(number)",
                    time: 1_800_000_000 + Int64(number), in: storage)
            }
        }

        func notary() async throws -> AuditNotary {
            try await AuditNotary(signer: signer, log: log, storage: storage, copies: copies, logger: AuditLedgerTests.logger)
        }

        func verify(key: NoteVerifier? = nil) async throws -> AuditReport {
            try await AuditVerifier.verify(
                storage: storage, log: log, copies: copies, verifiers: [key ?? signer.verifier], origin: signer.name,
                logger: AuditLedgerTests.logger)
        }

        func execute(_ sql: String) async throws {
            try await database.write { db in try db.execute(sql: sql) }
        }

        /// An honest ledger of `count` entries whose head is signed and published.
        static func published(_ count: Int) async throws -> Ledger {
            let ledger = try Ledger()
            try await ledger.append(count)
            try await ledger.notary().publish()
            return ledger
        }
    }

    // MARK: The tree

    /// For ledger sizes 1–40 and ten random larger ones: the stored tree's root is the root of the
    /// entries' leaves, every sampled inclusion and consistency proof verifies, and a proof with any
    /// hash changed is refused.
    @Test func everyProofFromTheStoredTreeVerifies() async throws {
        let storage = SQLiteHospitalStorage(try HospitalDatabase.inMemory())
        var sizes = Array(1...40) + (0..<10).map { _ in Int.random(in: 41...1500) }
        sizes.sort()
        var appended = 0
        for size in sizes {
            for number in appended..<size {
                try await AuditLedger.record(actor: 1, .login, subject: "user:\(number)", detail: "", time: Int64(number), in: storage)
            }
            appended = size
            let checked = try await storage.read { transaction -> Bool in
                let ledger = transaction.ledger
                let leaves = try await ledger.entries(after: 0, patientId: nil, limit: size).map(\.leafHash)
                let root = MerkleTree.root(leaves)
                #expect(try await AuditTree.head(in: ledger).root == root, "size \(size)")
                let indices = size <= 40 ? Array(0..<size) : (0..<20).map { _ in Int.random(in: 0..<size) }
                for index in indices {
                    let proof = try await AuditTree.withSubtrees(in: ledger) { try MerkleTree.inclusionProof(index: index, size: size, $0) }
                    #expect(MerkleTree.verifyInclusion(leafHash: leaves[index], index: index, size: size, proof: proof, root: root))
                    // Any one hash of the proof changed (one random bit of it) is refused.
                    for position in proof.indices {
                        var changed = proof
                        changed[position][Int.random(in: 0..<32)] ^= 1 << UInt8.random(in: 0..<8)
                        #expect(!MerkleTree.verifyInclusion(leafHash: leaves[index], index: index, size: size, proof: changed, root: root))
                    }
                    let first = index + 1
                    let consistency = try await AuditTree.withSubtrees(in: ledger) {
                        try MerkleTree.consistencyProof(first: first, size: size, $0)
                    }
                    let firstRoot = MerkleTree.root(Array(leaves[..<first]))
                    if first < size {
                        #expect(
                            MerkleTree.verifyConsistency(size1: first, size2: size, root1: firstRoot, root2: root, proof: consistency),
                            "\(first) of \(size)")
                        for position in consistency.indices {
                            var changed = consistency
                            changed[position][Int.random(in: 0..<32)] ^= 1 << UInt8.random(in: 0..<8)
                            #expect(
                                !MerkleTree.verifyConsistency(size1: first, size2: size, root1: firstRoot, root2: root, proof: changed),
                                "\(first) of \(size), hash \(position)")
                        }
                    }
                }
                return true
            }
            #expect(checked)
        }
    }

    /// A ledger kept before the tree (schema v6) is taken over as it is: its entries become the first
    /// leaves, and appends continue the same tree.
    @Test func aLedgerFromBeforeTheTreeIsTakenOver() async throws {
        let queue = try DatabaseQueue(configuration: HospitalDatabase.configuration)
        try HospitalDatabase.migrator.migrate(queue, upTo: "v6-second-factor")
        let entries = try await queue.write { db -> [AuditEntry] in
            var previous = AuditLedger.genesis
            var entries: [AuditEntry] = []
            for id in Int64(1)...Int64(13) {
                var entry = AuditEntry(
                    id: id, time: id, actorId: nil, action: .login, subject: "user:\(id)", patientId: nil, outcome: .success, detail: "",
                    previousHash: previous, hash: Data())
                entry.hash = AuditEntry.digest(previous: previous, fields: entry.canonicalFields)
                let hash = entry.hash
                // The columns of a v6 ledger (no leaf names yet).
                try db.execute(
                    sql: """
                        INSERT INTO audit (id, time, actorId, action, subject, patientId, outcome, detail, previousHash, hash)
                        VALUES (?, ?, NULL, 'login', ?, NULL, 'success', '', ?, ?)
                        """, arguments: [id, id, entry.subject, previous, hash])
                entries.append(entry)
                previous = hash
            }
            return entries
        }
        let database = try HospitalDatabase(writer: queue)
        let head = try await SQLiteHospitalStorage(database).read { try await AuditTree.head(in: $0.ledger) }
        #expect(head.size == 13)
        #expect(head.root == MerkleTree.root(entries.map(\.leafHash)))
        try await AuditLedger.record(actor: 1, .login, subject: "user:1", detail: "", time: 14, in: SQLiteHospitalStorage(database))
        let report = try await AuditVerifier.verify(
            storage: SQLiteHospitalStorage(database), log: CheckpointLog(path: "/nonexistent/checkpoints"), copies: nil, verifiers: [],
            origin: "x",
            logger: Self.logger)
        #expect(report.entries == 14)
        #expect(report.problems.isEmpty)
    }

    /// The canonical encoding is the one docs/hospital.md works through, and decodes back to its fields.
    @Test func theCanonicalEncodingOfTheDocumentedExample() {
        let entry = AuditEntry(
            id: 42, time: 1_796_000_000, actorId: 7, action: .download, subject: "report:12", patientId: 3, outcome: .success, detail: "",
            previousHash: Data(), hash: Data())
        func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
        let tag: String = hex(Array("chainvault-audit-entry-v1".utf8))
        let fields: [String] = [
            "00000019", tag, "00000002", "3432", "0000000a", "31373936303030303030", "00000001", "37", "00000008", "646f776e6c6f6164",
            "00000009", "7265706f72743a3132", "00000001", "33", "00000007", "73756363657373", "00000000",
        ]
        #expect(hex(entry.canonicalBytes) == fields.joined())
        #expect(hex(entry.leafHash) == "c245df140480637024386c9d76c8ff1a719cd204d29a162c74d821d2b4a4d5f5")
        #expect(
            AuditEntry.canonicalFields(decoding: entry.canonicalBytes)
                == ["42", "1796000000", "7", "download", "report:12", "3", "success", ""])
        #expect(AuditEntry.canonicalFields(decoding: entry.canonicalBytes + [0]) == nil)
        #expect(AuditEntry.canonicalFields(decoding: Array(entry.canonicalBytes.dropLast())) == nil)
        #expect(AuditEntry.canonicalFields(decoding: Array(entry.canonicalBytes.dropFirst())) == nil)

        // Version 2: the same entry with the names its leaf carries (the second example of docs/hospital.md).
        var named = entry
        named.leafVersion = 2
        (named.leafActorName, named.leafPatientName, named.leafReportTitle) = ("Dr Ann Author", "Ada Patient", "Echo")
        let tagV2: String = hex(Array("chainvault-audit-entry-v2".utf8))
        let names = ["0000000d", "447220416e6e20417574686f72", "0000000b", "4164612050617469656e74", "00000004", "4563686f"]
        #expect(hex(named.canonicalBytes) == (["00000019", tagV2] + fields.dropFirst(2) + names).joined())
        #expect(hex(named.leafHash) == "138a13442a864201a1af176648d37db0e2a96cfa57db3aa65806b4a766f4d726")
        #expect(AuditEntry.canonicalFields(decoding: named.canonicalBytes)?.suffix(3) == ["Dr Ann Author", "Ada Patient", "Echo"])
        // A v1 tag with twelve fields, or a v2 tag with nine, is no entry.
        var mixed = named
        mixed.leafVersion = 1
        #expect(AuditEntry.canonicalFields(decoding: Array(mixed.canonicalBytes) + Array(named.canonicalBytes.suffix(40))) == nil)
    }

    // MARK: Checkpoints and attacks

    @Test func anHonestLedgerVerifiesAndSurvivesARestart() async throws {
        let ledger = try await Ledger.published(25)
        var report = try await ledger.verify()
        #expect(report.problems.isEmpty, "\(report.problems)")
        #expect(report.entries == 25)
        #expect(report.newest?.size == 25)
        // A restart: the notary opens over the same files, the ledger grows, a new checkpoint follows.
        let notary = try await ledger.notary()
        try await ledger.append(5, from: 26)
        try await notary.publish()
        report = try await ledger.verify()
        #expect(report.problems.isEmpty, "\(report.problems)")
        #expect(report.newest?.size == 30)
        #expect(try ledger.log.read().checkpoints.map(\.checkpoint.size) == [25, 30])
        let copy = try #require(try await ledger.copies.get(key: ChainBucket.auditCheckpointKey, bucket: .b))
        #expect(try SignedCheckpoint(parsing: copy).checkpoint.size == 30)
        // No growth, no new checkpoint.
        try await notary.publish()
        #expect(try ledger.log.read().checkpoints.count == 2)
    }

    @Test func deletingTheLastThreeEntriesIsNamed() async throws {
        let ledger = try await Ledger.published(20)
        let running = try await ledger.notary()
        try await ledger.execute("DELETE FROM audit WHERE id > 17")
        // The running server's signer refuses too (the tree still has the leaves the rows lost).
        await #expect(throws: AuditNotary.Refusal.rollback(entries: 17, signed: 20)) { try await running.checkpoint() }
        let problems = try await ledger.verify().problems
        #expect(problems.contains(.missingTail(entries: 17, leaves: 20)), "\(problems)")
        #expect(problems.contains { if case .rollback(17, 20, _) = $0 { true } else { false } }, "\(problems)")
        await #expect(throws: AuditNotary.Refusal.rollback(entries: 17, signed: 20)) { try await ledger.notary() }
    }

    @Test func anEditWithEveryLaterHashRecomputedIsNamed() async throws {
        let ledger = try await Ledger.published(20)
        try await Self.rewrite(ledger, entry: 8, detail: "nothing happened")
        let problems = try await ledger.verify().problems
        #expect(problems.contains(.editedEntry(entry: 8)), "\(problems)")
        #expect(!problems.contains { if case .brokenChain = $0 { true } else { false } }, "the chain itself was recomputed")
        // Start-up checks every entry against the tree too, not only `audit verify` (issue 27, N7).
        await #expect(throws: AuditNotary.Refusal.entriesDoNotMatchTree([AuditProblem.editedEntry(entry: 8).description])) {
            try await ledger.notary()
        }
        // The insider rebuilds the tree too: the signed checkpoint still names the rewrite.
        try await ledger.database.write { db in
            try db.execute(sql: "DELETE FROM auditTree")
            try SQLiteAuditTree.takeOver(in: db)
        }
        let rebuilt = try await ledger.verify().problems
        #expect(rebuilt.contains { if case .rewritten(20, _) = $0 { true } else { false } }, "\(rebuilt)")
        await #expect(throws: AuditNotary.Refusal.rewritten(size: 20)) { try await ledger.notary() }
    }

    /// Changes one entry's detail and recomputes its hash and every later one, as an insider with the
    /// database would.
    static func rewrite(_ ledger: Ledger, entry id: Int64, detail: String) async throws {
        try await ledger.database.write { db in
            try db.execute(sql: "UPDATE audit SET detail = ? WHERE id = ?", arguments: [detail, id])
            var previous = try Data.fetchOne(db, sql: "SELECT hash FROM audit WHERE id = ?", arguments: [id - 1]) ?? AuditLedger.genesis
            for var entry in try AuditEntry.fetchAll(db, sql: "SELECT * FROM audit WHERE id >= ? ORDER BY id", arguments: [id]) {
                entry.previousHash = previous
                entry.hash = AuditEntry.digest(previous: previous, fields: entry.canonicalFields)
                try entry.update(db)
                previous = entry.hash
            }
        }
    }

    /// Issue 27, N8: a checkpoint signed on demand for a proof (an e-mail's, the portal's) is in both
    /// buckets before the proof is returned, not only in the local file until the next round.
    @Test func aCheckpointIsInTheBucketsBeforeAProofLeaves() async throws {
        let ledger = try await Ledger.published(5)
        let notary = try await ledger.notary()
        try await ledger.append(3, from: 6)
        let proof = try #require(try await notary.proof(entry: 8))
        #expect(proof.checkpoint.checkpoint.size == 8)
        let copies = await AuditNotary.copies(in: ledger.copies, logger: AuditLedgerTests.logger)
        #expect(copies.count == 2 && copies.allSatisfy { $0.1.checkpoint.size == 8 }, "\(copies.map(\.1.checkpoint.size))")
    }

    @Test func anOlderCopyOfTheDatabaseIsARollback() async throws {
        var ledger = try Ledger()
        try await ledger.append(10)
        let notary = try await ledger.notary()
        try await notary.publish()
        let backup = ledger.folder + "/backup.sqlite"
        try await ledger.database.writer.writeWithoutTransaction { db in try db.execute(sql: "VACUUM INTO ?", arguments: [backup]) }
        try await ledger.append(6, from: 11)
        try await notary.publish()
        ledger.database = try HospitalDatabase.open(path: backup)
        let problems = try await ledger.verify().problems
        #expect(problems.contains { if case .rollback(10, 16, _) = $0 { true } else { false } }, "\(problems)")
        await #expect(throws: AuditNotary.Refusal.rollback(entries: 10, signed: 16)) { try await ledger.notary() }
        // The operator accepts the restore with a reason: signed, recorded, and the server starts again.
        let statement = try await AuditNotary.acceptRestore(
            reason: "disk failure, restored last night's backup", signer: ledger.signer, log: ledger.log, storage: ledger.storage,
            copies: ledger.copies, time: 1_800_000_100, logger: Self.logger)
        #expect(statement.checkpoint.size == 11)
        #expect(statement.checkpoint.extensions.last == "reason disk failure, restored last night's backup")
        let report = try await ledger.verify()
        #expect(report.problems.isEmpty, "\(report.problems)")
        #expect(report.restores.count == 1)
        let reopened = try await ledger.notary()
        try await ledger.append(2, from: 100)
        try await reopened.publish()
        #expect(try await ledger.verify().problems.isEmpty)
        // An honest ledger has nothing to accept.
        await #expect(throws: AuditNotary.RestoreRefusal.self) {
            try await AuditNotary.acceptRestore(
                reason: "again", signer: ledger.signer, log: ledger.log, storage: ledger.storage, copies: ledger.copies, time: 1,
                logger: Self.logger)
        }
    }

    @Test func aForgedCheckpointFileIsNamed() async throws {
        let ledger = try await Ledger.published(12)
        // The insider signs their own checkpoints with a key of the same name.
        let forger = try NoteSigner(generatingFor: ledger.signer.name)
        let forged = try SignedCheckpoint(signing: Checkpoint(origin: forger.name, size: 3, root: MerkleTree.emptyRoot), by: [forger])
        try FileManager.default.removeItem(atPath: ledger.log.path)
        try ledger.log.append(forged)
        let problems = try await ledger.verify().problems
        #expect(problems.contains { if case .badCheckpoint("checkpoint file record 1", _) = $0 { true } else { false } }, "\(problems)")
        #expect(problems.contains { if case .checkpointFileBehind(_, 12, 3, _) = $0 { true } else { false } }, "\(problems)")
        await #expect(throws: AuditNotary.Refusal.self) { try await ledger.notary() }
    }

    @Test func aRemovedCheckpointFileIsNamedFromTheBucketCopy() async throws {
        let ledger = try await Ledger.published(9)
        try FileManager.default.removeItem(atPath: ledger.log.path)
        let problems = try await ledger.verify().problems
        #expect(problems.contains { if case .checkpointFileBehind(_, 9, nil, _) = $0 { true } else { false } }, "\(problems)")
        // The database's own log remembers what the file held.
        await #expect(throws: AuditNotary.Refusal.fileBehindDatabase(path: ledger.log.path, size: 9, fileSize: nil)) {
            try await ledger.notary()
        }
        #expect(
            try await AuditNotary.evidenceOfCheckpoints(
                log: ledger.log, storage: ledger.storage, copies: ledger.copies, logger: Self.logger)
                != nil)
    }

    /// The notary never signs a head that is not an extension of the last one it signed.
    @Test func theSignerRefusesAnInconsistentHead() async throws {
        let ledger = try Ledger()
        try await ledger.append(10)
        let notary = try await ledger.notary()
        try await notary.publish()
        try await Self.rewrite(ledger, entry: 4, detail: "rewritten")
        try await ledger.database.write { db in
            try db.execute(sql: "DELETE FROM auditTree")
            try SQLiteAuditTree.takeOver(in: db)
        }
        try await ledger.append(1, from: 11)
        await #expect(throws: AuditNotary.Refusal.rewritten(size: 10)) { try await notary.checkpoint() }
        #expect(try ledger.log.read().checkpoints.count == 1)
    }

    /// A rotation checkpoint signed by both keys: the server carries on with the new key over the old
    /// history, and auditors holding either key verify the whole file.
    @Test func aRotatedKeyIsTrustedThroughTheCheckpointBothKeysSigned() async throws {
        let ledger = try await Ledger.published(8)
        let new = try NoteSigner(generatingFor: ledger.signer.name)
        let rotation = try await AuditNotary.rotate(from: ledger.signer, to: new, log: ledger.log, storage: ledger.storage, time: 9)
        #expect(rotation.note.signatures.count == 2)
        let notary = try await AuditNotary(
            signer: new, log: ledger.log, storage: ledger.storage, copies: ledger.copies, logger: Self.logger)
        try await ledger.append(3, from: 20)
        try await notary.publish()
        #expect(try ledger.log.read().checkpoints.last?.note.signatures.map(\.keyId) == [new.verifier.keyId])
        for key in [ledger.signer.verifier, new.verifier] {
            let report = try await ledger.verify(key: key)
            #expect(report.problems.isEmpty, "\(report.problems)")
            #expect(report.newest?.size == 12)
        }
        // A "rotation" signed by the new key alone links nothing: an old-key auditor refuses what follows.
        let stranger = try NoteSigner(generatingFor: ledger.signer.name)
        let forged = try SignedCheckpoint(
            signing: Checkpoint(
                origin: new.name, size: 12, root: rotation.checkpoint.root,
                extensions: ["key-rotation \(new.verifier) \(stranger.verifier)"]),
            by: [stranger])
        #expect(AuditKeys.trusted([new.verifier], history: [forged]) == [new.verifier])
    }

    /// A crash in the middle of an append leaves a torn record: the next start cuts it off.
    @Test func aTornLastRecordIsCutOff() async throws {
        let ledger = try await Ledger.published(4)
        let whole = try #require(FileManager.default.contents(atPath: ledger.log.path))
        let handle = try #require(FileHandle(forWritingAtPath: ledger.log.path))
        handle.seekToEndOfFile()
        handle.write(whole.prefix(30))
        handle.closeFile()
        #expect(try ledger.log.read().tornBytes == 30)
        _ = try await ledger.notary()
        #expect(FileManager.default.contents(atPath: ledger.log.path) == whole)
    }

    @Test func proofsOfEntriesCheckWithOnlyThePublicKey() async throws {
        let ledger = try await Ledger.published(33)
        let notary = try await ledger.notary()
        try await ledger.append(2, from: 34)
        for id in [Int64(1), 17, 33, 35] {
            let proof = try #require(try await notary.proof(entry: id))
            let parsed = try TlogProof(parsing: Array(proof.serialized.utf8))
            let checkpoint = try parsed.checkpoint.verified(by: [try NoteVerifier(ledger.signer.verifier.description)])
            let extra = try #require(parsed.extra)
            #expect(parsed.includes(leafHash: MerkleTree.leafHash(extra), in: checkpoint))
            #expect(AuditEntry.canonicalFields(decoding: extra)?.first == String(id))
        }
        #expect(try await notary.proof(entry: 36) == nil)
        #expect(try await notary.proof(entry: 0) == nil)
        let consistency = try #require(try await notary.consistencyProof(first: 10, size: 35))
        let roots = try await ledger.storage.read { transaction in
            try await AuditTree.withSubtrees(in: transaction.ledger) {
                (try MerkleTree.root(size: 10, $0), try MerkleTree.root(size: 35, $0))
            }
        }
        #expect(MerkleTree.verifyConsistency(size1: 10, size2: 35, root1: roots.0, root2: roots.1, proof: consistency))
        #expect(try await notary.consistencyProof(first: 10, size: 36) == nil)
    }
}
