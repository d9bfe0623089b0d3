import Foundation
import HospitalCore
import PostgresNIO

struct PostgresSchedulingStore: SchedulingStore {
    let connection: PostgresTransaction

    func doctors(specializationContaining text: String, limit: Int) async throws -> [User] {
        try await connection.records(
            User.self,
            """
            SELECT * FROM users WHERE role = 'doctor' AND status = 'active'
            AND lower(specialization) LIKE \(PostgresPattern.containing(text)) ESCAPE '\\' ORDER BY name, id LIMIT \(limit)
            """)
    }

    func activeDoctor(id: Int64) async throws -> User? {
        try await connection.record(User.self, "SELECT * FROM users WHERE id = \(id) AND role = 'doctor' AND status = 'active'")
    }

    func listing(slot id: Int64) async throws -> SlotListing? {
        try await listings("\(unescaped: Self.select) WHERE slots.id = \(id)").first
    }

    func openSlots(doctorId: Int64, endingAfter time: Int64, limit: Int) async throws -> [SlotListing] {
        try await listings(
            """
            \(unescaped: Self.select) WHERE slots.doctor_id = \(doctorId) AND doctor.role = 'doctor' AND slots.status = 'open'
            AND slots.starts_at + slots.duration_minutes * 60 > \(time) ORDER BY slots.starts_at LIMIT \(limit)
            """)
    }

    func slots(for identity: Identity, limit: Int) async throws -> [SlotListing] {
        if identity.role == .doctor {
            try await listings(
                "\(unescaped: Self.select) WHERE slots.doctor_id = \(identity.userId) ORDER BY slots.starts_at LIMIT \(limit)")
        } else {
            try await listings(
                "\(unescaped: Self.select) WHERE slots.patient_id = \(identity.userId) ORDER BY slots.starts_at LIMIT \(limit)")
        }
    }

    func overlappingSlots(doctorId: Int64, start: Int64, end: Int64) async throws -> Int {
        try await connection.value(
            Int.self,
            """
            SELECT count(*) FROM slots WHERE doctor_id = \(doctorId) AND starts_at < \(end)
            AND starts_at + duration_minutes * 60 > \(start)
            """) ?? 0
    }

    func hasAppointment(doctorId: Int64, patientId: Int64) async throws -> Bool {
        try await connection.value(
            Bool.self,
            """
            SELECT EXISTS (SELECT 1 FROM slots WHERE doctor_id = \(doctorId) AND patient_id = \(patientId)
            AND status IN ('booked', 'completed'))
            """) ?? false
    }

    func latestCompletedSlot(doctorId: Int64, patientId: Int64) async throws -> Int64? {
        try await connection.value(
            Int64.self,
            """
            SELECT id FROM slots WHERE doctor_id = \(doctorId) AND patient_id = \(patientId) AND status = 'completed'
            ORDER BY starts_at DESC LIMIT 1
            """)
    }

    func insert(_ slot: Slot) async throws -> Int64 {
        try await connection.insert(into: "slots", slot)
    }

    func update(_ slot: Slot) async throws {
        guard let id = slot.id else { return }
        try await connection.execute(
            "UPDATE slots SET status = \(slot.status.rawValue), patient_id = \(slot.patientId), reason = \(slot.reason) WHERE id = \(id)")
    }

    func delete(slot id: Int64) async throws {
        try await connection.execute("DELETE FROM slots WHERE id = \(id)")
    }

    /// Slots joined with their people's names.
    static let select = """
        SELECT slots.*, doctor.name AS doctor_name, patient.name AS patient_name, patient.date_of_birth AS patient_date_of_birth
        FROM slots JOIN users AS doctor ON doctor.id = slots.doctor_id LEFT JOIN users AS patient ON patient.id = slots.patient_id
        """

    func listings(_ query: PostgresQuery) async throws -> [SlotListing] {
        try await connection.rows(query).map { row in
            let slot = try PostgresRowDecoder.decode(Slot.self, from: row)
            let names = row.makeRandomAccess()
            return SlotListing(
                slot: slot, doctorName: try names["doctor_name"].decode(String.self),
                patientName: try names["patient_name"].decode(String?.self),
                patientDateOfBirth: try names["patient_date_of_birth"].decode(String?.self))
        }
    }
}
