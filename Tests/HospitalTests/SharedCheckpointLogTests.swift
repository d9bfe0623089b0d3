import ChunkChain
import ChunkChainTesting
import Foundation
import Logging
import TestSupport
import Testing
import Transparency

@testable import HospitalCore

/// Instances sharing one database sign one checkpoint log (the database's, no checkpoint file): in one
/// order whichever instance signs, a proof from one verifies against another's checkpoint, and a log
/// that goes back — a standby promoted without the newest commits — is refused until an operator
/// accepts it. On every engine (the log is the storage's).
@Suite struct SharedCheckpointLogTests {
    static let logger = Logger(label: "test")
    typealias Engine = HospitalStorageTests.Engine

    static func append(_ count: Int, from first: Int = 1, to storage: any HospitalStorage) async throws {
        for number in first..<(first + count) {
            try await AuditLedger.record(
                actor: 1, .download, subject: "report:\(number)", detail: "entry \(number)", time: 1_800_000_000 + Int64(number),
                in: storage)
        }
    }

    static func instance(_ signer: NoteSigner, _ storage: any HospitalStorage, _ copies: MemoryChunkStore) async throws -> AuditNotary {
        try await AuditNotary(signer: signer, log: nil, storage: storage, copies: copies, logger: logger)
    }

    static func verify(_ signer: NoteSigner, _ storage: any HospitalStorage, _ copies: MemoryChunkStore) async throws -> AuditReport {
        try await AuditVerifier.verify(
            storage: storage, log: nil, copies: copies, verifiers: [signer.verifier], origin: signer.name, logger: logger)
    }

    @Test(arguments: Engine.available) func twoInstancesSignOneLogAndProveAgainstEachOthersCheckpoints(_ engine: Engine) async throws {
        try await engine.run { storage, backdoor in
            let signer = try NoteSigner(generatingFor: "hospital.example/audit")
            let copies = MemoryChunkStore()
            try await Self.append(5, to: storage)
            let one = try await Self.instance(signer, storage, copies)
            let two = try await Self.instance(signer, storage, copies)
            let first = try await one.checkpoint()
            #expect(first.checkpoint.size == 5)
            try await Self.append(3, from: 6, to: storage)
            let second = try await two.checkpoint()
            #expect(second.checkpoint.size == 8)
            // The first instance proves entry 7 in the second's checkpoint rather than signing one of its own.
            let proof = try #require(try await one.proof(entry: 7))
            #expect(proof.checkpoint == second)
            let entry = try #require(try await storage.read { try await $0.ledger.entry(id: 7) })
            #expect(proof.includes(leafHash: entry.leafHash, in: try proof.checkpoint.verified(by: [signer.verifier])))
            #expect(try await backdoor("auditCheckpoint") == 2)
            // Both sign at once: one log, each record consistent with the one before.
            try await Self.append(4, from: 9, to: storage)
            async let a = one.checkpoint()
            async let b = two.checkpoint()
            let (signedA, signedB) = try await (a, b)
            #expect(signedA == signedB && signedA.checkpoint.size == 12)
            #expect(try await backdoor("auditCheckpoint") == 3)
            let report = try await Self.verify(signer, storage, copies)
            #expect(report.problems.isEmpty, "\(report.problems)")
            #expect(report.newest?.size == 12 && report.checkpoints >= 3)
        }
    }

    /// A standby promoted without the newest commits: entries 5 and 6 and the checkpoint over them gone.
    /// The running instance refuses to sign, a starting one refuses to start (the bucket copy is newer
    /// than the log), and once an operator accepts the restore every instance starts and the ledger verifies.
    @Test(arguments: Engine.available) func aLogThatWentBackIsRefusedUntilTheRestoreIsAccepted(_ engine: Engine) async throws {
        try await engine.run { storage, backdoor in
            let signer = try NoteSigner(generatingFor: "hospital.example/audit")
            let copies = MemoryChunkStore()
            try await Self.append(4, to: storage)
            let running = try await Self.instance(signer, storage, copies)
            try await running.publish()
            try await Self.append(2, from: 5, to: storage)
            try await running.publish()
            #expect(try await running.latestCheckpoint().checkpoint.size == 6)
            try await backdoor.execute(
                """
                DELETE FROM audit WHERE id > 4; DELETE FROM auditTree WHERE (position + 1) * (1 << level) > 4;
                DELETE FROM auditCheckpoint WHERE size > 4
                """,
                """
                DELETE FROM audit WHERE id > 4; DELETE FROM audit_tree WHERE (position + 1) * (1::bigint << level::int) > 4;
                DELETE FROM audit_checkpoints WHERE size > 4; UPDATE audit_head SET id = 4, hash = (SELECT hash FROM audit WHERE id = 4)
                """)
            try await Self.append(1, from: 7, to: storage)
            await #expect(throws: AuditNotary.Refusal.logWentBack(recorded: 4, seen: 6)) { try await running.checkpoint() }
            await #expect(throws: AuditNotary.Refusal.rollback(entries: 5, signed: 6)) {
                try await Self.instance(signer, storage, copies)
            }
            let statement = try await AuditNotary.acceptRestore(
                reason: "failed over to the standby", signer: signer, log: nil, storage: storage, copies: copies, time: 1_800_000_100,
                logger: Self.logger)
            #expect(statement.checkpoint.size == 6)
            let restarted = try await Self.instance(signer, storage, copies)
            try await Self.append(1, from: 8, to: storage)
            try await restarted.publish()
            let report = try await Self.verify(signer, storage, copies)
            #expect(report.problems.isEmpty, "\(report.problems)")
            #expect(report.restores.count == 1 && report.newest?.size == 7)
        }
    }

    /// Only the checkpoint's row was lost (its entries are there): the bucket copy is consistent with the
    /// tree, so a starting instance records it again instead of refusing.
    @Test(arguments: Engine.available) func aLostCheckpointRowIsRecordedAgainFromTheBucketCopy(_ engine: Engine) async throws {
        try await engine.run { storage, backdoor in
            let signer = try NoteSigner(generatingFor: "hospital.example/audit")
            let copies = MemoryChunkStore()
            try await Self.append(3, to: storage)
            try await Self.instance(signer, storage, copies).publish()
            try await backdoor.execute("DELETE FROM auditCheckpoint", "DELETE FROM audit_checkpoints")
            let restarted = try await Self.instance(signer, storage, copies)
            #expect(try await restarted.latestCheckpoint().checkpoint.size == 3)
            #expect(try await backdoor("auditCheckpoint") == 1)
            // A copy the key did not sign is refused, never recorded.
            let forger = try NoteSigner(generatingFor: signer.name)
            let forged = try SignedCheckpoint(signing: Checkpoint(origin: signer.name, size: 3, root: MerkleTree.emptyRoot), by: [forger])
            try await copies.put(Array(forged.note.serialized.utf8), key: ChainBucket.auditCheckpointKey, bucket: .a)
            await #expect(throws: AuditNotary.Refusal.self) { try await Self.instance(signer, storage, copies) }
        }
    }
}
