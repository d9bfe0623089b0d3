import GRDB
package import HospitalCore

/// ``HospitalStorage`` on the embedded SQLite database (``HospitalDatabase``).
package struct SQLiteHospitalStorage: HospitalStorage {
    package let database: HospitalDatabase

    package init(_ database: HospitalDatabase) { self.database = database }

    package func read<T: Sendable>(_ body: @escaping @Sendable (HospitalTransaction) async throws -> T) async throws -> T {
        try await SQLiteTransaction.run(database.writer, write: false) { connection in
            try await body(Self.transaction(connection))
        }
    }

    @discardableResult
    package func write<T: Sendable>(_ body: @escaping @Sendable (HospitalTransaction) async throws -> T) async throws -> T {
        let (result, transaction) = try await SQLiteTransaction.run(database.writer, write: true) { connection in
            let transaction = Self.transaction(connection)
            return (try await body(transaction), transaction)
        }
        transaction.committed()
        return result
    }

    static func transaction(_ connection: SQLiteTransaction) -> HospitalTransaction {
        HospitalTransaction(
            accounts: SQLiteAccountStore(connection: connection), sessions: SQLiteSessionStore(connection: connection),
            scheduling: SQLiteSchedulingStore(connection: connection),
            mail: SQLiteMailStore(connection: connection), ledger: SQLiteLedgerStore(connection: connection),
            reports: SQLiteReportStore(connection: connection), consent: SQLiteConsentStore(connection: connection),
            emergency: SQLiteEmergencyStore(connection: connection))
    }
}

struct SQLiteMailStore: MailStore {
    let connection: SQLiteTransaction

    func enqueue(_ message: QueuedMessage) async throws {
        try await connection.run { db in try Self.enqueue(message, in: db) }
    }

    func claimDue(at time: Int64, limit: Int, until: Int64) async throws -> [QueuedMail] {
        try await connection.run { db in
            let due = try QueuedMail.fetchAll(
                db, sql: "SELECT * FROM mailQueue WHERE nextAttemptAt <= ? ORDER BY nextAttemptAt, id LIMIT ?", arguments: [time, limit])
            try db.execute(
                sql: """
                    UPDATE mailQueue SET nextAttemptAt = ? WHERE id IN
                    (SELECT id FROM mailQueue WHERE nextAttemptAt <= ? ORDER BY nextAttemptAt, id LIMIT ?)
                    """, arguments: [until, time, limit])
            return due
        }
    }

    func delete(message id: Int64) async throws {
        try await connection.run { db in try db.execute(sql: "DELETE FROM mailQueue WHERE id = ?", arguments: [id]) }
    }

    func reschedule(message id: Int64, attempts: Int, nextAttemptAt: Int64) async throws {
        try await connection.run { db in
            try db.execute(
                sql: "UPDATE mailQueue SET attempts = ?, nextAttemptAt = ? WHERE id = ?", arguments: [attempts, nextAttemptAt, id])
        }
    }

    static func enqueue(_ message: QueuedMessage, in db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO mailQueue (kind, userId, toName, toAddress, subject, body, createdAt, attempts, nextAttemptAt, auditEntryId)
                VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)
                """,
            arguments: [
                message.kind, message.userId, message.toName, message.toAddress, message.subject, message.body, message.createdAt,
                message.createdAt, message.auditEntryId,
            ])
    }
}
