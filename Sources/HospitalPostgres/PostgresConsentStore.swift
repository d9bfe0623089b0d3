import Foundation
import HospitalCore
import PostgresNIO

struct PostgresConsentStore: ConsentStore {
    let connection: PostgresTransaction

    func request(id: Int64) async throws -> AccessRequest? {
        try await connection.record(AccessRequest.self, "SELECT * FROM access_requests WHERE id = \(id)")
    }

    func requestListing(id: Int64) async throws -> AccessRequestListing? {
        try await listings(AccessRequest.self, "\(unescaped: Self.select("access_requests")) WHERE access_requests.id = \(id)").first
    }

    func requestListings(of party: Party, status: AccessRequestStatus?, limit: Int) async throws -> [AccessRequestListing] {
        let (column, id) = Self.column(party, table: "access_requests")
        return try await listings(
            AccessRequest.self,
            """
            \(unescaped: Self.select("access_requests")) WHERE \(unescaped: column) = \(id)
            AND (\(status?.rawValue)::text IS NULL OR access_requests.status = \(status?.rawValue))
            ORDER BY access_requests.id DESC LIMIT \(limit)
            """)
    }

    func requestCount(reportId: Int64, doctorId: Int64, after time: Int64) async throws -> Int {
        try await connection.value(
            Int.self,
            "SELECT count(*) FROM access_requests WHERE report_id = \(reportId) AND doctor_id = \(doctorId) AND created_at > \(time)"
        ) ?? 0
    }

    func consentCounts(patientId: Int64, at time: Int64) async throws -> ConsentCounts {
        let rows = try await connection.rows(
            """
            SELECT (SELECT count(*) FROM access_requests JOIN reports ON reports.id = access_requests.report_id
                    WHERE reports.patient_id = \(patientId) AND access_requests.status = 'pending' AND access_requests.expires_at > \(time)),
                   (SELECT count(*) FROM grants JOIN reports ON reports.id = grants.report_id
                    WHERE reports.patient_id = \(patientId) AND grants.revoked_at IS NULL AND grants.expires_at > \(time))
            """)
        let (pending, active) = try rows.first?.decode((Int, Int).self) ?? (0, 0)
        return ConsentCounts(pendingRequests: pending, activeGrants: active)
    }

    func pendingRequestIds(at time: Int64) async throws -> [Int64] {
        try await connection.values(Int64.self, "SELECT id FROM access_requests WHERE status = 'pending' AND expires_at > \(time)")
    }

    func insert(_ request: AccessRequest) async throws -> Int64 {
        try await connection.insert(into: "access_requests", request)
    }

    func update(_ request: AccessRequest) async throws {
        guard let id = request.id else { return }
        try await connection.execute(
            """
            UPDATE access_requests SET report_id = \(request.reportId), doctor_id = \(request.doctorId), code_mac = \(request.codeMAC),
            status = \(request.status.rawValue), attempts = \(request.attempts), created_at = \(request.createdAt),
            expires_at = \(request.expiresAt), decided_at = \(request.decidedAt) WHERE id = \(id)
            """)
    }

    func voidPendingRequests(reportId: Int64, doctorId: Int64, at time: Int64) async throws {
        try await connection.execute(
            """
            UPDATE access_requests SET status = 'void', decided_at = \(time)
            WHERE report_id = \(reportId) AND doctor_id = \(doctorId) AND status = 'pending'
            """)
    }

    func grantListing(id: Int64) async throws -> GrantListing? {
        try await listings(Grant.self, "\(unescaped: Self.select("grants")) WHERE grants.id = \(id)").first
    }

    func grantListings(of party: Party, limit: Int) async throws -> [GrantListing] {
        let (column, id) = Self.column(party, table: "grants")
        return try await listings(
            Grant.self, "\(unescaped: Self.select("grants")) WHERE \(unescaped: column) = \(id) ORDER BY grants.id DESC LIMIT \(limit)")
    }

    func hasGrant(reportId: Int64, doctorId: Int64, at time: Int64) async throws -> Bool {
        try await connection.value(
            Bool.self,
            """
            SELECT EXISTS (SELECT 1 FROM grants WHERE report_id = \(reportId) AND doctor_id = \(doctorId)
            AND revoked_at IS NULL AND expires_at > \(time))
            """) ?? false
    }

    func insert(_ grant: Grant) async throws -> Int64 {
        try await connection.insert(into: "grants", grant)
    }

    func revoke(grant id: Int64, at time: Int64) async throws {
        try await connection.execute("UPDATE grants SET revoked_at = \(time) WHERE id = \(id)")
    }

