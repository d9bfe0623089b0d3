import Foundation
import Hex
import HospitalAPI
import HospitalCore
import Hummingbird
import Transparency

/// The admins' pages: doctors waiting for approval, every account (search, disable, enable, clear the
/// sign-in throttle), creating doctors and admins, and the audit ledger as a filterable table with its
/// verification state and a CSV export. Every action is itself a ledger entry.
struct PortalAdminController: Sendable {
    let services: HospitalServices
    let pages: PortalPages
    let clock: @Sendable () -> Int64

    /// The most entries the ledger page shows; the export takes up to ``exportLimit``.
    static let pageLimit = 500
    static let exportLimit = 100_000

    func addRoutes(to group: RouterGroup<PortalRequestContext>) {
        group.get("admin/accounts", use: accounts)
        group.post("admin/accounts", use: create)
        group.post("admin/accounts/{id}/approve", use: { try await decide($0, $1, approve: true) })
        group.post("admin/accounts/{id}/refuse", use: { try await decide($0, $1, approve: false) })
        group.post("admin/accounts/{id}/disable", use: { try await setDisabled($0, $1, true) })
        group.post("admin/accounts/{id}/enable", use: { try await setDisabled($0, $1, false) })
        group.post("admin/accounts/{id}/clear-throttle", use: clearThrottle)
        group.get("admin/audit", use: audit)
        // A ledger entry is written by every export: a POST with the form token, never a link another site
        // could make a signed-in browser follow (SameSite=Lax cookies go with top-level GETs).
        group.post("admin/audit.csv", use: export)
        group.get("admin/audit.csv", use: pages.postOnly)
        group.get("admin/emergency", use: emergencies)
        group.post("admin/emergency/{id}/review", use: review)
    }

    // MARK: Emergency accesses

    /// Every emergency access still to review (all with `?status=all`), newest first, with its reason.
    @Sendable func emergencies(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let admin = try context.requireIdentity(.admin)
        let all = request.uri.queryParameters.get("status") == "all"
        let entries = try await services.emergency.list(for: admin, unreviewed: !all).map { listing in
            AdminEmergencyPage.Entry(
                id: "\(listing.record.id ?? 0)", when: pages.format(listing.record.createdAt), doctor: listing.doctorName,
                patient: listing.patientName, title: listing.reportTitle, reason: listing.record.reason,
                reviewed: listing.record.reviewedAt.map { "\(pages.format($0)) (\(listing.reviewerName ?? ""))" } ?? "",
                isReviewed: listing.record.reviewedAt != nil)
        }
        let page = AdminEmergencyPage(entries: entries, all: all, notice: pages.notice(request, keys: ["reviewed": "reviewed_notice"]))
        return try pages.render(page, request: request, context: context)
    }

    @Sendable func review(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let admin = try context.requireIdentity(.admin)
        _ = try await PortalForm.read(request, context: context)
        _ = try await services.emergency.review(try context.id("id"), by: admin)
        return Response.redirect(to: "/admin/emergency?done=reviewed")
    }

    // MARK: Accounts

    func accountsPage(_ request: Request, context: PortalRequestContext, form: PortalForm? = nil, error: String? = nil) async throws
        -> AdminAccountsPage
    {
        let query = request.uri.queryParameters
        let search = String(PortalForm.query(request)["search"].prefix(100))
        let role = query.get("role").flatMap { Role(rawValue: String($0)) }
        let status = query.get("status").flatMap { AccountStatus(rawValue: String($0)) }
        let pending = try await services.accounts.list(search: "", role: .doctor, status: .pending).map { user in
            AdminAccountsPage.Pending(
                id: "\(user.id ?? 0)", name: user.name, email: user.email, specialization: user.specialization ?? "")
        }
        var accounts: [AdminAccountsPage.Account] = []
        let twoStep = try await services.accounts.secondFactor.enabledAccounts()
        let users = try await services.accounts.list(search: search, role: role, status: status)
        let throttled = try await services.accounts.throttled(users)
        for user in users {
            accounts.append(
                AdminAccountsPage.Account(
                    id: "\(user.id ?? 0)", name: user.name, email: user.email,
                    role: pages.string("role_\(user.role.rawValue)", request: request),
                    status: pages.string("status_\(user.status.rawValue)", request: request),
                    canDisable: user.status == .active && user.id != context.identity?.userId, canEnable: user.status == .disabled,
                    throttled: throttled.contains(user.id ?? 0),
                    canResetTwoStep: twoStep.contains(user.id ?? 0) && user.id != context.identity?.userId))
        }
        let any = pages.string("any", request: request)
        return AdminAccountsPage(
            pending: pending, hasPending: !pending.isEmpty, pendingCount: "\(pending.count)", accounts: accounts, search: search,
            roles: [Choice(value: "", label: any, selected: role == nil)]
                + Role.allCases.map {
                    Choice(value: $0.rawValue, label: pages.string("role_\($0.rawValue)", request: request), selected: $0 == role)
                },
            statuses: [Choice(value: "", label: any, selected: status == nil)]
                + AccountStatus.allCases.map {
                    Choice(value: $0.rawValue, label: pages.string("status_\($0.rawValue)", request: request), selected: $0 == status)
                },
            newName: String((form?["name"] ?? "").prefix(200)), newEmail: String((form?["email"] ?? "").prefix(254)),
            newSpecialization: String((form?["specialization"] ?? "").prefix(100)), error: error,
            notice: pages.notice(
                request,
                keys: [
                    "approved": "approved_notice", "refused": "refused_notice", "disabled": "disabled_notice",
                    "enabled": "enabled_notice", "throttle": "throttle_notice", "created": "created_notice",
                    "two_step_reset": "two_step_reset_notice",
                ]))
    }

