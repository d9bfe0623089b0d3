import Foundation
import HospitalAPI
import HospitalCore
import Hummingbird
import Logging

/// The portal's pages: home, sign-in and registration, the overview of each role, the doctor directory.
/// Handlers read forms only through ``PortalForm`` (which checks the form token) and reach the same
/// services as the API, so that every rule and every audit entry is the API's.
struct PortalController: Sendable {
    let services: HospitalServices
    let pages: PortalPages
    let cookies: PortalCookies
    let clock: @Sendable () -> Int64
    /// The code page of accounts with a second step.
    let secondStep: PortalSecondFactorController

    func addRoutes(to group: RouterGroup<PortalRequestContext>) {
        group.get("/", use: home)
        group.get("login", use: loginPage)
        group.post("login", use: login)
        group.post("logout", use: logout)
        group.get("register", use: registerPage)
        group.post("register", use: register)
        group.get("register/doctor", use: doctorRegistrationPage)
        group.post("register/doctor", use: registerDoctor)
        group.get("register/activate", use: activationPage)
        group.post("register/activate", use: activate)
        group.post("session/refresh", use: refresh)
        group.get("password/forgot", use: forgotPage)
        group.post("password/forgot", use: forgot)
        group.get("password/reset", use: resetPage)
        group.post("password/reset", use: reset)
        group.get("dashboard", use: dashboard)
        group.get("doctors", use: doctors)
        group.get("doctors/{id}", use: doctor)
    }

    @Sendable func home(_ request: Request, context: PortalRequestContext) async throws -> Response {
        try pages.render(HomePage(), request: request, context: context)
    }

    // MARK: Signing in and out

    @Sendable func loginPage(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let next = request.uri.queryParameters.get("next").flatMap(PortalPaths.safeReturn)
        if context.identity != nil { return Response.redirect(to: next ?? "/dashboard") }
        var page = LoginPage(next: next ?? "", expired: request.uri.queryParameters.get("expired") == "1")
        if request.uri.queryParameters.get("signed_out") == "1" { page.notice = pages.string("signed_out", request: request) }
        if request.uri.queryParameters.get("reset") == "1" { page.notice = pages.string("reset_notice", request: request) }
        if request.uri.queryParameters.get("again") == "1" { page.notice = pages.string("sign_in_again", request: request) }
        return try pages.render(page, request: request, context: context)
    }

    @Sendable func login(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let form = try await PortalForm.read(request, context: context)
        let next = PortalPaths.safeReturn(form["next"])
        do {
            let step = try await services.accounts.beginLogin(
                email: form["email"], password: form["password"], client: context.clientAddress, kind: .portal)
            let session: Accounts.Session
            switch step {
            case .signedIn(let signedIn): session = signedIn
            case .secondFactor(let challenge):
                return try secondStep.codePage(challenge: challenge, next: next, request: request, context: context)
            }
            // A new session id at every sign-in: one planted before it (fixation) is worth nothing after.
            if let previous = context.portal.sessionToken { try? await services.accounts.logout(token: previous) }
            var response = Response.redirect(to: next ?? "/dashboard")
            response.setCookie(cookies.session(session.token))
            return response
        } catch let error as HospitalError {
            switch error.code {
            case .badCredentials, .throttled, .busy, .accountPending, .accountDisabled: break
            default: throw error
            }
            let message = pages.words(for: error, request: request)
            var response = try pages.render(
                LoginPage(next: next ?? "", email: String(form["email"].prefix(254)), error: message), status: error.status,
                request: request, context: context)
            if let retryAfter = error.retryAfter { response.headers[.retryAfter] = String(retryAfter) }
            return response
        }
    }

    @Sendable func logout(_ request: Request, context: PortalRequestContext) async throws -> Response {
        _ = try await PortalForm.read(request, context: context)
        if let token = context.portal.sessionToken { try await services.accounts.logout(token: token) }
        var response = Response.redirect(to: "/login?signed_out=1")
        response.setCookie(cookies.endedSession)
        return response
    }