    /// The column a party's list filters on, and the party's id.
    static func column(_ party: Party, table: String) -> (String, Int64) {
        switch party {
        case .patient(let id): ("reports.patient_id", id)
        case .doctor(let id): ("\(table).doctor_id", id)
        }
    }

    /// Requests and grants with their report's title and patient and the doctor (both tables have
    /// `report_id` and `doctor_id`).
    static func select(_ table: String) -> String {
        """
        SELECT \(table).*, reports.title AS report_title, reports.patient_id AS listing_patient_id, doctor.name AS doctor_name,
        doctor.specialization AS doctor_specialization, patient.name AS patient_name
        FROM \(table) JOIN reports ON reports.id = \(table).report_id JOIN users AS doctor ON doctor.id = \(table).doctor_id
        JOIN users AS patient ON patient.id = reports.patient_id
        """
    }

    func listings<Record: Decodable & Sendable & Equatable>(_ type: Record.Type, _ query: PostgresQuery) async throws
        -> [ConsentListing<Record>]
    {
        try await connection.rows(query).map { row in
            let names = row.makeRandomAccess()
            return ConsentListing(
                record: try PostgresRowDecoder.decode(Record.self, from: row), reportTitle: try names["report_title"].decode(String.self),
                patientId: try names["listing_patient_id"].decode(Int64.self), doctorName: try names["doctor_name"].decode(String.self),
                doctorSpecialization: try names["doctor_specialization"].decode(String?.self),
                patientName: try names["patient_name"].decode(String.self))
        }
    }
}

struct PostgresEmergencyStore: EmergencyStore {
    let connection: PostgresTransaction

    func listing(id: Int64) async throws -> EmergencyAccess.Listing? {
        try await listings("\(unescaped: Self.select) WHERE emergency_accesses.id = \(id)").first
    }

    func listings(of party: Party?, unreviewed: Bool, limit: Int) async throws -> [EmergencyAccess.Listing] {
        var doctor: Int64?
        var patient: Int64?
        switch party {
        case nil: break
        case .doctor(let id): doctor = id
        case .patient(let id): patient = id
        }
        return try await listings(
            """
            \(unescaped: Self.select) WHERE (NOT \(unreviewed) OR emergency_accesses.reviewed_at IS NULL)
            AND (\(doctor)::bigint IS NULL OR emergency_accesses.doctor_id = \(doctor))
            AND (\(patient)::bigint IS NULL OR emergency_accesses.patient_id = \(patient))
            ORDER BY emergency_accesses.id DESC LIMIT \(limit)
            """)
    }

    func hasAccess(reportId: Int64, doctorId: Int64, at time: Int64) async throws -> Bool {
        try await connection.value(
            Bool.self,
            """
            SELECT EXISTS (SELECT 1 FROM emergency_accesses WHERE report_id = \(reportId) AND doctor_id = \(doctorId)
            AND expires_at > \(time))
            """) ?? false
    }

    func insert(_ record: EmergencyAccess.Record) async throws -> Int64 {
        try await connection.insert(into: "emergency_accesses", record)
    }

    func markReviewed(id: Int64, by reviewerId: Int64, at time: Int64) async throws {
        try await connection.execute(
            "UPDATE emergency_accesses SET reviewed_at = \(time), reviewer_id = \(reviewerId) WHERE id = \(id)")
    }

    static let select = """
        SELECT emergency_accesses.*, reports.title AS report_title, doctor.name AS doctor_name, patient.name AS patient_name,
        reviewer.name AS reviewer_name FROM emergency_accesses JOIN reports ON reports.id = emergency_accesses.report_id
        JOIN users AS doctor ON doctor.id = emergency_accesses.doctor_id JOIN users AS patient ON patient.id = emergency_accesses.patient_id
        LEFT JOIN users AS reviewer ON reviewer.id = emergency_accesses.reviewer_id
        """

    func listings(_ query: PostgresQuery) async throws -> [EmergencyAccess.Listing] {
        try await connection.rows(query).map { row in
            let names = row.makeRandomAccess()
            return EmergencyAccess.Listing(
                record: try PostgresRowDecoder.decode(EmergencyAccess.Record.self, from: row),
                reportTitle: try names["report_title"].decode(String.self), doctorName: try names["doctor_name"].decode(String.self),
                patientName: try names["patient_name"].decode(String.self), reviewerName: try names["reviewer_name"].decode(String?.self))
        }
    }
}
