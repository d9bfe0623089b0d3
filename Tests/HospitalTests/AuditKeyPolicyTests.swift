import ChunkChain
import ChunkChainTesting
import Foundation
import Logging
import TestSupport
import Testing
import Transparency

@testable import HospitalCore
@testable import HospitalSQLite

/// The signing key's start-up policy, decided by the core: made once for a ledger without checkpoints,
/// its origin fixed, never made again once the ledger has signed history.
@Suite struct AuditKeyPolicyTests {
    @Test func aKeyIsMadeOnceThenItsOriginIsFixedAndAMissingKeyStopsStartUp() async throws {
        let database = try HospitalDatabase.inMemory()
        let folder = temporaryPath("audit-key-policy")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let keyPath = folder + "/audit-signing.key"
        let log = CheckpointLog(path: folder + "/checkpoints")
        let copies = MemoryChunkStore()
        func start(_ existing: NoteSigner?, origin: String?) async throws -> (notary: AuditNotary, newKey: NoteVerifier?) {
            try await AuditKeyPolicy.notary(
                existing: existing, keyPath: keyPath, origin: origin, log: log, storage: SQLiteHospitalStorage(database), copies: copies,
                random: systemRandom, now: 1_800_000_000, logger: Logger(label: "test"))
        }
        let first = try await start(nil, origin: "hospital.example/audit")
        #expect(first.newKey?.name == "hospital.example/audit")
        let mode = try FileManager.default.attributesOfItem(atPath: keyPath)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let saved = try NoteSigner(String(decoding: try #require(FileManager.default.contents(atPath: keyPath)), as: UTF8.self))

        let again = try await start(saved, origin: nil)
        #expect(again.newKey == nil, "an existing key is used, never replaced")
        await #expect {
            _ = try await start(saved, origin: "other.example/audit")
        } throws: { error in
            guard case AuditKeyPolicy.Refusal.originMismatch = error else { return false }
            return true
        }
        // The ledger recorded the key's making: without the key file, start-up stops instead of making another.
        await #expect {
            _ = try await start(nil, origin: nil)
        } throws: { error in
            guard case AuditKeyPolicy.Refusal.keyMissing = error else { return false }
            return true
        }
    }
}
