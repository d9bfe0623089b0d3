import Foundation

/// Where an appointment slot stands.
package enum SlotStatus: String, Codable, Sendable {
    /// Published by the doctor, bookable.
    case open
    /// Booked by a patient.
    case booked
    /// The checkup took place: the doctor may now upload reports for the patient.
    case completed
}

/// An appointment slot a doctor published.
package struct Slot: Codable, Sendable, Equatable {
    package var id: Int64?
    package var doctorId: Int64
    /// Seconds since 1970.
    package var startsAt: Int64
    package var durationMinutes: Int
    package var patientId: Int64?
    package var status: SlotStatus
    package var createdAt: Int64
    /// Why the patient booked (their symptoms): health data, shown to the slot's doctor and patient
    /// only, never logged. Nil while the slot is open.
    package var reason: String?
}

/// A slot with the names of the people in it, as lists show it.
package struct SlotListing: Sendable, Equatable {
    package var slot: Slot
    package var doctorName: String
    package var patientName: String?
    /// The patient's date of birth (`YYYY-MM-DD`), for their age.
    package var patientDateOfBirth: String?

    package init(slot: Slot, doctorName: String, patientName: String?, patientDateOfBirth: String?) {
        self.slot = slot
        self.doctorName = doctorName
        self.patientName = patientName
        self.patientDateOfBirth = patientDateOfBirth
    }

    /// Whether the slot is over at `now`.
    package func isOver(at now: Int64) -> Bool { slot.startsAt + Int64(slot.durationMinutes) * 60 <= now }
}

/// The most rows any list of the API returns.
enum Page {
    static let size = 500
}

