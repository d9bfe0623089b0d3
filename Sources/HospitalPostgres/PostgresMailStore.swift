import Foundation
import HospitalCore
import PostgresNIO

struct PostgresMailStore: MailStore {
    let connection: PostgresTransaction

    func enqueue(_ message: QueuedMessage) async throws {
        try await connection.execute(
            """
            INSERT INTO mail_queue (kind, user_id, to_name, to_address, subject, body, created_at, attempts, next_attempt_at, audit_entry_id)
            VALUES (\(message.kind), \(message.userId), \(message.toName), \(message.toAddress), \(message.subject), \(message.body),
            \(message.createdAt), 0, \(message.createdAt), \(message.auditEntryId))
            """)
    }

    func claimDue(at time: Int64, limit: Int, until: Int64) async throws -> [QueuedMail] {
        // The claim's own row lock as well as the writers' lock: SKIP LOCKED passes over rows another
        // transaction holds, so a claim never waits for one.
        try await connection.records(
            QueuedMail.self,
            """
            WITH due AS (
                SELECT id, next_attempt_at FROM mail_queue WHERE next_attempt_at <= \(time)
                ORDER BY next_attempt_at, id LIMIT \(limit) FOR UPDATE SKIP LOCKED),
            claimed AS (
                UPDATE mail_queue SET next_attempt_at = \(until) FROM due WHERE mail_queue.id = due.id
                RETURNING mail_queue.id, mail_queue.kind, mail_queue.user_id, mail_queue.to_name, mail_queue.to_address,
                mail_queue.subject, mail_queue.body, mail_queue.created_at, mail_queue.attempts, due.next_attempt_at,
                mail_queue.audit_entry_id)
            SELECT * FROM claimed ORDER BY next_attempt_at, id
            """)
    }

    func delete(message id: Int64) async throws {
        try await connection.execute("DELETE FROM mail_queue WHERE id = \(id)")
    }

    func reschedule(message id: Int64, attempts: Int, nextAttemptAt: Int64) async throws {
        try await connection.execute("UPDATE mail_queue SET attempts = \(attempts), next_attempt_at = \(nextAttemptAt) WHERE id = \(id)")
    }
}
