import Foundation
import HospitalCore
import Hummingbird

/// `/api/emergency-accesses`: break the glass (the patient found by name and date of birth), and the
/// admins' review list (``EmergencyAccess``).
struct EmergencyController {
    let emergency: EmergencyAccess

    struct EmergencyView: ResponseCodable {
        var id: Int64
        var reportId: Int64
        var reportTitle: String
        var doctorId: Int64
        var doctorName: String
        var patientId: Int64
        var patientName: String
        var reason: String
        var createdAt: Date
        var expiresAt: Date
        var reviewedAt: Date?
        var reviewerName: String?
        /// The `emergency` entry of the audit ledger.
        var auditEntryId: Int64

        init(_ listing: EmergencyAccess.Listing) {
            let record = listing.record
            id = record.id ?? 0
            reportId = record.reportId
            reportTitle = listing.reportTitle
            doctorId = record.doctorId
            doctorName = listing.doctorName
            patientId = record.patientId
            patientName = listing.patientName
            reason = record.reason
            createdAt = Date(seconds: record.createdAt)
            expiresAt = Date(seconds: record.expiresAt)
            reviewedAt = record.reviewedAt.map(Date.init(seconds:))
            reviewerName = listing.reviewerName
            auditEntryId = record.auditEntryId
        }
    }

    struct Opening: Decodable {
        /// The patient's name as registered.
        var name: String
        /// `YYYY-MM-DD`.
        var dateOfBirth: String
        var reason: String
    }

    func addRoutes(to group: RouterGroup<HospitalRequestContext>) {
        group.post("emergency-accesses", use: open)
        group.get("emergency-accesses", use: list)
        group.post("emergency-accesses/:id/review", use: review)
    }

    /// The reports opened, one access each.
    @Sendable func open(_ request: Request, context: HospitalRequestContext) async throws -> EditedResponse<[EmergencyView]> {
        let doctor = try context.requireIdentity(.doctor)
        let input = try await request.decodeJSON(as: Opening.self, limit: 4096)
        let opened = try await emergency.open(patientNamed: input.name, born: input.dateOfBirth, reason: input.reason, by: doctor)
        return EditedResponse(status: .created, response: opened.map(EmergencyView.init))
    }

    /// `?status=unreviewed` for the admins' review list.
    @Sendable func list(_ request: Request, context: HospitalRequestContext) async throws -> [EmergencyView] {
        let identity = try context.requireIdentity()
        var unreviewed = false
        if let status = request.uri.queryParameters.get("status") {
            guard status == "unreviewed" || status == "all" else {
                throw HospitalError.invalid("status", "The status is unreviewed or all.")
            }
            unreviewed = status == "unreviewed"
        }
        return try await emergency.list(for: identity, unreviewed: unreviewed).map(EmergencyView.init)
    }

    @Sendable func review(_ request: Request, context: HospitalRequestContext) async throws -> EmergencyView {
        let admin = try context.requireIdentity(.admin)
        return EmergencyView(try await emergency.review(try context.id("id"), by: admin))
    }
}
