import Foundation
import HospitalCore
import Hummingbird

extension Date {
    /// A time from the database's seconds since 1970.
    init(seconds: Int64) { self.init(timeIntervalSince1970: TimeInterval(seconds)) }
}

/// `/api/doctors`, `/api/slots`: doctor search and appointment slots.
struct CareController {
    let scheduling: Scheduling

    /// A doctor as patients find them.
    struct DoctorView: ResponseCodable {
        var id: Int64
        var name: String
        var specialization: String

        init(_ user: User) {
            id = user.id ?? 0
            name = user.name
            specialization = user.specialization ?? ""
        }
    }

    /// A doctor's page: who they are and their next open slots.
    struct DoctorDetailsView: ResponseCodable {
        var id: Int64
        var name: String
        var specialization: String
        /// What the doctor says of themselves (qualifications, languages, the clinic's phone), if anything.
        var about: String?
        var openSlots: [SlotView]
    }

    struct SlotView: ResponseCodable {
        var id: Int64
        var doctorId: Int64
        var doctorName: String
        var startsAt: Date
        var durationMinutes: Int
        var status: SlotStatus
        /// Shown to the slot's doctor and patient only.
        var patientId: Int64?
        var patientName: String?
        var patientDateOfBirth: String?
        /// Why the patient booked (symptoms), shown to the slot's doctor and patient only.
        var reason: String?

        init(_ listing: SlotListing, showPatient: Bool) {
            id = listing.slot.id ?? 0
            doctorId = listing.slot.doctorId
            doctorName = listing.doctorName
            startsAt = Date(seconds: listing.slot.startsAt)
            durationMinutes = listing.slot.durationMinutes
            status = listing.slot.status
            patientId = showPatient ? listing.slot.patientId : nil
            patientName = showPatient ? listing.patientName : nil
            patientDateOfBirth = showPatient ? listing.patientDateOfBirth : nil
            reason = showPatient ? listing.slot.reason : nil
        }
    }

    /// What a patient may send when booking; the body is optional.
    struct Booking: Decodable {
        var reason: String?
    }

    struct NewSlot: Decodable {
        /// RFC 3339, such as `2026-12-01T09:00:00Z` (parsed here: Foundation's date decoding loses the field name).
        var startsAt: String
        var durationMinutes: Int
    }

    func addRoutes(to group: RouterGroup<HospitalRequestContext>) {
        group.get("doctors", use: searchDoctors)
        group.get("doctors/:id", use: doctor)
        group.get("doctors/:id/slots", use: openSlots)
        group.post("slots", use: publish)
        group.get("slots", use: mySlots)
        group.delete("slots/:id", use: withdraw)
        group.post("slots/:id/booking", use: book)
        group.delete("slots/:id/booking", use: cancel)
        group.post("slots/:id/completion", use: complete)
    }

    @Sendable func searchDoctors(_ request: Request, context: HospitalRequestContext) async throws -> [DoctorView] {
        try await scheduling.searchDoctors(specialization: request.uri.queryParameters.get("specialization")).map(DoctorView.init)
    }

    @Sendable func doctor(_ request: Request, context: HospitalRequestContext) async throws -> DoctorDetailsView {
        let id = try context.id("id")
        guard let doctor = try await scheduling.doctor(id: id) else { throw HospitalError.notFound("doctor") }
        let slots = try await scheduling.openSlots(doctorId: id).prefix(20).map { SlotView($0, showPatient: false) }
        return DoctorDetailsView(
            id: id, name: doctor.name, specialization: doctor.specialization ?? "", about: doctor.about, openSlots: Array(slots))
    }

    @Sendable func openSlots(_ request: Request, context: HospitalRequestContext) async throws -> [SlotView] {
        _ = try context.requireIdentity()
        return try await scheduling.openSlots(doctorId: try context.id("id")).map { SlotView($0, showPatient: false) }
    }

    @Sendable func publish(_ request: Request, context: HospitalRequestContext) async throws -> EditedResponse<SlotView> {
        let doctor = try context.requireIdentity(.doctor)
        let input = try await request.decodeJSON(as: NewSlot.self)
        let slot = try await scheduling.publish(
            doctorId: doctor.userId, startsAt: try Validation.time(input.startsAt, field: "startsAt"),
            durationMinutes: input.durationMinutes)
        return EditedResponse(status: .created, response: SlotView(slot, showPatient: true))
    }

    @Sendable func mySlots(_ request: Request, context: HospitalRequestContext) async throws -> [SlotView] {
        let identity = try context.requireIdentity(.doctor, .patient)
        return try await scheduling.slots(for: identity).map { SlotView($0, showPatient: true) }
    }

    @Sendable func withdraw(_ request: Request, context: HospitalRequestContext) async throws -> HTTPResponse.Status {
        let doctor = try context.requireIdentity(.doctor)
        try await scheduling.withdraw(slotId: try context.id("id"), doctorId: doctor.userId)
        return .noContent
    }

    @Sendable func book(_ request: Request, context: HospitalRequestContext) async throws -> SlotView {
        let patient = try context.requireIdentity(.patient)
        let hasBody = request.headers[.contentLength].map { $0 != "0" } ?? (request.headers[.transferEncoding] != nil)
        let booking = hasBody ? try await request.decodeJSON(as: Booking.self, limit: 16 << 10) : Booking()
        return SlotView(
            try await scheduling.book(slotId: try context.id("id"), patientId: patient.userId, reason: booking.reason ?? ""),
            showPatient: true)
    }

    /// The patient cancels their booking (the slot opens again), or the doctor cancels the appointment
    /// (the slot goes); either way the patient gets an e-mail.
    @Sendable func cancel(_ request: Request, context: HospitalRequestContext) async throws -> HTTPResponse.Status {
        let identity = try context.requireIdentity(.patient, .doctor)
        switch identity.role {
        case .doctor: try await scheduling.cancelBooking(slotId: try context.id("id"), doctorId: identity.userId)
        case .patient, .admin: try await scheduling.cancel(slotId: try context.id("id"), patientId: identity.userId)
        }
        return .noContent
    }

    @Sendable func complete(_ request: Request, context: HospitalRequestContext) async throws -> SlotView {
        let doctor = try context.requireIdentity(.doctor)
        return SlotView(try await scheduling.complete(slotId: try context.id("id"), doctorId: doctor.userId), showPatient: true)
    }
}