    @Sendable func accounts(_ request: Request, context: PortalRequestContext) async throws -> Response {
        _ = try context.requireIdentity(.admin)
        return try pages.render(try await accountsPage(request, context: context), request: request, context: context)
    }

    @Sendable func create(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let admin = try context.requireIdentity(.admin)
        let form = try await PortalForm.read(request, context: context)
        guard let role = Role(rawValue: form["role"]), role != .patient else { throw PortalError.malformedForm }
        let specialization = form["specialization"].trimmingCharacters(in: .whitespaces)
        let input = Accounts.StaffRegistration(
            role: role, name: form["name"], email: form["email"], password: form["password"],
            specialization: role == .doctor ? specialization : nil)
        do {
            _ = try await services.accounts.createStaff(input, by: admin)
        } catch let error as HospitalError where error.status.code < 500 {
            let page = try await accountsPage(request, context: context, form: form, error: pages.words(for: error, request: request))
            return try pages.render(page, status: error.status, request: request, context: context)
        }
        return Response.redirect(to: "/admin/accounts?done=created")
    }

    func decide(_ request: Request, _ context: PortalRequestContext, approve: Bool) async throws -> Response {
        let admin = try context.requireIdentity(.admin)
        _ = try await PortalForm.read(request, context: context)
        _ = try await services.accounts.decide(pending: try context.id("id"), approve: approve, by: admin)
        return Response.redirect(to: "/admin/accounts?done=\(approve ? "approved" : "refused")")
    }

    func setDisabled(_ request: Request, _ context: PortalRequestContext, _ disabled: Bool) async throws -> Response {
        let admin = try context.requireIdentity(.admin)
        _ = try await PortalForm.read(request, context: context)
        _ = try await services.accounts.setDisabled(try context.id("id"), disabled, by: admin)
        return Response.redirect(to: "/admin/accounts?done=\(disabled ? "disabled" : "enabled")")
    }

    @Sendable func clearThrottle(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let admin = try context.requireIdentity(.admin)
        _ = try await PortalForm.read(request, context: context)
        try await services.accounts.clearThrottle(try context.id("id"), by: admin)
        return Response.redirect(to: "/admin/accounts?done=throttle")
    }

    // MARK: Ledger

    /// The filter in the query (`patient`, `actor`, `action`, `outcome`, `from`, `to` as dates in the
    /// portal's zone, `to` inclusive).
    func filter(_ request: Request) -> AuditLedger.Filter {
        let query = request.uri.queryParameters
        var filter = AuditLedger.Filter()
        let typed = PortalForm.query(request)
        filter.patient = String(typed["patient"].prefix(100))
        filter.actor = String(typed["actor"].prefix(100))
        filter.action = query.get("action").flatMap { AuditAction(rawValue: String($0)) }
        filter.outcome = query.get("outcome").flatMap { AuditOutcome(rawValue: String($0)) }
        filter.from = query.get("from").flatMap { pages.startOfDay(String($0)) }
        filter.until = query.get("to").flatMap { pages.startOfDay(String($0)) }.map { $0 + 86400 }
        return filter
    }

