import Foundation
package import GRDB
import HospitalCore

struct SQLiteSchedulingStore: SchedulingStore {
    let connection: SQLiteTransaction

    func doctors(specializationContaining text: String, limit: Int) async throws -> [User] {
        let pattern = "%" + SQLitePattern.escaped(text) + "%"
        return try await connection.run { db in
            try User.fetchAll(
                db,
                sql: """
                    SELECT * FROM user WHERE role = 'doctor' AND status = 'active' AND lower(specialization) LIKE ? ESCAPE '\\'
                    ORDER BY name, id LIMIT ?
                    """, arguments: [pattern, limit])
        }
    }

    func activeDoctor(id: Int64) async throws -> User? {
        try await connection.run { db in
            try User.fetchOne(db, sql: "SELECT * FROM user WHERE id = ? AND role = 'doctor' AND status = 'active'", arguments: [id])
        }
    }

    func listing(slot id: Int64) async throws -> SlotListing? {
        try await connection.run { db in try Self.listing(id, in: db) }
    }

    func openSlots(doctorId: Int64, endingAfter time: Int64, limit: Int) async throws -> [SlotListing] {
        try await connection.run { db in
            try SlotListing.fetchAll(
                db,
                sql: Self.select
                    + " WHERE slot.doctorId = ? AND doctor.role = 'doctor' AND slot.status = 'open' AND slot.startsAt + slot.durationMinutes * 60 > ? ORDER BY slot.startsAt LIMIT ?",
                arguments: [doctorId, time, limit])
        }
    }

    func slots(for identity: Identity, limit: Int) async throws -> [SlotListing] {
        try await connection.run { db in try Self.slots(for: identity, limit: limit, in: db) }
    }

    func overlappingSlots(doctorId: Int64, start: Int64, end: Int64) async throws -> Int {
        try await connection.run { db in
            try Int.fetchOne(
                db, sql: "SELECT count(*) FROM slot WHERE doctorId = ? AND startsAt < ? AND startsAt + durationMinutes * 60 > ?",
                arguments: [doctorId, end, start]) ?? 0
        }
    }

    func hasAppointment(doctorId: Int64, patientId: Int64) async throws -> Bool {
        try await connection.run { db in
            try Bool.fetchOne(
                db,
                sql: "SELECT EXISTS (SELECT 1 FROM slot WHERE doctorId = ? AND patientId = ? AND status IN ('booked', 'completed'))",
                arguments: [doctorId, patientId]) ?? false
        }
    }

    func latestCompletedSlot(doctorId: Int64, patientId: Int64) async throws -> Int64? {
        try await connection.run { db in
            try Int64.fetchOne(
                db,
                sql: "SELECT id FROM slot WHERE doctorId = ? AND patientId = ? AND status = 'completed' ORDER BY startsAt DESC LIMIT 1",
                arguments: [doctorId, patientId])
        }
    }

    func insert(_ slot: Slot) async throws -> Int64 {
        try await connection.run { db in
            var slot = slot
            try slot.insert(db)
            return slot.id!
        }
    }

    func update(_ slot: Slot) async throws {
        try await connection.run { db in
            try db.execute(
                sql: "UPDATE slot SET status = ?, patientId = ?, reason = ? WHERE id = ?",
                arguments: [slot.status, slot.patientId, slot.reason, slot.id])
        }
    }

    func delete(slot id: Int64) async throws {
        try await connection.run { db in _ = try Slot.deleteOne(db, key: id) }
    }

    /// Slots joined with their people's names.
    static let select = """
        SELECT slot.*, doctor.name AS doctorName, patient.name AS patientName, patient.dateOfBirth AS patientDateOfBirth FROM slot
        JOIN user AS doctor ON doctor.id = slot.doctorId LEFT JOIN user AS patient ON patient.id = slot.patientId
        """

    static func listing(_ id: Int64, in db: Database) throws -> SlotListing? {
        try SlotListing.fetchOne(db, sql: select + " WHERE slot.id = ?", arguments: [id])
    }

    /// The caller's slots (statement cached: pages list them on every load).
    static func slots(for identity: Identity, limit: Int, in db: Database) throws -> [SlotListing] {
        let column = identity.role == .doctor ? "doctorId" : "patientId"
        return try SlotListing.fetchAll(
            db,
            SQLRequest(
                sql: select + " WHERE slot.\(column) = ? ORDER BY slot.startsAt LIMIT ?", arguments: [identity.userId, limit],
                cached: true))
    }
}

extension SlotListing: FetchableRecord {
    package init(row: Row) throws {
        self.init(
            slot: try Slot(row: row), doctorName: row["doctorName"], patientName: row["patientName"],
            patientDateOfBirth: row["patientDateOfBirth"])
    }
}

/// Text for a `LIKE … ESCAPE '\'` pattern.
enum SQLitePattern {
    /// `text` with its `\`, `%` and `_` matching only themselves.
    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(
            of: "_", with: "\\_")
    }
}