    /// The idle warning's "stay signed in": the session middleware refreshed the session on the way in.
    @Sendable func refresh(_ request: Request, context: PortalRequestContext) async throws -> Response {
        _ = try await PortalForm.read(request, context: context)
        _ = try context.requireIdentity()
        return Response(status: .noContent)
    }

    // MARK: Password reset

    @Sendable func forgotPage(_ request: Request, context: PortalRequestContext) async throws -> Response {
        try pages.render(ForgotPage(), request: request, context: context)
    }

    /// The same answer whether or not the address has an account. The link is built from the configured
    /// portal address, never from the request's `Host` (which an attacker chooses).
    @Sendable func forgot(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let form = try await PortalForm.read(request, context: context)
        do {
            try await services.accounts.requestPasswordReset(email: form["email"], client: context.clientAddress) { token in
                pages.configuration.link("/password/reset?token=\(token)")
            }
        } catch let error as HospitalError where error.status == .tooManyRequests {
            var response = try pages.render(
                ForgotPage(error: pages.throttled(error.retryAfter ?? 60, request: request)), status: error.status, request: request,
                context: context)
            response.headers[.retryAfter] = String(error.retryAfter ?? 60)
            return response
        } catch let error as HospitalError {
            throw error
        } catch {
            // The link could not be sent: said in the log without the address, answered as if sent.
            context.logger.error("password-reset mail not sent", metadata: ["error": "\(type(of: error))"])
        }
        return try pages.render(ForgotPage(sent: true), request: request, context: context)
    }

    @Sendable func resetPage(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let token = String((request.uri.queryParameters.get("token") ?? "").prefix(128))
        return try pages.render(ResetPage(token: token), request: request, context: context)
    }

    @Sendable func reset(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let form = try await PortalForm.read(request, context: context)
        do {
            try await services.accounts.resetPassword(token: form["token"], newPassword: form["new"])
        } catch let error as HospitalError where error.status.code < 500 {
            return try pages.render(
                ResetPage(token: String(form["token"].prefix(128)), error: pages.words(for: error, request: request)),
                status: error.status, request: request, context: context)
        }
        var response = Response.redirect(to: "/login?reset=1")
        response.setCookie(cookies.endedSession)
        return response
    }

    // MARK: Registration

    /// The registration form's fields: form name, the API's field name, catalogue keys, input type.
    typealias Field = (name: String, api: String, label: String, hint: String?, type: String, autocomplete: String)

    static let registrationFields: [Field] = [
        ("name", "name", "field_name", nil, "text", "name"),
        ("email", "email", "field_email", nil, "email", "email"),
        ("password", "password", "field_password", "hint_password", "password", "new-password"),
        ("date_of_birth", "dateOfBirth", "field_date_of_birth", "hint_date_of_birth", "text", "bday"),
        ("phone", "phone", "field_phone", nil, "tel", "tel"),
    ]

    /// A doctor's registration form.
    static let doctorFields: [Field] = [
        ("name", "name", "field_name", "hint_doctor_name", "text", "name"),
        ("email", "email", "field_email", nil, "email", "email"),
        ("password", "password", "field_password", "hint_password", "password", "new-password"),
        ("specialization", "specialization", "field_specialization", nil, "text", "organization-title"),
    ]

    /// A sign-up form's fields as typed, with the problem beside its field or, for a problem of no
    /// field, as the form's error.
    func registrationFields(
        _ form: PortalForm?, problem: HospitalError?, request: Request, fields formFields: [Field] = registrationFields
    ) -> (fields: [RegistrationField], error: String?) {
        let fields = formFields.map { field in
            RegistrationField(
                name: field.name, label: pages.string(field.label, request: request), type: field.type,
                autocomplete: field.autocomplete,
                // A password is never sent back into the page.
                value: field.name == "password" ? "" : String((form?[field.name] ?? "").prefix(256)),
                hint: field.hint.map { pages.string($0, request: request) },
                problem: problem.flatMap { $0.field == field.api ? pages.words(for: $0, request: request) : nil })
        }
        guard let problem, !formFields.contains(where: { $0.api == problem.field }) else { return (fields, nil) }
        return (fields, pages.words(for: problem, request: request))
    }