    func row(_ named: AuditLedger.NamedEntry, request: Request) -> AdminAuditPage.Entry {
        let entry = named.entry
        return AdminAuditPage.Entry(
            id: "\(entry.id)", when: pages.format(entry.time), who: named.actorName ?? pages.string("someone", request: request),
            what: pages.string("action_\(entry.action.rawValue)", request: request),
            subject: named.reportTitle.map { "\($0) (\(entry.subject))" } ?? entry.subject, patient: named.patientName ?? "",
            outcome: pages.string("outcome_\(entry.outcome.rawValue)", request: request), detail: entry.detail)
    }

    @Sendable func audit(_ request: Request, context: PortalRequestContext) async throws -> Response {
        _ = try context.requireIdentity(.admin)
        let filter = filter(request)
        let entries = try await AuditLedger.search(filter, limit: Self.pageLimit, in: services.storage).map { row($0, request: request) }
        let verification: String
        let intact: Bool
        if let notary = services.notary {
            // Against the signed checkpoints in the checkpoint file and the buckets, as `audit verify` does.
            let report = try await notary.verify()
            intact = report.problems.isEmpty
            verification =
                intact
                ? pages.string(
                    "ledger_signed_intact", request: request,
                    filling: ["count": "\(report.entries)", "checkpoints": "\(report.checkpoints)", "size": "\(report.newest?.size ?? 0)"])
                : pages.string(
                    "ledger_problems", request: request, filling: ["problems": report.problems.map(\.description).joined(separator: "; ")])
        } else {
            switch try await AuditLedger.verify(services.storage) {
            case .intact(let count):
                verification = pages.string("ledger_intact", request: request, filling: ["count": "\(count)"])
                intact = true
            case .broken(let id, let reason):
                verification = pages.string("ledger_broken", request: request, filling: ["id": "\(id)", "reason": reason])
                intact = false
            }
        }
        let query = request.uri.query ?? ""
        let page = AdminAuditPage(
            entries: entries, hasEntries: !entries.isEmpty, verification: verification, verificationClass: intact ? "notice" : "error",
            patient: filter.patient, actor: filter.actor, from: String((request.uri.queryParameters.get("from") ?? "").prefix(10)),
            to: String((request.uri.queryParameters.get("to") ?? "").prefix(10)), query: query.utf8.count <= 1024 ? query : "",
            actions: [Choice(value: "", label: pages.string("action_all", request: request), selected: filter.action == nil)]
                + AuditAction.allCases.map {
                    Choice(
                        value: $0.rawValue, label: pages.string("action_\($0.rawValue)", request: request), selected: $0 == filter.action)
                },
            outcomes: [Choice(value: "", label: pages.string("any", request: request), selected: filter.outcome == nil)]
                + AuditOutcome.allCases.map {
                    Choice(
                        value: $0.rawValue, label: pages.string("outcome_\($0.rawValue)", request: request),
                        selected: $0 == filter.outcome)
                })
        return try pages.render(page, request: request, context: context)
    }

    /// The filtered entries as CSV (RFC 4180), with names; the export is itself a ledger entry.
    @Sendable func export(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let admin = try context.requireIdentity(.admin)
        _ = try await PortalForm.read(request, context: context)
        let filter = filter(request)
        let entries = try await AuditLedger.search(filter, limit: Self.exportLimit, in: services.storage)
        try await AuditLedger.record(
            actor: admin.userId, .ledgerExported, subject: "audit", detail: "\(entries.count) entries", time: clock(), in: services.storage
        )
        var csv = "id,time,actor,action,subject,report,patient,outcome,detail,hash\r\n"
        for named in entries.reversed() {
            let entry = named.entry
            let time = Date(timeIntervalSince1970: TimeInterval(entry.time)).formatted(.iso8601)
            let fields = [
                "\(entry.id)", time, named.actorName ?? "", entry.action.rawValue, entry.subject, named.reportTitle ?? "",
                named.patientName ?? "",
                entry.outcome.rawValue, entry.detail, Hex.encode(entry.hash),
            ]
            csv += fields.map(Self.csvField).joined(separator: ",") + "\r\n"
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"audit-ledger.csv\"",
            ],
            body: .init(byteBuffer: ByteBuffer(string: csv)))
    }

    /// A CSV field: quoted when it holds a comma, quote or line break; a leading `=`, `+`, `-` or `@`
    /// is prefixed with `'` so that a spreadsheet never runs it as a formula.
    static func csvField(_ value: String) -> String {
        var text = value
        if let first = text.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) { text = "'" + text }
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
