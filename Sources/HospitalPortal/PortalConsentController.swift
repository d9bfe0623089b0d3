import Foundation
import HospitalAPI
import HospitalCore
import Hummingbird
import Transparency

/// Consent in the portal. A doctor sees the report titles of patients they have an appointment with
/// (audited), asks for one, enters the code the patient received, then reads the report while the grant
/// lasts. A patient sees who asks, denies, sees and revokes grants, and reads who looked at their data.
struct PortalConsentController: Sendable {
    let services: HospitalServices
    let pages: PortalPages
    let clock: @Sendable () -> Int64

    func addRoutes(to group: RouterGroup<PortalRequestContext>) {
        group.get("access", use: access)
        group.post("access/reports/{id}/request", use: requestAccess)
        group.get("access/emergency", use: emergencyPage)
        group.post("access/emergency", use: openInEmergency)
        group.get("access/requests/{id}", use: codePage)
        group.post("access/requests/{id}", use: redeem)
        group.get("consent", use: consent)
        group.post("consent/requests/{id}/allow", use: allow)
        group.post("consent/requests/{id}/deny", use: deny)
        group.post("consent/grants/{id}/revoke", use: revoke)
        group.get("history", use: history)
        group.get("history/entries/{id}/proof", use: proof)
    }

    /// Time left until `expiry`, in whole minutes (at least 1 while any remains).
    func left(_ expiry: Int64, request: Request) -> String {
        let minutes = max(0, (expiry - clock() + 59) / 60)
        return pages.string("minutes_left", request: request, filling: ["minutes": "\(minutes)"])
    }

    // MARK: Doctors

    @Sendable func access(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let doctor = try context.requireIdentity(.doctor)
        let now = clock()
        var grants = try await services.consent.grants(for: doctor).filter {
            $0.record.revokedAt == nil && $0.record.expiresAt > now
        }.map {
            AccessPage.Grant(
                reportId: "\($0.record.reportId)", title: $0.reportTitle, patient: $0.patientName,
                left: left($0.record.expiresAt, request: request))
        }
        grants += try await services.emergency.list(for: doctor).filter { $0.record.expiresAt > now }.map {
            AccessPage.Grant(
                reportId: "\($0.record.reportId)", title: $0.reportTitle, patient: $0.patientName,
                left: left($0.record.expiresAt, request: request), emergency: true)
        }
        let requests = try await services.consent.requests(for: doctor).prefix(20).map { listing in
            let pending = listing.record.status == .pending && listing.record.expiresAt > now
            return AccessPage.Request(
                id: "\(listing.record.id ?? 0)", title: listing.reportTitle, patient: listing.patientName, pending: pending,
                status: pages.string(pending ? "request_pending" : "request_\(listing.record.status.rawValue)", request: request))
        }
        let requestable = try await services.consent.requestableReports(for: doctor).map { listing in
            AccessPage.Requestable(
                id: "\(listing.report.id ?? 0)", title: listing.report.title, patient: listing.patientName, author: listing.doctorName,
                date: pages.format(listing.report.createdAt))
        }
        let page = AccessPage(grants: grants, requests: Array(requests), requestable: requestable, notice: notice(request))
        return try pages.render(page, request: request, context: context)
    }

    @Sendable func requestAccess(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let doctor = try context.requireIdentity(.doctor)
        _ = try await PortalForm.read(request, context: context)
        let listing = try await services.consent.request(reportId: try context.id("id"), by: doctor)
        return Response.redirect(to: "/access/requests/\(listing.record.id ?? 0)?done=requested")
    }

    /// The emergency form: the patient's name and date of birth, and the reason, first.
    func emergencyPage(request: Request) -> EmergencyPage {
        EmergencyPage(
            lead: pages.string(
                "emergency_lead", request: request, filling: ["minutes": "\(services.emergency.policy.lifetime.wholeSeconds / 60)"]))
    }

    @Sendable func emergencyPage(_ request: Request, context: PortalRequestContext) async throws -> Response {
        _ = try context.requireIdentity(.doctor)
        return try pages.render(emergencyPage(request: request), request: request, context: context)
    }

