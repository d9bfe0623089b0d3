/// Doctors' access requests and patients' grants (``Consent``), as a ``HospitalTransaction`` reads and
/// writes them. Lists are newest first and hold at most `limit` rows.
package protocol ConsentStore: Sendable {
    func request(id: Int64) async throws -> AccessRequest?
    func requestListing(id: Int64) async throws -> AccessRequestListing?
    /// Requests on a patient's reports or a doctor's own, optionally in one status.
    func requestListings(of party: Party, status: AccessRequestStatus?, limit: Int) async throws -> [AccessRequestListing]
    /// How many requests the doctor made for the report after `time`.
    func requestCount(reportId: Int64, doctorId: Int64, after time: Int64) async throws -> Int
    /// On the patient's reports at `time`: requests pending and not expired, grants neither revoked nor expired.
    func consentCounts(patientId: Int64, at time: Int64) async throws -> ConsentCounts
    /// The ids of requests pending and not expired at `time` (whose codes still work).
    func pendingRequestIds(at time: Int64) async throws -> [Int64]
    /// Stores a new request, giving its id.
    func insert(_ request: AccessRequest) async throws -> Int64
    /// Writes a request's code MAC, status, attempts and decision time.
    func update(_ request: AccessRequest) async throws
    /// Voids the doctor's pending requests for the report.
    func voidPendingRequests(reportId: Int64, doctorId: Int64, at time: Int64) async throws

    func grantListing(id: Int64) async throws -> GrantListing?
    /// Grants on a patient's reports or a doctor's own.
    func grantListings(of party: Party, limit: Int) async throws -> [GrantListing]
    /// Whether the doctor holds a grant to the report that is neither revoked nor expired at `time`.
    func hasGrant(reportId: Int64, doctorId: Int64, at time: Int64) async throws -> Bool
    /// Stores a new grant, giving its id.
    func insert(_ grant: Grant) async throws -> Int64
    func revoke(grant id: Int64, at time: Int64) async throws
}

/// Whose consent records a list shows: those on a patient's reports, or a doctor's own.
package enum Party: Sendable {
    case patient(Int64)
    case doctor(Int64)
}

/// Emergency accesses (``EmergencyAccess``), as a ``HospitalTransaction`` reads and writes them.
package protocol EmergencyStore: Sendable {
    func listing(id: Int64) async throws -> EmergencyAccess.Listing?
    /// Newest first: every one, or those of a doctor or about a patient; only those not yet reviewed when `unreviewed`.
    func listings(of party: Party?, unreviewed: Bool, limit: Int) async throws -> [EmergencyAccess.Listing]
    /// Whether the doctor holds an emergency access to the report not expired at `time`.
    func hasAccess(reportId: Int64, doctorId: Int64, at time: Int64) async throws -> Bool
    /// Stores a new emergency access, giving its id.
    func insert(_ record: EmergencyAccess.Record) async throws -> Int64
    func markReviewed(id: Int64, by reviewerId: Int64, at time: Int64) async throws
}

/// What a patient's overview counts (``ConsentStore/consentCounts(patientId:at:)``), in one statement.
package struct ConsentCounts: Sendable, Equatable {
    package var pendingRequests: Int
    package var activeGrants: Int

    package init(pendingRequests: Int, activeGrants: Int) {
        self.pendingRequests = pendingRequests
        self.activeGrants = activeGrants
    }
}
