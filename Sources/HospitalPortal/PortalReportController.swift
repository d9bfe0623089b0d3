import Foundation
import HospitalAPI
import HospitalCore
import Hummingbird
import Logging

/// Reports in the portal: the list each person may read with download links, and the doctor's upload
/// of a completed checkup's report as a file, streamed from the form into its chain.
struct PortalReportController: Sendable {
    let services: HospitalServices
    let pages: PortalPages
    let logger: Logger

    func addRoutes(to group: RouterGroup<PortalRequestContext>) {
        group.get("reports", use: list)
        group.get("reports/{id}/download", use: download)
        group.get("calendar/slots/{id}/report", use: uploadPage)
        group.post("calendar/slots/{id}/report", use: upload)
    }

    @Sendable func list(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        let reports = try await services.reports.list(for: identity).map { listing in
            let report = listing.report
            var row = ReportsPage.Report(
                id: "\(report.id ?? 0)", title: report.title, doctor: listing.doctorName, patient: listing.patientName,
                date: pages.format(report.createdAt), size: PortalPages.size(report.size), sha256: report.sha256,
                fingerprint: Self.fingerprint(report.sha256))
            // From the last recorded verification (at upload, then `chain verify --all`), not from reading chunks now.
            if let damaged = report.damagedAt {
                row.damaged = pages.string("damaged_on", request: request, filling: ["date": pages.format(damaged)])
            } else if let verified = report.verifiedAt {
                row.verified = pages.string("verified_on", request: request, filling: ["date": pages.format(verified)])
            }
            return row
        }
        return try pages.render(ReportsPage(reports: reports), request: request, context: context)
    }

    /// The first 64 bits of the SHA-256 in groups of four (`3f1c 9a2b 77e0 51d4`): enough to compare a
    /// copy by eye; the whole digest is in the cell's title and the download's `X-Content-SHA256`.
    static func fingerprint(_ sha256: String) -> String {
        stride(from: 0, to: min(16, sha256.count), by: 4).map { offset in
            let start = sha256.index(sha256.startIndex, offsetBy: offset)
            return String(sha256[start..<sha256.index(start, offsetBy: min(4, sha256.count - offset))])
        }.joined(separator: " ")
    }

    /// A report's file. A doctor who may ask the patient for it, but has no consent yet, gets a page that
    /// says so with the button that asks (never the API's words).
    @Sendable func download(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        let id = try context.id("id")
        do {
            return try await ReportDownload.response(id, for: identity, reports: services.reports, logger: logger)
        } catch let error as HospitalError where error.code == .consentRequired {
            let page = ErrorPage(
                heading: pages.string("consent_needed_title", request: request), message: pages.string("consent_needed", request: request),
                action: .init(path: "/access/reports/\(id)/request", label: pages.string("ask_patient", request: request)))
            return try pages.render(page, status: .forbidden, request: request, context: context)
        }
    }

    /// The doctor's completed slot `id`.
    func completedSlot(_ context: PortalRequestContext, doctor: Identity) async throws -> SlotListing {
        guard let listing = try await services.scheduling.slot(id: try context.id("id")), listing.slot.doctorId == doctor.userId,
            listing.slot.status == .completed, listing.slot.patientId != nil
        else { throw HospitalError.notFound("checkup") }
        return listing
    }

    func uploadPage(_ listing: SlotListing, title: String = "", error: String? = nil) -> UploadPage {
        UploadPage(
            id: "\(listing.slot.id ?? 0)", patient: listing.patientName ?? "", when: pages.format(listing.slot.startsAt),
            limit: PortalPages.size(services.reports.maxSize), reportTitle: title, error: error)
    }

    @Sendable func uploadPage(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let doctor = try context.requireIdentity(.doctor)
        return try pages.render(uploadPage(try await completedSlot(context, doctor: doctor)), request: request, context: context)
    }

    /// The form's fields come first (its token, the title), then the file, which streams into the chain.
    @Sendable func upload(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let doctor = try context.requireIdentity(.doctor)
        let listing = try await completedSlot(context, doctor: doctor)
        guard let boundary = MultipartFormReader<RequestBody.AsyncIterator>.boundary(contentType: request.headers[.contentType]) else {
            throw PortalError.malformedForm
        }
        let reader = MultipartFormReader(request.body.makeAsyncIterator(), boundary: boundary)
        /// The reader's next event; its failures are the form's.
        func next() async throws -> MultipartFormReader<RequestBody.AsyncIterator>.Event {
            do {
                return try await reader.next()
            } catch MultipartFormReader<RequestBody.AsyncIterator>.Failure.tooLarge {
                throw PortalError.tooLarge
            } catch is MultipartFormReader<RequestBody.AsyncIterator>.Failure {
                throw PortalError.malformedForm
            }
        }
        var fields: [String: String] = [:]
        var file: (filename: String, contentType: String?)?
        reading: while true {
            switch try await next() {
            case .field(let name, let value): fields[name] = value
            case .file(_, let filename, let contentType):
                file = (filename, contentType)
                break reading
            case .bytes, .fileEnd, .end: break reading
            }
        }
        // The token is checked before a byte of the file is read.
        guard PortalForm.matches(fields["form_token"] ?? "", context.portal.formToken) else { throw PortalError.formExpired }
        let typedTitle = String((fields["title"] ?? "").prefix(200))
        func again(_ key: String, status: HTTPResponse.Status) throws -> Response {
            try pages.render(
                uploadPage(listing, title: typedTitle, error: pages.string(key, request: request)), status: status, request: request,
                context: context)
        }
        guard let file, !file.filename.isEmpty else { return try again("no_file", status: .badRequest) }
        // An empty file is refused before anything is stored.
        let first: ByteBuffer
        switch try await next() {
        case .bytes(let buffer): first = buffer
        case .fileEnd, .end, .field, .file: return try again("empty_file", status: .badRequest)
        }
        let name = file.filename.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? file.filename
        let title = typedTitle.trimmingCharacters(in: .whitespaces).isEmpty ? name : typedTitle
        let upload = Reports.Upload(
            patientId: listing.slot.patientId ?? 0, title: title, contentType: file.contentType, declaredLength: nil)
        do {
            _ = try await services.reports.upload(upload, body: MultipartFileBytes(reader: reader, first: first), by: doctor)
        } catch let error as HospitalError where error.code == .tooLarge {
            return try again("too_large", status: .contentTooLarge)
        } catch let error as HospitalError where error == .insufficientStorage {
            return try again("storage_full", status: error.status)
        } catch let error as HospitalError where error.field == "title" || error.field == "contentType" {
            return try pages.render(
                uploadPage(listing, title: typedTitle, error: pages.words(for: error, request: request)), status: error.status,
                request: request, context: context)
        } catch is MultipartFormReader<RequestBody.AsyncIterator>.Failure {
            throw PortalError.malformedForm
        }
        return Response.redirect(to: "/calendar?done=uploaded")
    }
}
