import ChunkChain
import Foundation
import HTTPTypes
import HospitalCore
import Hummingbird
import Logging
import NIOCore

/// `/api/patients/{id}/reports`, `/api/reports`: upload, list, download, and asking for access.
struct ReportController {
    let reports: Reports
    let consent: Consent
    let logger: Logger

    struct ReportView: ResponseCodable {
        var id: Int64
        var patientId: Int64
        var patientName: String
        var doctorId: Int64
        var doctorName: String
        var title: String
        var contentType: String
        var size: Int64
        var sha256: String
        var createdAt: Date

        init(_ listing: ReportListing) {
            id = listing.report.id ?? 0
            patientId = listing.report.patientId
            patientName = listing.patientName
            doctorId = listing.report.doctorId
            doctorName = listing.doctorName
            title = listing.report.title
            contentType = listing.report.contentType
            size = listing.report.size
            sha256 = listing.report.sha256
            createdAt = Date(seconds: listing.report.createdAt)
        }
    }

    func addRoutes(to group: RouterGroup<HospitalRequestContext>) {
        group.post("patients/:id/reports", use: upload)
        group.get("patients/:id/reports", use: patientReports)
        group.get("reports", use: list)
        group.get("reports/:id", use: show)
        group.get("reports/:id/content", use: download)
        group.post("reports/:id/access-requests", use: requestAccess)
    }

    /// A patient's reports: their own for the patient; for a doctor with an appointment with them
    /// (booked or completed) the titles of reports by other doctors that may be asked for (a ledger entry
    /// tells the patient); for anyone else, as for a patient that does not exist.
    @Sendable func patientReports(_ request: Request, context: HospitalRequestContext) async throws -> [ReportView] {
        let identity = try context.requireIdentity(.patient, .doctor)
        let patientId = try context.id("id")
        switch identity.role {
        case .patient:
            guard patientId == identity.userId else { throw HospitalError.notFound("patient") }
            return try await reports.list(for: identity).map(ReportView.init)
        case .doctor:
            return try await consent.requestableReports(for: identity, patient: patientId).map(ReportView.init)
        case .admin: throw HospitalError.notFound("patient")
        }
    }

    /// The body is the report itself, streamed; `title` is a query parameter, the Content-Type header is kept.
    @Sendable func upload(_ request: Request, context: HospitalRequestContext) async throws -> EditedResponse<ReportView> {
        let doctor = try context.requireIdentity(.doctor)
        let patientId = try context.id("id")
        guard let title = request.uri.queryParameters.get("title") else { throw HospitalError.invalid("title", "Give the report a title.") }
        var declared: Int64?
        if let header = request.headers[.contentLength] {
            guard let length = Int64(header), length >= 0, header.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw HospitalError.invalid("Content-Length", "Not a length.")
            }
            declared = length
        }
        let upload = Reports.Upload(
            patientId: patientId, title: title, contentType: request.headers[.contentType], declaredLength: declared)
        let listing = try await reports.upload(upload, body: CompleteBody(base: request.body, declaredLength: declared), by: doctor)
        return EditedResponse(status: .created, response: ReportView(listing))
    }

    @Sendable func list(_ request: Request, context: HospitalRequestContext) async throws -> [ReportView] {
        try await reports.list(for: try context.requireIdentity()).map(ReportView.init)
    }

    @Sendable func show(_ request: Request, context: HospitalRequestContext) async throws -> ReportView {
        ReportView(try await reports.report(try context.id("id"), for: try context.requireIdentity()))
    }

    /// The report's bytes (``ReportDownload``).
    @Sendable func download(_ request: Request, context: HospitalRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        return try await ReportDownload.response(try context.id("id"), for: identity, reports: reports, logger: logger)
    }

    @Sendable func requestAccess(_ request: Request, context: HospitalRequestContext) async throws -> EditedResponse<
        ConsentController.AccessRequestView
    > {
        let doctor = try context.requireIdentity(.doctor)
        let listing = try await consent.request(reportId: try context.id("id"), by: doctor)
        return EditedResponse(status: .created, response: .init(listing, maxAttempts: consent.policy.maxAttempts))
    }
}
