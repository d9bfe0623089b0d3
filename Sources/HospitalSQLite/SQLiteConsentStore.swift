package import GRDB
import HospitalCore

struct SQLiteConsentStore: ConsentStore {
    let connection: SQLiteTransaction

    func request(id: Int64) async throws -> AccessRequest? {
        try await connection.run { db in try AccessRequest.fetchOne(db, key: id) }
    }

    func requestListing(id: Int64) async throws -> AccessRequestListing? {
        try await connection.run { db in
            try AccessRequestListing.fetchOne(db, sql: Self.select("accessRequest") + " WHERE \"accessRequest\".id = ?", arguments: [id])
        }
    }

    func requestListings(of party: Party, status: AccessRequestStatus?, limit: Int) async throws -> [AccessRequestListing] {
        let (column, id) = Self.column(party, table: "accessRequest")
        return try await connection.run { db in
            try AccessRequestListing.fetchAll(
                db,
                sql: Self.select("accessRequest") + " WHERE \(column) = ? AND (? IS NULL OR \"accessRequest\".status = ?)"
                    + " ORDER BY \"accessRequest\".id DESC LIMIT ?",
                arguments: [id, status?.rawValue, status?.rawValue, limit])
        }
    }

    func requestCount(reportId: Int64, doctorId: Int64, after time: Int64) async throws -> Int {
        try await connection.run { db in
            try Int.fetchOne(
                db, sql: "SELECT count(*) FROM accessRequest WHERE reportId = ? AND doctorId = ? AND createdAt > ?",
                arguments: [reportId, doctorId, time]) ?? 0
        }
    }

    func consentCounts(patientId: Int64, at time: Int64) async throws -> ConsentCounts {
        try await connection.run { db in
            let row = try Row.fetchOne(
                db,
                SQLRequest(
                    sql: """
                        SELECT (SELECT count(*) FROM "accessRequest" JOIN report ON report.id = "accessRequest".reportId
                                WHERE report.patientId = ? AND "accessRequest".status = 'pending' AND "accessRequest".expiresAt > ?),
                               (SELECT count(*) FROM "grant" JOIN report ON report.id = "grant".reportId
                                WHERE report.patientId = ? AND "grant".revokedAt IS NULL AND "grant".expiresAt > ?)
                        """, arguments: [patientId, time, patientId, time], cached: true))
            return ConsentCounts(pendingRequests: row?[0] ?? 0, activeGrants: row?[1] ?? 0)
        }
    }

    func pendingRequestIds(at time: Int64) async throws -> [Int64] {
        try await connection.run { db in
            try Int64.fetchAll(db, sql: "SELECT id FROM accessRequest WHERE status = 'pending' AND expiresAt > ?", arguments: [time])
        }
    }

    func insert(_ request: AccessRequest) async throws -> Int64 {
        try await connection.run { db in
            var request = request
            try request.insert(db)
            return request.id!
        }
    }

    func update(_ request: AccessRequest) async throws {
        try await connection.run { db in try request.update(db) }
    }

    func voidPendingRequests(reportId: Int64, doctorId: Int64, at time: Int64) async throws {
        try await connection.run { db in
            try db.execute(
                sql: "UPDATE accessRequest SET status = 'void', decidedAt = ? WHERE reportId = ? AND doctorId = ? AND status = 'pending'",
                arguments: [time, reportId, doctorId])
        }
    }

    func grantListing(id: Int64) async throws -> GrantListing? {
        try await connection.run { db in
            try GrantListing.fetchOne(db, sql: Self.select("grant") + " WHERE \"grant\".id = ?", arguments: [id])
        }
    }

    func grantListings(of party: Party, limit: Int) async throws -> [GrantListing] {
        let (column, id) = Self.column(party, table: "grant")
        return try await connection.run { db in
            try GrantListing.fetchAll(
                db, sql: Self.select("grant") + " WHERE \(column) = ? ORDER BY \"grant\".id DESC LIMIT ?", arguments: [id, limit])
        }
    }

    func hasGrant(reportId: Int64, doctorId: Int64, at time: Int64) async throws -> Bool {
        try await connection.run { db in
            try Bool.fetchOne(
                db,
                sql: """
                    SELECT EXISTS (SELECT 1 FROM "grant" WHERE reportId = ? AND doctorId = ? AND revokedAt IS NULL AND expiresAt > ?)
                    """, arguments: [reportId, doctorId, time]) ?? false
        }
    }