    @Sendable func registerPage(_ request: Request, context: PortalRequestContext) async throws -> Response {
        if context.identity != nil { return Response.redirect(to: "/dashboard") }
        return try pages.render(
            RegisterPage(fields: registrationFields(nil, problem: nil, request: request).fields), request: request, context: context)
    }

    /// The same answer whether or not the address has an account: a link opens a new one, the owner of a
    /// taken one is told (``Accounts/signUp(_:client:link:)-(PatientRegistration,_,_)``).
    @Sendable func register(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let form = try await PortalForm.read(request, context: context)
        let registration = Accounts.PatientRegistration(
            name: form["name"], email: form["email"], password: form["password"], dateOfBirth: form["date_of_birth"], phone: form["phone"])
        do {
            try await services.accounts.signUp(registration, client: context.clientAddress) { path in pages.configuration.link(path) }
            return try pages.render(RegisterPage(sent: true), request: request, context: context)
        } catch let error as HospitalError where error.status.code < 500 {
            let (fields, message) = registrationFields(form, problem: error, request: request, fields: Self.registrationFields)
            return try registrationProblem(RegisterPage(fields: fields, error: message), error: error, request: request, context: context)
        }
    }

    private func registrationProblem(_ page: some PortalPage, error: HospitalError, request: Request, context: PortalRequestContext)
        throws -> Response
    {
        var response = try pages.render(page, status: error.status, request: request, context: context)
        if let retryAfter = error.retryAfter { response.headers[.retryAfter] = String(retryAfter) }
        return response
    }

    /// The page a sign-up's link opens: the password chosen at sign-up opens the account (nothing happens on
    /// the GET, which mail scanners follow).
    @Sendable func activationPage(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let token = String((request.uri.queryParameters.get("token") ?? "").prefix(128))
        return try pages.render(ActivatePage(token: token), request: request, context: context)
    }

    /// Opens the account: a patient is signed in at once, a doctor learns that an admin approves next.
    @Sendable func activate(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let form = try await PortalForm.read(request, context: context)
        let token = String(form["token"].prefix(128))
        do {
            let user = try await services.accounts.activate(token: token, password: form["password"], client: context.clientAddress)
            guard user.role == .patient else { return try pages.render(ActivatePage(pending: true), request: request, context: context) }
            let session = try await services.accounts.login(
                email: user.email, password: form["password"], client: context.clientAddress, kind: .portal)
            var response = Response.redirect(to: "/dashboard")
            response.setCookie(cookies.session(session.token))
            return response
        } catch let error as HospitalError where error.status.code < 500 {
            let message =
                error.code == .badCredentials
                ? pages.string("activate_wrong_password", request: request) : pages.words(for: error, request: request)
            var response = try pages.render(
                ActivatePage(token: token, error: message), status: error.status, request: request, context: context)
            if let retryAfter = error.retryAfter { response.headers[.retryAfter] = String(retryAfter) }
            return response
        }
    }

    @Sendable func doctorRegistrationPage(_ request: Request, context: PortalRequestContext) async throws -> Response {
        if context.identity != nil { return Response.redirect(to: "/dashboard") }
        return try pages.render(
            DoctorRegisterPage(fields: registrationFields(nil, problem: nil, request: request, fields: Self.doctorFields).fields),
            request: request, context: context)
    }

    /// A doctor signs up as a patient does; once the link is opened, the account waits for an admin.
    @Sendable func registerDoctor(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let form = try await PortalForm.read(request, context: context)
        let registration = Accounts.DoctorRegistration(
            name: form["name"], email: form["email"], password: form["password"], specialization: form["specialization"])
        do {
            try await services.accounts.signUp(registration, client: context.clientAddress) { path in pages.configuration.link(path) }
            return try pages.render(DoctorRegisterPage(sent: true), request: request, context: context)
        } catch let error as HospitalError where error.status.code < 500 {
            let (fields, message) = registrationFields(form, problem: error, request: request, fields: Self.doctorFields)
            return try registrationProblem(
                DoctorRegisterPage(fields: fields, error: message), error: error, request: request, context: context)
        }
    }

