import Foundation
import GRDB

/// Where an appointment slot stands.
public enum SlotStatus: String, Codable, Sendable, DatabaseValueConvertible {
    /// Published by the doctor, bookable.
    case open
    /// Booked by a patient.
    case booked
    /// The checkup took place: the doctor may now upload reports for the patient.
    case completed
}

/// An appointment slot a doctor published.
public struct Slot: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public var id: Int64?
    public var doctorId: Int64
    /// Seconds since 1970.
    public var startsAt: Int64
    public var durationMinutes: Int
    public var patientId: Int64?
    public var status: SlotStatus
    public var createdAt: Int64
    /// Why the patient booked (their symptoms): health data, shown to the slot's doctor and patient
    /// only, never logged. Nil while the slot is open.
    public var reason: String?

    public static let databaseTableName = "slot"

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// A slot with the names of the people in it, as lists show it.
public struct SlotListing: Sendable, Equatable, FetchableRecord {
    public var slot: Slot
    public var doctorName: String
    public var patientName: String?
    /// The patient's date of birth (`YYYY-MM-DD`), for their age.
    public var patientDateOfBirth: String?

    public init(row: Row) throws {
        slot = try Slot(row: row)
        doctorName = row["doctorName"]
        patientName = row["patientName"]
        patientDateOfBirth = row["patientDateOfBirth"]
    }

    /// Whether the slot is over at `now`.
    public func isOver(at now: Int64) -> Bool { slot.startsAt + Int64(slot.durationMinutes) * 60 <= now }

    static let select = """
        SELECT slot.*, doctor.name AS doctorName, patient.name AS patientName, patient.dateOfBirth AS patientDateOfBirth FROM slot
        JOIN user AS doctor ON doctor.id = slot.doctorId LEFT JOIN user AS patient ON patient.id = slot.patientId
        """
}

/// The most rows any list of the API returns.
enum Page {
    static let size = 500
}

/// Doctor search and appointment slots: doctors publish, patients book and cancel, doctors complete.
public struct Scheduling: Sendable {
    let database: HospitalDatabase
    let clock: @Sendable () -> Int64
    /// The e-mails confirming bookings and cancellations.
    let notices: Notices

    /// The longest slot, in minutes.
    static let maxDuration = 8 * 60
    /// How far ahead a slot may be published, in seconds (two years).
    static let maxHorizon: Int64 = 2 * 366 * 86400

    public init(database: HospitalDatabase, clock: @escaping @Sendable () -> Int64, notices: Notices = .init()) {
        self.notices = notices
        self.database = database
        self.clock = clock
    }

    /// Doctors whose specialization contains `specialization` (case-insensitive); all doctors when nil or empty.
    public func searchDoctors(specialization: String?) async throws -> [User] {
        let query = (specialization ?? "").trimmingCharacters(in: .whitespaces)
        guard query.count <= 100 else { throw HospitalError.invalid("specialization", "Search with at most 100 characters.") }
        let pattern = "%" + Self.likeEscaped(query.lowercased()) + "%"
        return try await database.read { db in
            try User.fetchAll(
                db,
                sql: """
                    SELECT * FROM user WHERE role = 'doctor' AND status = 'active' AND lower(specialization) LIKE ? ESCAPE '\\'
                    ORDER BY name, id LIMIT \(Page.size)
                    """, arguments: [pattern])
        }
    }

    /// An active doctor, as anyone may see them; nil for anyone else.
    public func doctor(id: Int64) async throws -> User? {
        try await database.read { db in
            try User.fetchOne(db, sql: "SELECT * FROM user WHERE id = ? AND role = 'doctor' AND status = 'active'", arguments: [id])
        }
    }

