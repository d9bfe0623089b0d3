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
