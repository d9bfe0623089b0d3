import Foundation
import HospitalAPI
import HospitalCore
import Hummingbird
import Logging

/// A person's own profile: phone (patients), the time zone the portal shows times in, a password
/// change (every session ends, this browser gets a new one), and signing out everywhere.
struct PortalProfileController: Sendable {
    let services: HospitalServices
    let pages: PortalPages
    let cookies: PortalCookies

    func addRoutes(to group: RouterGroup<PortalRequestContext>) {
        group.get("profile", use: profile)
        group.post("profile", use: save)
        group.post("profile/password", use: changePassword)
        group.post("profile/sessions/end", use: signOutEverywhere)
        // Writes a ledger entry: a POST with the form token, not a link another site could have followed.
        group.post("profile/export", use: export)
        group.get("profile/export", use: pages.postOnly)
    }

    /// What a patient's archive says about an appointment.
    struct AppointmentRecord: Encodable {
        var startsAt: Date
        var durationMinutes: Int
        var doctor: String
        var status: String
        var reason: String?
    }

    /// What a patient's archive says about a ledger entry.
    struct LedgerRecord: Encodable {
        var id: Int64
        var time: Date
        var who: String?
        var action: String
        var subject: String
        var outcome: String
        var detail: String
    }

    /// "Download all my data" (a patient's right of access): one tar archive, streamed, with
    /// `profile.json`, `appointments.json`, `ledger.json` (every entry about them) and every report's
    /// bytes under `reports/`. The export and each report read are ledger entries.
    @Sendable func export(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let patient = try context.requireIdentity(.patient)
        _ = try await PortalForm.read(request, context: context)
        let now = services.clock()
        try await AuditLedger.record(
            actor: patient.userId, .dataExported, subject: "user:\(patient.userId)", patient: patient.userId, detail: "", time: now,
            in: services.storage)
        let user = try await services.accounts.user(id: patient.userId)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        let profile: [String: String?] = [
            "name": user.name, "email": user.email, "dateOfBirth": user.dateOfBirth, "phone": user.phone, "timeZone": user.timeZone,
            "registered": ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(user.createdAt))),
        ]
        let appointments = try await services.scheduling.slots(for: patient).map {
            AppointmentRecord(
                startsAt: Date(timeIntervalSince1970: TimeInterval($0.slot.startsAt)), durationMinutes: $0.slot.durationMinutes,
                doctor: $0.doctorName, status: $0.slot.status.rawValue, reason: $0.slot.reason)
        }
        // Each report is opened (and its read recorded) first, so that the ledger in the archive has it.
        var found: [(name: String, report: Report)] = []
        for listing in try await services.reports.list(for: patient) {
            let report = try await services.reports.openForDownload(listing.report.id ?? 0, by: patient).report
            let suffix = ReportDownload.fileExtension(report.contentType).map { "." + $0 } ?? ""
            let title = report.title.lowercased().hasSuffix(suffix) ? report.title : report.title + suffix
            found.append((TarStream.path(in: "my-data/reports/", file: "\(report.id ?? 0)-\(title)"), report))
        }
        let reports = found
        let entries = try await AuditLedger.allEntries(for: patient, in: services.storage)
        let names = try await services.accounts.names(Set(entries.compactMap(\.actorId)))
        let ledger = entries.map {
            LedgerRecord(
                id: $0.id, time: Date(timeIntervalSince1970: TimeInterval($0.time)), who: $0.actorId.flatMap { names[$0] },
                action: $0.action.rawValue, subject: $0.subject, outcome: $0.outcome.rawValue, detail: $0.detail)
        }
        let documents: [(name: String, bytes: Data)] = [
            ("my-data/profile.json", try encoder.encode(profile)), ("my-data/appointments.json", try encoder.encode(appointments)),
            ("my-data/ledger.json", try encoder.encode(ledger)),
        ]

        func padded(_ size: Int64) -> Int64 { Int64(TarStream.block) + size + Int64(TarStream.padding(after: size).readableBytes) }
        let length =
            documents.reduce(0) { $0 + padded(Int64($1.bytes.count)) } + reports.reduce(0) { $0 + padded($1.report.size) }
            + Int64(TarStream.end.readableBytes)
        let day = Date(timeIntervalSince1970: TimeInterval(now)).formatted(.iso8601.year().month().day())
        let reportsService = services.reports
        let logger = context.logger
        return Response(
            status: .ok,
            headers: [
                .contentType: "application/x-tar", .contentLength: String(length), .cacheControl: "no-store",
                .contentDisposition: "attachment; filename=\"my-data-\(day).tar\"",
            ],
            body: ResponseBody(contentLength: Int(length)) { writer in
                for document in documents {
                    try await writer.write(TarStream.header(name: document.name, size: Int64(document.bytes.count), modified: now))
                    try await writer.write(ByteBuffer(bytes: document.bytes))
                    try await writer.write(TarStream.padding(after: Int64(document.bytes.count)))
                }
                for (name, report) in reports {
                    try await writer.write(TarStream.header(name: name, size: report.size, modified: report.createdAt))
                    try await ReportDownload.write(report, for: patient, reports: reportsService, logger: logger, to: &writer)
                    try await writer.write(TarStream.padding(after: report.size))
                }
                try await writer.write(TarStream.end)
                try await writer.finish(nil)
            })
    }

    func page(_ identity: Identity, request: Request, detailsError: String? = nil, passwordError: String? = nil) async throws
        -> ProfilePage
    {
        let user = try await services.accounts.user(id: identity.userId)
        return ProfilePage(
            name: user.name, email: user.email, role: pages.string("role_\(user.role.rawValue)", request: request),
            phone: user.phone ?? "", isPatient: user.role == .patient, isDoctor: user.role == .doctor,
            zones: TimeZone.knownTimeZoneIdentifiers.sorted().map { ProfilePage.Zone(name: $0, selected: $0 == user.timeZone) },
            specialization: user.specialization ?? "", about: user.about ?? "", defaultZone: pages.configuration.timeZone.identifier,
            twoStepOn: try await services.accounts.secondFactor.isEnabled(userId: identity.userId), detailsError: detailsError,
            passwordError: passwordError,
            notice: pages.notice(
                request,
                keys: [
                    "saved": "saved_notice", "password": "password_changed_notice", "two_step_off": "two_step_off_notice",
                    "two_step_wrong": "two_step_wrong_notice", "password_wrong": "two_step_password_wrong_notice",
                ]))
    }

    @Sendable func profile(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        return try pages.render(try await page(identity, request: request), request: request, context: context)
    }

    @Sendable func save(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        let form = try await PortalForm.read(request, context: context)
        let zone = form["time_zone"].isEmpty ? nil : form["time_zone"]
        do {
            let doctor =
                identity.role == .doctor
                ? Accounts.PublicProfile(specialization: form["specialization"], about: form["about"]) : Accounts.PublicProfile()
            _ = try await services.accounts.updateProfile(
                identity.userId, phone: identity.role == .patient ? form["phone"] : nil, timeZone: zone, doctor: doctor)
        } catch let error as HospitalError where error.status.code < 500 {
            let page = try await page(identity, request: request, detailsError: pages.words(for: error, request: request))
            return try pages.render(page, status: error.status, request: request, context: context)
        }
        return Response.redirect(to: "/profile?done=saved")
    }

    @Sendable func changePassword(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        let form = try await PortalForm.read(request, context: context)
        do {
            try await services.accounts.changePassword(
                identity.userId, current: form["current"], new: form["new"], client: context.clientAddress)
        } catch let error as HospitalError where error.status.code < 500 {
            let message = pages.words(for: error, request: request)
            var response = try pages.render(
                try await page(identity, request: request, passwordError: message), status: error.status, request: request,
                context: context)
            if let retryAfter = error.retryAfter { response.headers[.retryAfter] = String(retryAfter) }
            return response
        }
        // Every session ended with the change; this browser gets a new one.
        let session = try await services.accounts.renewSession(userId: identity.userId, kind: .portal)
        var response = Response.redirect(to: "/profile?done=password")
        response.setCookie(cookies.session(session.token))
        return response
    }

    @Sendable func signOutEverywhere(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        _ = try await PortalForm.read(request, context: context)
        try await services.accounts.endSessions(identity.userId)
        var response = Response.redirect(to: "/login?signed_out=1")
        response.setCookie(cookies.endedSession)
        return response
    }
}