    /// `text` for a `LIKE … ESCAPE '\'` pattern: its `\`, `%` and `_` match only themselves.
    static func likeEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(
            of: "_", with: "\\_")
    }

    /// Publishes a slot in the doctor's calendar. It may start in the current minute (a patient who is
    /// there now), so that its checkup can be completed at once.
    /// - Throws: `invalid_field` for a start before the current minute or too far ahead or a bad
    ///   duration, `slot_overlaps` when it overlaps one of the doctor's slots.
    public func publish(doctorId: Int64, startsAt: Int64, durationMinutes: Int) async throws -> SlotListing {
        let now = clock()
        guard startsAt >= now - now % 60 else {
            throw HospitalError.invalid("startsAt", "A slot starts in the current minute or later.")
        }
        guard startsAt <= now + Self.maxHorizon else { throw HospitalError.invalid("startsAt", "A slot starts within two years.") }
        guard (5...Self.maxDuration).contains(durationMinutes) else {
            throw HospitalError.invalid("durationMinutes", "A slot lasts 5 to \(Self.maxDuration) minutes.")
        }
        let end = startsAt + Int64(durationMinutes) * 60
        return try await database.write { db in
            let overlapping =
                try Int.fetchOne(
                    db,
                    sql: "SELECT count(*) FROM slot WHERE doctorId = ? AND startsAt < ? AND startsAt + durationMinutes * 60 > ?",
                    arguments: [doctorId, end, startsAt]) ?? 0
            guard overlapping == 0 else {
                throw HospitalError(.slotOverlaps, "The slot overlaps another of your slots.", field: "startsAt")
            }
            var slot = Slot(
                doctorId: doctorId, startsAt: startsAt, durationMinutes: durationMinutes, status: .open, createdAt: now)
            try slot.insert(db)
            return try Self.listing(slot.id!, in: db)!
        }
    }

    /// A doctor's slots that are still open and not over (one that started may still be booked).
    public func openSlots(doctorId: Int64) async throws -> [SlotListing] {
        let now = clock()
        return try await database.read { db in
            try SlotListing.fetchAll(
                db,
                sql: SlotListing.select
                    + " WHERE slot.doctorId = ? AND doctor.role = 'doctor' AND slot.status = 'open' AND slot.startsAt + slot.durationMinutes * 60 > ? ORDER BY slot.startsAt LIMIT \(Page.size)",
                arguments: [doctorId, now])
        }
    }

    /// One slot as anyone may see it before booking (no patient): nil when it does not exist.
    public func slot(id: Int64) async throws -> SlotListing? {
        try await database.read { db in try Self.listing(id, in: db) }
    }

    /// The caller's slots: a doctor's own calendar (with patient names) or a patient's bookings.
    public func slots(for identity: Identity) async throws -> [SlotListing] {
        try await database.read { db in try Self.slots(for: identity, in: db) }
    }

    /// The caller's slots (statement cached: pages list them on every load).
    static func slots(for identity: Identity, in db: Database) throws -> [SlotListing] {
        let column = identity.role == .doctor ? "doctorId" : "patientId"
        return try SlotListing.fetchAll(
            db,
            SQLRequest(
                sql: SlotListing.select + " WHERE slot.\(column) = ? ORDER BY slot.startsAt LIMIT \(Page.size)",
                arguments: [identity.userId], cached: true))
    }

    /// Books an open slot for the patient, until the slot is over (one that started is a walk-in), with
    /// the reason for the visit. One UPDATE guarded by the slot's status decides it, so of two patients
    /// booking at once exactly one gets the slot.
    /// - Parameter reason: The symptoms or reason, up to 2000 characters; empty for none.
    /// - Throws: `invalid_field` (reason), `not_found`, `slot_in_past`, `slot_taken`.
    public func book(slotId: Int64, patientId: Int64, reason: String = "") async throws -> SlotListing {
        let now = clock()
        let reason = try Validation.reason(reason)
        return try await database.write { db in
            try db.execute(
                sql: """
                    UPDATE slot SET status = 'booked', patientId = ?, reason = ?
                    WHERE id = ? AND status = 'open' AND startsAt + durationMinutes * 60 > ?
                    """,
                arguments: [patientId, reason, slotId, now])
            if db.changesCount == 1 {
                let listing = try Self.listing(slotId, in: db)!
                try notices.queue(
                    .booked, to: patientId, values: ["doctor": listing.doctorName], time: listing.slot.startsAt, path: "/appointments",
                    now: now, in: db)
                return listing
            }
            guard let slot = try Slot.fetchOne(db, key: slotId) else { throw HospitalError.notFound("slot") }
            if slot.startsAt + Int64(slot.durationMinutes) * 60 <= now {
                throw HospitalError(.slotInPast, "The slot is over.")
            }
            throw HospitalError(.slotTaken, "The slot is booked already.")
        }
    }

    /// Cancels the patient's booking of a slot that has not started; the slot is open again.
    /// - Throws: `not_found` (also for another patient's booking), `slot_in_past`, `slot_completed`.
    public func cancel(slotId: Int64, patientId: Int64) async throws {
        let now = clock()
        try await database.write { db in
            guard let slot = try Slot.fetchOne(db, key: slotId), slot.patientId == patientId else {
                throw HospitalError.notFound("slot")
            }
            guard slot.status == .booked else { throw HospitalError(.slotCompleted, "The checkup took place already.") }
            guard slot.startsAt > now else { throw HospitalError(.slotInPast, "The slot has started already.") }
            let doctor = try Self.listing(slotId, in: db)?.doctorName ?? ""
            try db.execute(sql: "UPDATE slot SET status = 'open', patientId = NULL, reason = NULL WHERE id = ?", arguments: [slotId])
            try notices.queue(
                .cancelled, to: patientId, values: ["doctor": doctor], time: slot.startsAt, path: "/appointments", now: now, in: db)
        }
    }

    /// The doctor cancels a booked appointment that has not started: the slot is removed (the doctor
    /// cannot be there, so nobody else may book it) and the patient gets an e-mail.
    /// - Throws: `not_found` (also another doctor's slot), `slot_not_booked` (withdraw an open one),
    ///   `slot_completed`, `slot_in_past`.
    public func cancelBooking(slotId: Int64, doctorId: Int64) async throws {
        let now = clock()
        try await database.write { db in
            guard let listing = try Self.listing(slotId, in: db), listing.slot.doctorId == doctorId else {
                throw HospitalError.notFound("slot")
            }
            switch listing.slot.status {
            case .open: throw HospitalError(.slotNotBooked, "Nobody booked this slot: withdraw it.")
            case .completed: throw HospitalError(.slotCompleted, "The checkup took place already.")
            case .booked: break
            }
            guard listing.slot.startsAt > now, let patientId = listing.slot.patientId else {
                throw HospitalError(.slotInPast, "The slot has started already.")
            }
            try Slot.deleteOne(db, key: slotId)
            try notices.queue(
                .cancelledByDoctor, to: patientId, values: ["doctor": listing.doctorName], time: listing.slot.startsAt,
                path: "/doctors", now: now, in: db)
        }
    }

    /// Removes one of the doctor's open slots.
    /// - Throws: `not_found`, `slot_booked`.
    public func withdraw(slotId: Int64, doctorId: Int64) async throws {
        try await database.write { db in
            guard let slot = try Slot.fetchOne(db, key: slotId), slot.doctorId == doctorId else { throw HospitalError.notFound("slot") }
            guard slot.status == .open else {
                throw HospitalError(.slotBooked, "A booked slot stays; the patient cancels it.")
            }
            try Slot.deleteOne(db, key: slotId)
        }
    }

    /// Marks the checkup of one of the doctor's booked slots done, once it has started.
    /// - Throws: `not_found`, `slot_not_booked`, `checkup_not_started`.
    public func complete(slotId: Int64, doctorId: Int64) async throws -> SlotListing {
        let now = clock()
        return try await database.write { db in
            guard let slot = try Slot.fetchOne(db, key: slotId), slot.doctorId == doctorId else { throw HospitalError.notFound("slot") }
            switch slot.status {
            case .open: throw HospitalError(.slotNotBooked, "Nobody booked this slot.")
            case .completed: break
            case .booked:
                guard slot.startsAt <= now else {
                    throw HospitalError(.checkupNotStarted, "A checkup is completed once its slot has started.")
                }
                try db.execute(sql: "UPDATE slot SET status = 'completed' WHERE id = ?", arguments: [slotId])
            }
            return try Self.listing(slotId, in: db)!
        }
    }

    static func listing(_ id: Int64, in db: Database) throws -> SlotListing? {
        try SlotListing.fetchOne(db, sql: SlotListing.select + " WHERE slot.id = ?", arguments: [id])
    }
}