    /// Breaks the glass for the patient named on the form; the reports opened are then on the access page.
    @Sendable func openInEmergency(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let doctor = try context.requireIdentity(.doctor)
        let form = try await PortalForm.read(request, context: context)
        do {
            _ = try await services.emergency.open(
                patientNamed: form["name"], born: form["date_of_birth"], reason: form["reason"], by: doctor)
            return Response.redirect(to: "/access?done=emergency")
        } catch let error as HospitalError where error.status.code < 500 {
            var page = emergencyPage(request: request)
            page.name = String(form["name"].prefix(200))
            page.dateOfBirth = String(form["date_of_birth"].prefix(10))
            page.reason = String(form["reason"].prefix(300))
            // In the portal's words: the reason's rule next to its field, else what happened above the form (the
            // form does not rely on the browser's own check: `novalidate`).
            switch error.field {
            case "reason": page.problem = pages.string("hint_emergency_reason", request: request)
            case "dateOfBirth": page.error = pages.string("hint_date_of_birth", request: request)
            default:
                page.error =
                    error.code == .notFound
                    ? pages.string("emergency_no_patient", request: request)
                    : pages.words(for: error, request: request)
            }
            var response = try pages.render(page, status: error.status, request: request, context: context)
            if let retryAfter = error.retryAfter { response.headers[.retryAfter] = String(retryAfter) }
            return response
        }
    }

    func codePage(_ listing: AccessRequestListing, request: Request, problem: String? = nil) -> CodePage {
        let record = listing.record
        var page = CodePage(
            id: "\(record.id ?? 0)", title: listing.reportTitle, patient: listing.patientName, expires: pages.format(record.expiresAt),
            attemptsLeft: "\(max(0, services.consent.policy.maxAttempts - record.attempts))", problem: problem)
        if record.status != .pending || record.expiresAt <= clock() {
            let status = pages.string(record.status == .pending ? "request_void" : "request_\(record.status.rawValue)", request: request)
            page.closed = pages.string("request_closed", request: request, filling: ["status": status])
        } else {
            // An old "code sent" link to a request that has closed since says only that it is closed.
            page.notice = notice(request)
        }
        return page
    }

    @Sendable func codePage(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let doctor = try context.requireIdentity(.doctor)
        let listing = try await services.consent.request(try context.id("id"), of: doctor)
        return try pages.render(codePage(listing, request: request), request: request, context: context)
    }

    @Sendable func redeem(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let doctor = try context.requireIdentity(.doctor)
        let form = try await PortalForm.read(request, context: context)
        let id = try context.id("id")
        do {
            _ = try await services.consent.redeem(requestId: id, code: form["code"].trimmingCharacters(in: .whitespaces), by: doctor)
            return Response.redirect(to: "/access?done=granted")
        } catch let error as HospitalError where error.status.code < 500 && error.status != .notFound {
            let listing = try await services.consent.request(id, of: doctor)
            return try pages.render(
                codePage(listing, request: request, problem: pages.words(for: error, request: request)), status: error.status,
                request: request, context: context)
        }
    }

    // MARK: Patients

    @Sendable func consent(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let patient = try context.requireIdentity(.patient)
        let now = clock()
        let requests = try await services.consent.requests(for: patient, status: .pending).filter { $0.record.expiresAt > now }.map {
            listing in
            ConsentPage.Request(
                id: "\(listing.record.id ?? 0)", doctor: listing.doctorName, specialization: listing.doctorSpecialization ?? "",
                title: listing.reportTitle, expires: pages.format(listing.record.expiresAt))
        }
        let grants = try await services.consent.grants(for: patient).filter { $0.record.revokedAt == nil && $0.record.expiresAt > now }.map
        { listing in
            ConsentPage.Grant(
                id: "\(listing.record.id ?? 0)", doctor: listing.doctorName, title: listing.reportTitle,
                left: left(listing.record.expiresAt, request: request))
        }
        return try pages.render(
            ConsentPage(requests: requests, grants: grants, notice: notice(request)), request: request, context: context)
    }

    /// The patient allows a request here instead of handing over its code.
    @Sendable func allow(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let patient = try context.requireIdentity(.patient)
        _ = try await PortalForm.read(request, context: context)
        _ = try await services.consent.approve(requestId: try context.id("id"), by: patient)
        return Response.redirect(to: "/consent?done=allowed")
    }

