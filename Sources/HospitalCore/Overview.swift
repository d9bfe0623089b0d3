/// What a patient's overview page shows: upcoming appointments, their reports, how many doctors are
/// waiting for a code and how many grants are running. Read in one transaction, so that a page load
/// is one trip to the database rather than four (the portal's hottest page; see BENCHMARKS.md).
package struct PatientOverview: Sendable {
    /// Appointments not yet over, and booked ones (a walk-in that started).
    package var appointments: [SlotListing]
    package var reports: [ReportListing]
    /// Access requests waiting for the patient's code, not expired.
    package var pendingRequests: Int
    /// Grants on the patient's reports not revoked nor expired.
    package var activeGrants: Int

    /// - Parameter now: Seconds since 1970.
    static func read(for patient: Identity, now: Int64, in transaction: HospitalTransaction) async throws -> PatientOverview {
        let appointments = try await transaction.scheduling.slots(for: patient, limit: Page.size).filter {
            !$0.isOver(at: now) || $0.slot.status == .booked
        }
        let counts = try await transaction.consent.consentCounts(patientId: patient.userId, at: now)
        return PatientOverview(
            appointments: appointments, reports: try await Reports.list(for: patient, now: now, in: transaction),
            pendingRequests: counts.pendingRequests, activeGrants: counts.activeGrants)
    }
}

extension Reports {
    /// A patient's overview, in one read.
    package func overview(for patient: Identity) async throws -> PatientOverview {
        let now = clock()
        return try await storage.read { try await PatientOverview.read(for: patient, now: now, in: $0) }
    }
}
