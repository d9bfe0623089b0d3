import ChunkChain
import Foundation
import Logging
import TestSupport
import Testing
import Transparency

@testable import HospitalCore
@testable import HospitalPostgres
@testable import HospitalSQLite

/// `chainvault hospital migrate`'s copy: every table row for row into an empty database of either
/// engine, proved by counts, the ledger's root and checkpoint; a target that is not empty is refused.
@Suite struct HospitalMigrationTests {
    /// A SQLite hospital with a patient, a sign-in, a failed one, ledger entries and a checkpoint.
    static func source() async throws -> (HospitalDatabase, SQLiteHospitalStorage) {
        let database = try HospitalDatabase.inMemory()
        let storage = SQLiteHospitalStorage(database)
        let clock = TestClock()
        let accounts = Accounts(
            storage: storage, hasher: PasswordHasher(parameters: .testing, random: systemRandom), clock: clock.source, random: systemRandom)
        _ = try await accounts.registerPatient(
            .init(name: "Ada", email: "ada@example.org", password: "correct horse battery", dateOfBirth: "1985-04-12", phone: "0123456"))
        _ = try await accounts.login(email: "ada@example.org", password: "correct horse battery", client: "c")
        _ = try? await accounts.login(email: "ada@example.org", password: "wrong guess!", client: "d")
        let signer = try NoteSigner(generatingFor: "hospital.example/audit")
        _ = try await AuditNotary(signer: signer, log: nil, storage: storage, copies: nil, logger: .init(label: "test")).checkpoint()
        return (database, storage)
    }

    enum Target: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case sqlite, postgres
        var testDescription: String { rawValue }
        static var available: [Target] { allCases.filter { $0 != .postgres || TestPostgres.url != nil } }

        func run(_ body: @escaping @Sendable (any HospitalTables, any HospitalStorage) async throws -> Void) async throws {
            switch self {
            case .sqlite:
                let database = try HospitalDatabase.inMemory()
                try await body(SQLiteHospitalTables(database), SQLiteHospitalStorage(database))
            case .postgres:
                try await TestPostgres.withStorage { storage, _ in try await body(PostgresHospitalTables(storage: storage), storage) }
            }
        }
    }

    @Test(arguments: Target.available) func everyTableIsCopiedAndProvedAndAFullTargetRefused(_ target: Target) async throws {
        let (database, storage) = try await Self.source()
        try await target.run { tables, targetStorage in
            let copied = try await HospitalMigration.copy(from: (SQLiteHospitalTables(database), storage), to: (tables, targetStorage))
            let counts = Dictionary(uniqueKeysWithValues: copied.rows.map { ($0.table, $0.count) })
            #expect(counts[.users] == 1 && counts[.sessions] == 1 && counts[.throttleCounters] == 4, "\(counts)")
            #expect(counts[.audit] == copied.entries && copied.entries >= 4 && counts[.auditCheckpoints] == 1)
            #expect(copied.checkpoint?.size == copied.entries)
            // The copy is a hospital: Ada signs in on it, its ledger appends on, and its session reads.
            let accounts = Accounts(
                storage: targetStorage, hasher: PasswordHasher(parameters: .testing, random: systemRandom), clock: { 1_900_000_000 },
                random: systemRandom)
            _ = try await accounts.login(email: "ada@example.org", password: "correct horse battery", client: "c")
            let ids = try await targetStorage.read { try await $0.ledger.entries(after: 0, patientId: nil, limit: 1000) }.map(\.id)
            #expect(ids == Array(1...Int64(ids.count)) && ids.count > copied.entries)
            await #expect(throws: HospitalMigration.Refusal.targetNotEmpty(table: .users, rows: 1)) {
                _ = try await HospitalMigration.copy(from: (SQLiteHospitalTables(database), storage), to: (tables, targetStorage))
            }
        }
    }
}