    @Sendable func deny(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let patient = try context.requireIdentity(.patient)
        _ = try await PortalForm.read(request, context: context)
        _ = try await services.consent.deny(requestId: try context.id("id"), by: patient)
        return Response.redirect(to: "/consent?done=denied")
    }

    @Sendable func revoke(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let patient = try context.requireIdentity(.patient)
        _ = try await PortalForm.read(request, context: context)
        _ = try await services.consent.revoke(grantId: try context.id("id"), by: patient)
        return Response.redirect(to: "/consent?done=revoked")
    }

    /// "Who looked at my data": the ledger's entries about the patient, newest first. Beside each entry's
    /// ✓ stands only what its leaf holds, so what the signed tree covers: the names and title an entry
    /// carries since leaf version 2, the ids of older entries (names looked up now could have been swapped
    /// in the tables by an insider).
    @Sendable func history(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let patient = try context.requireIdentity(.patient)
        let chosen = request.uri.queryParameters.get("action").flatMap { AuditAction(rawValue: String($0)) }
        // The patient's whole history (the newest 2000 entries are shown, and only they are kept).
        let entries = try await AuditLedger.allEntries(
            for: patient, in: services.storage, matching: { chosen == nil || $0.action == chosen }, keepingLast: 2000)
        // No mark when no proof can be made (the signer refuses the ledger's head): the page still shows.
        let verified = (try? await services.notary?.verified(entries)) ?? []
        let rows = entries.reversed().map { entry in
            let names = entry.names
            let who =
                entry.actorId == patient.userId
                ? pages.string("you", request: request)
                : names.map { $0.actor.isEmpty ? nil : $0.actor }
                    ?? entry.actorId.map { pages.string("user_id", request: request, filling: ["id": "\($0)"]) }
            let title =
                names?.report
                ?? Self.reportId(entry.subject).map { pages.string("report_id", request: request, filling: ["id": "\($0)"]) } ?? ""
            return HistoryPage.Entry(
                when: pages.format(entry.time), who: who ?? pages.string("someone", request: request),
                what: pages.string("action_\(entry.action.rawValue)", request: request), title: title,
                outcome: pages.string("outcome_\(entry.outcome.rawValue)", request: request), id: "\(entry.id)",
                verified: verified.contains(entry.id),
                // The patient is owed the doctor's reason for opening their report without consent.
                reason: entry.action == .emergency && !entry.detail.isEmpty ? entry.detail : nil)
        }
        let actions =
            [Choice(value: "", label: pages.string("action_all", request: request), selected: chosen == nil)]
            + AuditAction.allCases.map {
                Choice(value: $0.rawValue, label: pages.string("action_\($0.rawValue)", request: request), selected: $0 == chosen)
            }
        let key = services.notary.map { $0.signer.verifier.description }
        let page = HistoryPage(
            entries: rows, actions: actions,
            proofLead: key.map { pages.string("history_proof_lead", request: request, filling: ["key": $0]) } ?? "")
        return try pages.render(page, request: request, context: context)
    }

    /// An entry's proof as a file to keep and check offline (`chainvault audit check-proof`): only for
    /// the patient the entry is about.
    @Sendable func proof(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let patient = try context.requireIdentity(.patient)
        let id = try context.id("id")
        let entry = try await AuditLedger.entry(id, in: services.storage)
        guard let entry, entry.patientId == patient.userId, let notary = services.notary, let proof = try await notary.proof(entry: id)
        else {
            throw HospitalError.notFound("audit entry")
        }
        return AuditController.proofFile(proof, entry: id)
    }

    /// The report id of a ledger subject `report:12`.
    static func reportId(_ subject: String) -> Int64? {
        subject.hasPrefix("report:") ? Int64(subject.dropFirst("report:".count)) : nil
    }

    func notice(_ request: Request) -> String? {
        pages.notice(
            request,
            keys: [
                "requested": "requested_notice", "granted": "granted_notice", "denied": "denied_notice", "revoked": "revoked_notice",
                "emergency": "emergency_notice", "allowed": "allowed_notice",
            ])
    }
}
