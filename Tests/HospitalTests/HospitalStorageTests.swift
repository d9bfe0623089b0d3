import Foundation
import GRDB
import Synchronization
import TestSupport
import Testing

@testable import HospitalCore
@testable import HospitalSQLite

/// What ``HospitalStorage`` promises the services, on the SQLite storage: a body's changes commit
/// together or not at all, commit hooks run only after a commit, writers do not interleave, and a
/// connection that cannot be had fails the body rather than stalling it.
@Suite struct HospitalStorageTests {
    static func slot(doctor: Int64, at start: Int64) -> Slot {
        Slot(doctorId: doctor, startsAt: start, durationMinutes: 30, status: .open, createdAt: 0)
    }

    /// A storage with one doctor (id 1).
    static func storage(file: Bool = false) async throws -> (SQLiteHospitalStorage, HospitalDatabase) {
        let database =
            file
            ? try HospitalDatabase.open(path: temporaryPath("storage") + ".sqlite") : try HospitalDatabase.inMemory()
        try await database.writer.write { db in
            try db.execute(
                sql: "INSERT INTO user (role, email, name, passwordHash, createdAt) VALUES ('doctor', 'd@example.org', 'Dr D', 'x', 0)")
        }
        return (SQLiteHospitalStorage(database), database)
    }

    struct Refused: Error {}

    @Test func aBodyThatThrowsLeavesNothingAndRingsNothing() async throws {
        let (storage, database) = try await Self.storage()
        let rung = Mutex(0)
        await #expect(throws: Refused.self) {
            try await storage.write { transaction in
                _ = try await transaction.scheduling.insert(Self.slot(doctor: 1, at: 1000))
                try await AuditLedger.append(.init(actor: 1, .login, subject: "user:1"), time: 1, in: transaction)
                transaction.afterCommit { rung.withLock { $0 += 1 } }
                throw Refused()
            }
        }
        #expect(try await database.writer.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM slot") } == 0)
        #expect(try await database.writer.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM audit") } == 0)
        #expect(rung.withLock { $0 } == 0)
        let id = try await storage.write { transaction in
            transaction.afterCommit { rung.withLock { $0 += 1 } }
            return try await transaction.scheduling.insert(Self.slot(doctor: 1, at: 1000))
        }
        #expect(try await storage.read { try await $0.scheduling.listing(slot: id) }?.doctorName == "Dr D")
        #expect(rung.withLock { $0 } == 1)
    }

    /// A statement that fails inside a body reaches the body as an error; a body that carries on
    /// past it commits what it did.
    @Test func aFailedStatementIsTheBodysToHandle() async throws {
        let (storage, _) = try await Self.storage()
        let id = try await storage.write { transaction in
            // No doctor 99: the foreign key refuses the row.
            await #expect(throws: DatabaseError.self) { try await transaction.scheduling.insert(Self.slot(doctor: 99, at: 1000)) }
            return try await transaction.scheduling.insert(Self.slot(doctor: 1, at: 5000))
        }
        #expect(
            try await storage.read { try await $0.scheduling.slots(for: Identity(userId: 1, role: .doctor, name: ""), limit: 10) }
                .map(\.slot.id) == [id])
    }

    /// Forty writers each read a counter and write it back one higher, with a suspension between: had
    /// two bodies interleaved, an increment would be lost.
    @Test func writeBodiesDoNotInterleave() async throws {
        for file in [false, true] {
            let (storage, _) = try await Self.storage(file: file)
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
            #expect(try await storage.read { try await $0.scheduling.listing(slot: id) }?.slot.reason == "40", "file: \(file)")
        }
    }

    /// Reads run beside a write that holds its transaction open (a database file in WAL mode), and see
    /// the state before it.
    @Test func aReadSeesTheSnapshotBeforeAnOpenWrite() async throws {
        let (storage, _) = try await Self.storage(file: true)
        let inserted = AsyncStream<Void>.makeStream()
        let release = AsyncStream<Void>.makeStream()
        async let writer: Int64 = storage.write { transaction in
            let id = try await transaction.scheduling.insert(Self.slot(doctor: 1, at: 0))
            inserted.continuation.yield()
            for await _ in release.stream { break }
            return id
        }
        for await _ in inserted.stream { break }
        let seen = try await storage.read { try await $0.scheduling.slots(for: Identity(userId: 1, role: .doctor, name: ""), limit: 10) }
        #expect(seen.isEmpty)
        release.continuation.yield()
        let id = try await writer
        #expect(try await storage.read { try await $0.scheduling.listing(slot: id) } != nil)
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