    // MARK: Overview

    @Sendable func dashboard(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        let strings = { (key: String) in pages.string(key, request: request) }
        switch identity.role {
        case .patient:
            let overview = try await services.reports.overview(for: identity)
            let appointments = overview.appointments.map {
                PatientDashboardPage.Appointment(
                    when: pages.format($0.slot.startsAt), doctor: $0.doctorName, status: strings("status_\($0.slot.status.rawValue)"))
            }
            let page = PatientDashboardPage(
                appointments: appointments, reports: overview.reports.map(reportRow), grants: "\(overview.activeGrants)",
                pending: overview.pendingRequests > 0 ? "\(overview.pendingRequests)" : nil)
            return try pages.render(page, request: request, context: context)
        case .doctor:
            let slots = try await services.scheduling.slots(for: identity).map {
                DoctorDashboardPage.Slot(
                    when: pages.format($0.slot.startsAt), patient: $0.patientName ?? "",
                    status: strings("status_\($0.slot.status.rawValue)"))
            }
            let page = DoctorDashboardPage(
                slots: slots, reports: try await services.reports.list(for: identity).map(reportRow),
                setUpTwoStep: !(try await services.accounts.secondFactor.isEnabled(userId: identity.userId)))
            return try pages.render(page, request: request, context: context)
        case .admin:
            let pending = try await services.accounts.list(search: "", role: .doctor, status: .pending).count
            let page = AdminDashboardPage(
                setUpTwoStep: !(try await services.accounts.secondFactor.isEnabled(userId: identity.userId)),
                pending: pending > 0 ? "\(pending)" : nil)
            return try pages.render(page, request: request, context: context)
        }
    }

    func reportRow(_ listing: ReportListing) -> ReportRow {
        ReportRow(
            title: listing.report.title, doctor: listing.doctorName, patient: listing.patientName,
            date: pages.format(listing.report.createdAt), size: PortalPages.size(listing.report.size))
    }

    // MARK: Doctors

    @Sendable func doctors(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let typed = PortalForm.query(request)
        let specialization = String(typed["specialization"].prefix(100))
        let name = String(typed["name"].prefix(100))
        let found = try await services.scheduling.searchDoctors(specialization: specialization)
            .filter { name.isEmpty || $0.name.localizedCaseInsensitiveContains(name) }
            .map { DoctorsPage.Doctor(id: "\($0.id ?? 0)", name: $0.name, specialization: $0.specialization ?? "") }
        return try pages.render(
            DoctorsPage(doctors: found, specialization: specialization, nameQuery: name), request: request, context: context)
    }

    @Sendable func doctor(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let id = try context.id("id")
        guard let doctor = try await services.scheduling.doctor(id: id) else { throw HospitalError.notFound("doctor") }
        let slots = try await services.scheduling.openSlots(doctorId: id).map { listing in
            DoctorPage.Slot(
                id: "\(listing.slot.id ?? 0)", when: pages.format(listing.slot.startsAt), minutes: "\(listing.slot.durationMinutes)",
                canBook: context.identity?.role == .patient, signInToBook: context.identity == nil)
        }
        let profile = DoctorPage.Doctor(name: doctor.name, specialization: doctor.specialization ?? "", about: doctor.about ?? "")
        return try pages.render(DoctorPage(doctor: profile, slots: slots), request: request, context: context)
    }
}

/// The portal's style sheet and script, from the binary: no CDN, no external font.
enum PortalStatic {
    static func add(to router: Router<HospitalRequestContext>) {
        router.get("static/portal.css") { _, _ in file(PackageResources.portal_css, type: "text/css; charset=utf-8") }
        router.get("static/portal.js") { _, _ in file(PackageResources.portal_js, type: "text/javascript; charset=utf-8") }
        router.get("static/icon.svg") { _, _ in file(PackageResources.icon_svg, type: "image/svg+xml") }
    }

    static func file(_ bytes: [UInt8], type: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: type, .cacheControl: "public, max-age=3600", .xContentTypeOptions: "nosniff"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
