/// Reports (the head pointers of their chains, never their bytes), as a ``HospitalTransaction`` reads
/// and writes them. Lists are newest first and hold at most `limit` rows.
package protocol ReportStore: Sendable {
    func report(id: Int64) async throws -> Report?
    /// A report with its patient's and author's names.
    func listing(report id: Int64) async throws -> ReportListing?
    /// A patient's reports.
    func listings(patientId: Int64, limit: Int) async throws -> [ReportListing]
    /// What a doctor may read at `time`: their own reports, and those under a grant or an emergency access.
    func listings(readableByDoctor doctorId: Int64, at time: Int64, limit: Int) async throws -> [ReportListing]
    /// Reports by other authors of the patients the doctor has a booked or completed appointment with
    /// (only `patientId`'s when given), by patient name.
    func listings(requestableByDoctor doctorId: Int64, patientId: Int64?, limit: Int) async throws -> [ReportListing]
    /// A patient's reports, oldest first.
    func reports(patientId: Int64) async throws -> [Report]
    /// Every report's id and head pointer, in id order.
    func heads() async throws -> [(id: Int64, head: String)]
    /// Reports whose last verification, intact or not, is at or before `time` (never verified first),
    /// the longest-waiting first.
    func heads(lastVerifiedAtOrBefore time: Int64, limit: Int) async throws -> [(id: Int64, head: String)]

    /// Stores a new report, giving its id.
    func insert(_ report: Report) async throws -> Int64
    /// Records a verification by head pointer: an intact chain sets `verifiedAt` and clears
    /// `damagedAt`, a damaged one sets `damagedAt`. A head no report has changes nothing.
    func recordVerification(head: String, intact: Bool, at time: Int64) async throws
}
