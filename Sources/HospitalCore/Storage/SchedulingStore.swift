/// Doctors' slots and patients' bookings, as a ``HospitalTransaction`` reads and writes them. Lists
/// hold at most `limit` rows.
package protocol SchedulingStore: Sendable {
    /// Active doctors whose specialization contains `text` (already lowercased; every one when empty),
    /// by name.
    func doctors(specializationContaining text: String, limit: Int) async throws -> [User]
    /// The active doctor with this id; nil for anyone else.
    func activeDoctor(id: Int64) async throws -> User?

    /// A slot with the names of the people in it.
    func listing(slot id: Int64) async throws -> SlotListing?
    /// A doctor's slots that are open and end after `time`, by start.
    func openSlots(doctorId: Int64, endingAfter time: Int64, limit: Int) async throws -> [SlotListing]
    /// A doctor's calendar or a patient's bookings, by start.
    func slots(for identity: Identity, limit: Int) async throws -> [SlotListing]
    /// How many of the doctor's slots overlap `start..<end` (seconds since 1970).
    func overlappingSlots(doctorId: Int64, start: Int64, end: Int64) async throws -> Int
    /// Whether the doctor has a booked or completed appointment with the patient.
    func hasAppointment(doctorId: Int64, patientId: Int64) async throws -> Bool
    /// The id of the latest slot in which the doctor completed a checkup of the patient.
    func latestCompletedSlot(doctorId: Int64, patientId: Int64) async throws -> Int64?

    /// Stores a new slot, giving its id.
    func insert(_ slot: Slot) async throws -> Int64
    /// Writes a slot's status, patient and reason.
    func update(_ slot: Slot) async throws
    /// Removes a slot.
    func delete(slot id: Int64) async throws
}