    func insert(_ grant: Grant) async throws -> Int64 {
        try await connection.run { db in
            var grant = grant
            try grant.insert(db)
            return grant.id!
        }
    }

    func revoke(grant id: Int64, at time: Int64) async throws {
        try await connection.run { db in
            try db.execute(sql: "UPDATE \"grant\" SET revokedAt = ? WHERE id = ?", arguments: [time, id])
        }
    }

    /// The column a party's list filters on, and the party's id.
    static func column(_ party: Party, table: String) -> (String, Int64) {
        switch party {
        case .patient(let id): ("report.patientId", id)
        case .doctor(let id): ("\"\(table)\".doctorId", id)
        }
    }

    /// Requests and grants with their report's title and patient and the doctor (both tables have
    /// `reportId` and `doctorId`).
    static func select(_ table: String) -> String {
        """
        SELECT "\(table)".*, report.title AS reportTitle, report.patientId AS patientId, doctor.name AS doctorName,
        doctor.specialization AS doctorSpecialization, patient.name AS patientName
        FROM "\(table)" JOIN report ON report.id = "\(table)".reportId JOIN user AS doctor ON doctor.id = "\(table)".doctorId
        JOIN user AS patient ON patient.id = report.patientId
        """
    }
}

extension ConsentListing: FetchableRecord where Record: FetchableRecord {
    init(row: Row) throws {
        self.init(
            record: try Record(row: row), reportTitle: row["reportTitle"], patientId: row["patientId"], doctorName: row["doctorName"],
            doctorSpecialization: row["doctorSpecialization"], patientName: row["patientName"])
    }
}

struct SQLiteEmergencyStore: EmergencyStore {
    let connection: SQLiteTransaction

    func listing(id: Int64) async throws -> EmergencyAccess.Listing? {
        try await connection.run { db in
            try EmergencyAccess.Listing.fetchOne(db, sql: Self.select + " WHERE emergencyAccess.id = ?", arguments: [id])
        }
    }

    func listings(of party: Party?, unreviewed: Bool, limit: Int) async throws -> [EmergencyAccess.Listing] {
        var conditions = unreviewed ? ["emergencyAccess.reviewedAt IS NULL"] : []
        var arguments: [Int64] = []
        switch party {
        case nil: break
        case .doctor(let id):
            conditions.append("emergencyAccess.doctorId = ?")
            arguments.append(id)
        case .patient(let id):
            conditions.append("emergencyAccess.patientId = ?")
            arguments.append(id)
        }
        let filter = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        return try await connection.run { [arguments] db in
            try EmergencyAccess.Listing.fetchAll(
                db, sql: Self.select + filter + " ORDER BY emergencyAccess.id DESC LIMIT ?",
                arguments: StatementArguments(arguments + [Int64(limit)]))
        }
    }

    func hasAccess(reportId: Int64, doctorId: Int64, at time: Int64) async throws -> Bool {
        try await connection.run { db in
            try Bool.fetchOne(
                db, sql: "SELECT EXISTS (SELECT 1 FROM emergencyAccess WHERE reportId = ? AND doctorId = ? AND expiresAt > ?)",
                arguments: [reportId, doctorId, time]) ?? false
        }
    }

    func insert(_ record: EmergencyAccess.Record) async throws -> Int64 {
        try await connection.run { db in
            var record = record
            try record.insert(db)
            return record.id!
        }
    }

    func markReviewed(id: Int64, by reviewerId: Int64, at time: Int64) async throws {
        try await connection.run { db in
            try db.execute(
                sql: "UPDATE emergencyAccess SET reviewedAt = ?, reviewerId = ? WHERE id = ?", arguments: [time, reviewerId, id])
        }
    }

    static let select = """
        SELECT emergencyAccess.*, report.title AS reportTitle, doctor.name AS doctorName, patient.name AS patientName,
        reviewer.name AS reviewerName FROM emergencyAccess JOIN report ON report.id = emergencyAccess.reportId
        JOIN user AS doctor ON doctor.id = emergencyAccess.doctorId JOIN user AS patient ON patient.id = emergencyAccess.patientId
        LEFT JOIN user AS reviewer ON reviewer.id = emergencyAccess.reviewerId
        """
}

extension EmergencyAccess.Listing: FetchableRecord {
    package init(row: Row) throws {
        self.init(
            record: try EmergencyAccess.Record(row: row), reportTitle: row["reportTitle"], doctorName: row["doctorName"],
            patientName: row["patientName"], reviewerName: row["reviewerName"])
    }
}
