import Foundation
import HospitalCore
import PostgresNIO

struct PostgresReportStore: ReportStore {
    let connection: PostgresTransaction

    func report(id: Int64) async throws -> Report? {
        try await connection.record(Report.self, "SELECT * FROM reports WHERE id = \(id)")
    }

    func listing(report id: Int64) async throws -> ReportListing? {
        try await listings("\(unescaped: Self.select) WHERE reports.id = \(id)").first
    }

    func listings(patientId: Int64, limit: Int) async throws -> [ReportListing] {
        try await listings("\(unescaped: Self.select) WHERE reports.patient_id = \(patientId) ORDER BY reports.id DESC LIMIT \(limit)")
    }

    func listings(readableByDoctor doctorId: Int64, at time: Int64, limit: Int) async throws -> [ReportListing] {
        try await listings(
            """
            \(unescaped: Self.select) WHERE reports.doctor_id = \(doctorId)
            OR reports.id IN (SELECT report_id FROM grants WHERE doctor_id = \(doctorId) AND revoked_at IS NULL AND expires_at > \(time))
            OR reports.id IN (SELECT report_id FROM emergency_accesses WHERE doctor_id = \(doctorId) AND expires_at > \(time))
            ORDER BY reports.id DESC LIMIT \(limit)
            """)
    }

    func listings(requestableByDoctor doctorId: Int64, patientId: Int64?, limit: Int) async throws -> [ReportListing] {
        try await listings(
            """
            \(unescaped: Self.select) WHERE reports.doctor_id != \(doctorId) AND reports.patient_id IN
            (SELECT patient_id FROM slots WHERE doctor_id = \(doctorId) AND status IN ('booked', 'completed'))
            AND (\(patientId)::bigint IS NULL OR reports.patient_id = \(patientId))
            ORDER BY patient.name, reports.id DESC LIMIT \(limit)
            """)
    }

    func reports(patientId: Int64) async throws -> [Report] {
        try await connection.records(Report.self, "SELECT * FROM reports WHERE patient_id = \(patientId) ORDER BY id")
    }

    func heads() async throws -> [(id: Int64, head: String)] {
        try await connection.rows("SELECT id, head FROM reports ORDER BY id").map { row in
            let (id, head) = try row.decode((Int64, String).self)
            return (id: id, head: head)
        }
    }

    func heads(lastVerifiedAtOrBefore time: Int64, limit: Int) async throws -> [(id: Int64, head: String)] {
        try await connection.rows(
            """
            SELECT id, head FROM reports WHERE greatest(coalesce(verified_at, 0), coalesce(damaged_at, 0)) <= \(time)
            ORDER BY greatest(coalesce(verified_at, 0), coalesce(damaged_at, 0)), id LIMIT \(limit)
            """
        ).map { row in
            let (id, head) = try row.decode((Int64, String).self)
            return (id: id, head: head)
        }
    }

    func insert(_ report: Report) async throws -> Int64 {
        try await connection.insert(into: "reports", report)
    }

    func recordVerification(head: String, intact: Bool, at time: Int64) async throws {
        if intact {
            try await connection.execute("UPDATE reports SET verified_at = \(time), damaged_at = NULL WHERE head = \(head)")
        } else {
            try await connection.execute("UPDATE reports SET damaged_at = \(time) WHERE head = \(head)")
        }
    }

    static let select = """
        SELECT reports.*, patient.name AS patient_name, doctor.name AS doctor_name FROM reports
        JOIN users AS patient ON patient.id = reports.patient_id JOIN users AS doctor ON doctor.id = reports.doctor_id
        """

    func listings(_ query: PostgresQuery) async throws -> [ReportListing] {
        try await connection.rows(query).map { row in
            let names = row.makeRandomAccess()
            return ReportListing(
                report: try PostgresRowDecoder.decode(Report.self, from: row), patientName: try names["patient_name"].decode(String.self),
                doctorName: try names["doctor_name"].decode(String.self))
        }
    }
}

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
