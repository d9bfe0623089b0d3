package import GRDB
import HospitalCore

struct SQLiteReportStore: ReportStore {
    let connection: SQLiteTransaction

    func report(id: Int64) async throws -> Report? {
        try await connection.run { db in try Report.fetchOne(db, key: id) }
    }

    func listing(report id: Int64) async throws -> ReportListing? {
        try await connection.run { db in try ReportListing.fetchOne(db, sql: Self.select + " WHERE report.id = ?", arguments: [id]) }
    }

    // Statements cached: pages list reports on every load.
    func listings(patientId: Int64, limit: Int) async throws -> [ReportListing] {
        try await connection.run { db in
            try ReportListing.fetchAll(
                db,
                SQLRequest(
                    sql: Self.select + " WHERE report.patientId = ? ORDER BY report.id DESC LIMIT ?", arguments: [patientId, limit],
                    cached: true))
        }
    }

    func listings(readableByDoctor doctorId: Int64, at time: Int64, limit: Int) async throws -> [ReportListing] {
        try await connection.run { db in
            try ReportListing.fetchAll(
                db,
                SQLRequest(
                    sql: Self.select + """
                          WHERE report.doctorId = ? OR report.id IN
                        (SELECT reportId FROM "grant" WHERE doctorId = ? AND revokedAt IS NULL AND expiresAt > ?)
                        OR report.id IN (SELECT reportId FROM emergencyAccess WHERE doctorId = ? AND expiresAt > ?)
                        ORDER BY report.id DESC LIMIT ?
                        """, arguments: [doctorId, doctorId, time, doctorId, time, limit], cached: true))
        }
    }

    func listings(requestableByDoctor doctorId: Int64, patientId: Int64?, limit: Int) async throws -> [ReportListing] {
        try await connection.run { db in
            try ReportListing.fetchAll(
                db,
                sql: Self.select + """
                     WHERE report.doctorId != ? AND report.patientId IN
                    (SELECT patientId FROM slot WHERE doctorId = ? AND status IN ('booked', 'completed'))
                    AND (? IS NULL OR report.patientId = ?)
                    ORDER BY patient.name, report.id DESC LIMIT ?
                    """, arguments: [doctorId, doctorId, patientId, patientId, limit])
        }
    }

    func reports(patientId: Int64) async throws -> [Report] {
        try await connection.run { db in
            try Report.fetchAll(db, sql: "SELECT * FROM report WHERE patientId = ? ORDER BY id", arguments: [patientId])
        }
    }

    func heads() async throws -> [(id: Int64, head: String)] {
        try await connection.run { db in
            try Row.fetchAll(db, sql: "SELECT id, head FROM report ORDER BY id").map { (id: $0["id"], head: $0["head"]) }
        }
    }

    func heads(lastVerifiedAtOrBefore time: Int64, limit: Int) async throws -> [(id: Int64, head: String)] {
        try await connection.run { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT id, head FROM report WHERE max(coalesce(verifiedAt, 0), coalesce(damagedAt, 0)) <= ?
                    ORDER BY max(coalesce(verifiedAt, 0), coalesce(damagedAt, 0)), id LIMIT ?
                    """, arguments: [time, limit]
            ).map { (id: $0["id"], head: $0["head"]) }
        }
    }

    func insert(_ report: Report) async throws -> Int64 {
        try await connection.run { db in
            var report = report
            try report.insert(db)
            return report.id!
        }
    }

    func recordVerification(head: String, intact: Bool, at time: Int64) async throws {
        try await connection.run { db in
            if intact {
                try db.execute(sql: "UPDATE report SET verifiedAt = ?, damagedAt = NULL WHERE head = ?", arguments: [time, head])
            } else {
                try db.execute(sql: "UPDATE report SET damagedAt = ? WHERE head = ?", arguments: [time, head])
            }
        }
    }

    static let select = """
        SELECT report.*, patient.name AS patientName, doctor.name AS doctorName FROM report
        JOIN user AS patient ON patient.id = report.patientId JOIN user AS doctor ON doctor.id = report.doctorId
        """
}

extension ReportListing: FetchableRecord {
    package init(row: Row) throws {
        self.init(report: try Report(row: row), patientName: row["patientName"], doctorName: row["doctorName"])
    }
}