/// Doctor search and appointment slots: doctors publish, patients book and cancel, doctors complete.
package struct Scheduling: Sendable {
    let storage: any HospitalStorage
    /// Seconds since 1970: what publishing checks a start against, and the time of notices (the mail
    /// queue reads the same clock).
    let clock: @Sendable () -> Int64
    /// What "now" is to slots (has one started, is it over): the clock itself, but for interop tests that
    /// run it ahead (`HospitalServices`' `schedulingClock`, serve's `CHAINVAULT_TEST_SCHEDULING_OFFSET`).
    package let slotClock: @Sendable () -> Int64
    /// The e-mails confirming bookings and cancellations.
    let notices: Notices

    /// The longest slot, in minutes.
    static let maxDuration = 8 * 60
    /// How far ahead a slot may be published, in seconds (two years).
    static let maxHorizon: Duration = .seconds(2 * 366 * 86400)

    package init(
        storage: any HospitalStorage, clock: @escaping @Sendable () -> Int64, slotClock: (@Sendable () -> Int64)? = nil,
        notices: Notices = .init()
    ) {
        self.notices = notices
        self.storage = storage
        self.clock = clock
        self.slotClock = slotClock ?? clock
    }

    /// Doctors whose specialization contains `specialization` (case-insensitive); all doctors when nil or empty.
    package func searchDoctors(specialization: String?) async throws -> [User] {
        let query = (specialization ?? "").trimmingCharacters(in: .whitespaces)
        guard query.count <= 100 else { throw HospitalError.invalid("specialization", "Search with at most 100 characters.") }
        return try await storage.read { try await $0.scheduling.doctors(specializationContaining: query.lowercased(), limit: Page.size) }
    }

    /// An active doctor, as anyone may see them; nil for anyone else.
    package func doctor(id: Int64) async throws -> User? {
        try await storage.read { try await $0.scheduling.activeDoctor(id: id) }
    }

    /// Publishes a slot in the doctor's calendar. It may start in the current minute (a patient who is
    /// there now), so that its checkup can be completed at once.
    /// - Throws: `invalid_field` for a start before the current minute or too far ahead or a bad
    ///   duration, `slot_overlaps` when it overlaps one of the doctor's slots.
    package func publish(doctorId: Int64, startsAt: Int64, durationMinutes: Int) async throws -> SlotListing {
        let now = clock()
        guard startsAt >= now - now % 60 else {
            throw HospitalError.invalid("startsAt", "A slot starts in the current minute or later.")
        }
        guard startsAt <= now + Self.maxHorizon.wholeSeconds else {
            throw HospitalError.invalid("startsAt", "A slot starts within two years.")
        }
        guard (5...Self.maxDuration).contains(durationMinutes) else {
            throw HospitalError.invalid("durationMinutes", "A slot lasts 5 to \(Self.maxDuration) minutes.")
        }
        let end = startsAt + Int64(durationMinutes) * 60
        return try await storage.write { transaction in
            guard try await transaction.scheduling.overlappingSlots(doctorId: doctorId, start: startsAt, end: end) == 0 else {
                throw HospitalError(.slotOverlaps, "The slot overlaps another of your slots.", field: "startsAt")
            }
            let id = try await transaction.scheduling.insert(
                Slot(doctorId: doctorId, startsAt: startsAt, durationMinutes: durationMinutes, status: .open, createdAt: now))
            return try await transaction.scheduling.listing(slot: id)!
        }
    }

    /// A doctor's slots that are still open and not over (one that started may still be booked).
    package func openSlots(doctorId: Int64) async throws -> [SlotListing] {
        let now = slotClock()
        return try await storage.read { try await $0.scheduling.openSlots(doctorId: doctorId, endingAfter: now, limit: Page.size) }
    }

    /// One slot as anyone may see it before booking (no patient): nil when it does not exist.
    package func slot(id: Int64) async throws -> SlotListing? {
        try await storage.read { try await $0.scheduling.listing(slot: id) }
    }

    /// The caller's slots: a doctor's own calendar (with patient names) or a patient's bookings.
    package func slots(for identity: Identity) async throws -> [SlotListing] {
        try await storage.read { try await $0.scheduling.slots(for: identity, limit: Page.size) }
    }

    /// Books an open slot for the patient, until the slot is over (one that started is a walk-in), with
    /// the reason for the visit. The slot is read and written in one write transaction, so of two
    /// patients booking at once exactly one gets it.
    /// - Parameter reason: The symptoms or reason, up to 2000 characters; empty for none.
    /// - Throws: `invalid_field` (reason), `not_found`, `slot_in_past`, `slot_taken`.
    package func book(slotId: Int64, patientId: Int64, reason: String = "") async throws -> SlotListing {
        let now = slotClock()
        let reason = try Validation.reason(reason)
        return try await storage.write { [notices] transaction in
            guard var listing = try await transaction.scheduling.listing(slot: slotId) else { throw HospitalError.notFound("slot") }
            guard !listing.isOver(at: now) else { throw HospitalError(.slotInPast, "The slot is over.") }
            guard listing.slot.status == .open else { throw HospitalError(.slotTaken, "The slot is booked already.") }
            listing.slot.status = .booked
            listing.slot.patientId = patientId
            listing.slot.reason = reason
            try await transaction.scheduling.update(listing.slot)
            try await notices.queue(
                .booked, to: patientId, values: ["doctor": listing.doctorName], time: listing.slot.startsAt, path: "/appointments",
                now: clock(), in: transaction)
            return try await transaction.scheduling.listing(slot: slotId)!
        }
    }

    /// Cancels the patient's booking of a slot that has not started; the slot is open again.
    /// - Throws: `not_found` (also for another patient's booking), `slot_in_past`, `slot_completed`.
    package func cancel(slotId: Int64, patientId: Int64) async throws {
        let now = slotClock()
        try await storage.write { [notices] transaction in
            guard var listing = try await transaction.scheduling.listing(slot: slotId), listing.slot.patientId == patientId else {
                throw HospitalError.notFound("slot")
            }
            guard listing.slot.status == .booked else { throw HospitalError(.slotCompleted, "The checkup took place already.") }
            guard listing.slot.startsAt > now else { throw HospitalError(.slotInPast, "The slot has started already.") }
            listing.slot.status = .open
            listing.slot.patientId = nil
            listing.slot.reason = nil
            try await transaction.scheduling.update(listing.slot)
            try await notices.queue(
                .cancelled, to: patientId, values: ["doctor": listing.doctorName], time: listing.slot.startsAt, path: "/appointments",
                now: clock(), in: transaction)
        }
    }

    /// The doctor cancels a booked appointment that has not started: the slot is removed (the doctor
    /// cannot be there, so nobody else may book it) and the patient gets an e-mail.
    /// - Throws: `not_found` (also another doctor's slot), `slot_not_booked` (withdraw an open one),
    ///   `slot_completed`, `slot_in_past`.
    package func cancelBooking(slotId: Int64, doctorId: Int64) async throws {
        let now = slotClock()
        try await storage.write { [notices] transaction in
            let listing = try await Self.doctorsSlot(slotId, of: doctorId, in: transaction)
            switch listing.slot.status {
            case .open: throw HospitalError(.slotNotBooked, "Nobody booked this slot: withdraw it.")
            case .completed: throw HospitalError(.slotCompleted, "The checkup took place already.")
            case .booked: break
            }
            guard listing.slot.startsAt > now, let patientId = listing.slot.patientId else {
                throw HospitalError(.slotInPast, "The slot has started already.")
            }
            try await transaction.scheduling.delete(slot: slotId)
            try await notices.queue(
                .cancelledByDoctor, to: patientId, values: ["doctor": listing.doctorName], time: listing.slot.startsAt,
                path: "/doctors", now: clock(), in: transaction)
        }
    }

    /// Removes one of the doctor's open slots.
    /// - Throws: `not_found`, `slot_booked`.
    package func withdraw(slotId: Int64, doctorId: Int64) async throws {
        try await storage.write { transaction in
            let listing = try await Self.doctorsSlot(slotId, of: doctorId, in: transaction)
            guard listing.slot.status == .open else {
                throw HospitalError(.slotBooked, "A booked slot stays; the patient cancels it.")
            }
            try await transaction.scheduling.delete(slot: slotId)
        }
    }

    /// Marks the checkup of one of the doctor's booked slots done, once it has started.
    /// - Throws: `not_found`, `slot_not_booked`, `checkup_not_started`.
    package func complete(slotId: Int64, doctorId: Int64) async throws -> SlotListing {
        let now = slotClock()
        return try await storage.write { transaction in
            var listing = try await Self.doctorsSlot(slotId, of: doctorId, in: transaction)
            switch listing.slot.status {
            case .open: throw HospitalError(.slotNotBooked, "Nobody booked this slot.")
            case .completed: break
            case .booked:
                guard listing.slot.startsAt <= now else {
                    throw HospitalError(.checkupNotStarted, "A checkup is completed once its slot has started.")
                }
                listing.slot.status = .completed
                try await transaction.scheduling.update(listing.slot)
            }
            return listing
        }
    }

    /// One of the doctor's slots; another doctor's is `not_found`, as one that does not exist.
    static func doctorsSlot(_ slotId: Int64, of doctorId: Int64, in transaction: HospitalTransaction) async throws -> SlotListing {
        guard let listing = try await transaction.scheduling.listing(slot: slotId), listing.slot.doctorId == doctorId else {
            throw HospitalError.notFound("slot")
        }
        return listing
    }
}
