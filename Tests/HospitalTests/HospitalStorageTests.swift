import Foundation
import GRDB
import PostgresNIO
import Synchronization
import TestSupport
import Testing

@testable import HospitalCore
@testable import HospitalSQLite

/// What ``HospitalStorage`` promises the services, on every engine (SQLite in memory and in a file,
/// and PostgreSQL when the tests have a server): a body's changes commit together or not at all,
/// commit hooks run only after a commit, writers do not interleave, a failed statement reaches the
/// body, and reads see a snapshot.
@Suite struct HospitalStorageTests {
    static func slot(doctor: Int64, at start: Int64) -> Slot {
        Slot(doctorId: doctor, startsAt: start, durationMinutes: 30, status: .open, createdAt: 0)
    }

    /// A storage engine under test, and how to count a table's rows behind the storage's back.
    enum Engine: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case sqliteMemory, sqliteFile, postgres

        var testDescription: String { rawValue }

        /// The engines this run has: PostgreSQL only with `CHAINVAULT_TEST_DATABASE_URL`.
        static var available: [Engine] { allCases.filter { $0 != .postgres || TestPostgres.url != nil } }

        /// Runs `body` on a fresh storage of this engine holding one doctor (id 1), with a ``Backdoor``
        /// to its tables.
        func run(_ body: @escaping @Sendable (_ storage: any HospitalStorage, _ backdoor: Backdoor) async throws -> Void) async throws {
            switch self {
            case .sqliteMemory, .sqliteFile:
                let database =
                    self == .sqliteFile
                    ? try HospitalDatabase.open(path: temporaryPath("storage") + ".sqlite") : try HospitalDatabase.inMemory()
                try await database.writer.write { db in
                    try db.execute(
                        sql:
                            "INSERT INTO user (role, email, name, passwordHash, createdAt) VALUES ('doctor', 'd@example.org', 'Dr D', 'x', 0)"
                    )
                }
                try await body(
                    SQLiteHospitalStorage(database),
                    Backdoor(
                        count: { table in
                            try await database.writer.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") ?? 0 }
                        },
                        execute: { sqlite, _ in try await database.writer.write { db in try db.execute(sql: sqlite) } }))
            case .postgres:
                try await TestPostgres.withStorage { storage, client in
                    try await client.query(
                        "INSERT INTO users (role, email, name, password_hash, created_at) VALUES ('doctor', 'd@example.org', 'Dr D', 'x', 0)"
                    )
                    try await body(
                        storage,
                        Backdoor(
                            count: { table in
                                let name = ["slot": "slots", "audit": "audit", "auditCheckpoint": "audit_checkpoints"][table] ?? table
                                let rows = try await client.query("SELECT count(*) FROM \(unescaped: name)").collect()
                                return try rows.first?.decode(Int.self) ?? 0
                            },
                            execute: { _, postgres in
                                // One statement per query (the extended protocol takes no more).
                                for statement in postgres.split(separator: ";") {
                                    try await client.query(PostgresQuery(unsafeSQL: String(statement)))
                                }
                            }))
                }
            }
        }
    }

    /// A storage's tables behind its back: `backdoor("slot")` counts a table's rows (`slot` and `audit`
    /// by their SQLite names); ``execute`` runs statements (`;` between them) given in each engine's words.
    struct Backdoor: Sendable {
        let count: @Sendable (String) async throws -> Int
        let execute: @Sendable (_ sqlite: String, _ postgres: String) async throws -> Void

        func callAsFunction(_ table: String) async throws -> Int { try await count(table) }
    }

    struct Refused: Error {}

    @Test(arguments: Engine.available) func aBodyThatThrowsLeavesNothingAndRingsNothing(_ engine: Engine) async throws {
        try await engine.run { storage, count in
            let rung = Mutex(0)
            await #expect(throws: Refused.self) {
                try await storage.write { transaction in
                    _ = try await transaction.scheduling.insert(Self.slot(doctor: 1, at: 1000))
                    try await AuditLedger.append(.init(actor: 1, .login, subject: "user:1"), time: 1, in: transaction)
                    transaction.afterCommit { rung.withLock { $0 += 1 } }
                    throw Refused()
                }
            }
            #expect(try await count("slot") == 0)
            #expect(try await count("audit") == 0)
            #expect(rung.withLock { $0 } == 0)
            let id = try await storage.write { transaction in
                transaction.afterCommit { rung.withLock { $0 += 1 } }
                return try await transaction.scheduling.insert(Self.slot(doctor: 1, at: 1000))
            }
            #expect(try await storage.read { try await $0.scheduling.listing(slot: id) }?.doctorName == "Dr D")
            #expect(rung.withLock { $0 } == 1)
        }
    }

    /// A statement that fails inside a body reaches the body as an error, and the body's transaction
    /// then fails as a whole: nothing it wrote is kept. (SQLite would let a body carry on past the
    /// failed statement; PostgreSQL fails every later one, so no body relies on carrying on.)
    @Test(arguments: Engine.available) func aFailedStatementReachesTheBodyAndNothingIsKept(_ engine: Engine) async throws {
        try await engine.run { storage, count in
            await #expect(throws: (any Error).self) {
                try await storage.write { transaction in
                    _ = try await transaction.scheduling.insert(Self.slot(doctor: 1, at: 5000))
                    // No doctor 99: the foreign key refuses the row.
                    do {
                        _ = try await transaction.scheduling.insert(Self.slot(doctor: 99, at: 1000))
                    } catch {
                        throw Refused()
                    }
                    Issue.record("a row that breaks a foreign key was stored")
                }
            }
            let slots = try await count("slot")
            #expect(slots == 0)
        }
    }

    /// Forty writers each read a counter and write it back one higher, with a suspension between: had
    /// two bodies interleaved, an increment would be lost. On PostgreSQL they do run side by side and
    /// the storage runs again each body that lost its race (a serialization failure).
    @Test(arguments: Engine.available) func writeBodiesDoNotInterleave(_ engine: Engine) async throws {
        try await engine.run { storage, _ in
            let id = try await storage.write { try await $0.scheduling.insert(Self.slot(doctor: 1, at: 0)) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<40 {
                    group.addTask {
                        try await storage.write { transaction in
                            var slot = try await transaction.scheduling.listing(slot: id)!.slot
                            await Task.yield()
                            slot.reason = String((Int(slot.reason ?? "0") ?? 0) + 1)
                            try await transaction.scheduling.update(slot)
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await storage.read { try await $0.scheduling.listing(slot: id) }?.slot.reason == "40")
        }
    }

    /// Two instances' mail queues claiming at once never get the same message, and a claim hides a
    /// message until it runs out (then another sends it: at least once).
    @Test(arguments: Engine.available) func mailClaimsAreExclusiveUntilTheyRunOut(_ engine: Engine) async throws {
        try await engine.run { storage, _ in
            try await storage.write { transaction in
                for number in 0..<30 {
                    try await transaction.mail.enqueue(
                        QueuedMessage(
                            kind: "notice", userId: 1, toName: "Dr D", toAddress: "d@example.org", subject: "\(number)", body: "b",
                            createdAt: 100, auditEntryId: nil))
                }
            }
            let claims = try await withThrowingTaskGroup(of: [String].self) { group in
                for _ in 0..<6 {
                    group.addTask {
                        try await storage.write { try await $0.mail.claimDue(at: 100, limit: 10, until: 1000) }.map(\.mail.subject)
                    }
                }
                return try await group.reduce(into: [[String]]()) { $0.append($1) }
            }
            let claimed = claims.flatMap { $0 }
            #expect(claimed.count == 30 && Set(claimed).count == 30, "every message claimed once: \(claims)")
            #expect(try await storage.write { try await $0.mail.claimDue(at: 999, limit: 10, until: 2000) }.isEmpty)
            #expect(try await storage.write { try await $0.mail.claimDue(at: 1000, limit: 50, until: 2000) }.count == 30)
        }
    }

    /// Reads run beside a write that holds its transaction open (SQLite's file in WAL mode, PostgreSQL),
    /// and see the state before it.
    @Test(arguments: Engine.available.filter { $0 != .sqliteMemory })
    func aReadSeesTheSnapshotBeforeAnOpenWrite(_ engine: Engine) async throws {
        try await engine.run { storage, _ in
            let inserted = AsyncStream<Void>.makeStream()
            let release = AsyncStream<Void>.makeStream()
            async let writer: Int64 = storage.write { transaction in
                let id = try await transaction.scheduling.insert(Self.slot(doctor: 1, at: 0))
                inserted.continuation.yield()
                for await _ in release.stream { break }
                return id
            }
            for await _ in inserted.stream { break }
            let seen = try await storage.read {
                try await $0.scheduling.slots(for: Identity(userId: 1, role: .doctor, name: ""), limit: 10)
            }
            #expect(seen.isEmpty)
            release.continuation.yield()
            let id = try await writer
            #expect(try await storage.read { try await $0.scheduling.listing(slot: id) } != nil)
        }
    }

    /// A connection that cannot be had (the database is closed) fails the body's first statement.
    @Test func aConnectionThatCannotBeHadFailsTheBody() async throws {
        let database = try DatabaseQueue()
        try database.close()
        await #expect(throws: (any Error).self) {
            try await SQLiteTransaction.run(database, write: true) { transaction in
                try await transaction.run { db in try Int.fetchOne(db, sql: "SELECT 1") }
            }
        }
    }
}
