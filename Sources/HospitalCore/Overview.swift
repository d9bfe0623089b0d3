import GRDB

/// What a patient's overview page shows: upcoming appointments, their reports, how many doctors are
/// waiting for a code and how many grants are running. Read in one transaction, so that a page load
/// is one trip to the database rather than four (the portal's hottest page; see BENCHMARKS.md).
public struct PatientOverview: Sendable {
    /// Appointments not yet over, and booked ones (a walk-in that started).
    public var appointments: [SlotListing]
    public var reports: [ReportListing]
    /// Access requests waiting for the patient's code, not expired.
    public var pendingRequests: Int
    /// Grants on the patient's reports not revoked nor expired.
    public var activeGrants: Int

    /// - Parameter now: Seconds since 1970.
    static func read(for patient: Identity, now: Int64, in db: Database) throws -> PatientOverview {
        let appointments = try SQLiteSchedulingStore.slots(for: patient, limit: Page.size, in: db).filter { !$0.isOver(at: now) || $0.slot.status == .booked }
        let pending =
            try Int.fetchOne(
                db,
                SQLRequest(
                    sql: """
                        SELECT count(*) FROM "accessRequest" JOIN report ON report.id = "accessRequest".reportId
                        WHERE report.patientId = ? AND "accessRequest".status = 'pending' AND "accessRequest".expiresAt > ?
                        """, arguments: [patient.userId, now], cached: true)) ?? 0
        let grants =
            try Int.fetchOne(
                db,
                SQLRequest(
                    sql: """
                        SELECT count(*) FROM "grant" JOIN report ON report.id = "grant".reportId
                        WHERE report.patientId = ? AND "grant".revokedAt IS NULL AND "grant".expiresAt > ?
                        """, arguments: [patient.userId, now], cached: true)) ?? 0
        return PatientOverview(
            appointments: appointments, reports: try Reports.list(for: patient, now: now, in: db), pendingRequests: pending,
            activeGrants: grants)
    }
}

extension Reports {
    /// A patient's overview, in one read.
    public func overview(for patient: Identity) async throws -> PatientOverview {
        let now = clock()
        return try await database.read { db in try PatientOverview.read(for: patient, now: now, in: db) }
    }
}
