import Foundation
import Hummingbird

/// A person's own profile: phone (patients), the time zone the portal shows times in, a password
/// change (every session ends, this browser gets a new one), and signing out everywhere.
struct PortalProfileController: Sendable {
    let services: HospitalServices
    let pages: PortalPages
    let cookies: PortalCookies

    func addRoutes(to group: RouterGroup<HospitalRequestContext>) {
        group.get("profile", use: profile)
        group.post("profile", use: save)
        group.post("profile/password", use: changePassword)
        group.post("profile/sessions/end", use: signOutEverywhere)
    }

    func values(_ identity: Identity, request: Request, detailsError: String? = nil, passwordError: String? = nil) async throws
        -> [String: Any]
    {
        let user = try await services.accounts.user(id: identity.userId)
        let zones = TimeZone.knownTimeZoneIdentifiers.sorted().map { ["name": $0, "selected": $0 == user.timeZone] as [String: Any] }
        var values: [String: Any] = [
            "name": user.name, "email": user.email, "role": pages.string("role_\(user.role.rawValue)", request: request),
            "phone": user.phone ?? "", "isPatient": user.role == .patient, "zones": zones,
            "defaultZone": pages.configuration.timeZone.identifier,
        ]
        if let detailsError { values["detailsError"] = detailsError }
        if let passwordError { values["passwordError"] = passwordError }
        let notices = ["saved": "saved_notice", "password": "password_changed_notice"]
        if let done = request.uri.queryParameters.get("done"), let key = notices[String(done)] {
            values["notice"] = pages.string(key, request: request)
        }
        return values
    }

    @Sendable func profile(_ request: Request, context: HospitalRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        return pages.render("profile", try await values(identity, request: request), request: request, context: context)
    }

    @Sendable func save(_ request: Request, context: HospitalRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        let form = try await PortalForm.read(request, context: context)
        let zone = form["time_zone"].isEmpty ? nil : form["time_zone"]
        do {
            _ = try await services.accounts.updateProfile(
                identity.userId, phone: identity.role == .patient ? form["phone"] : nil, timeZone: zone)
        } catch let error as HospitalError where error.status.code < 500 {
            let values = try await values(identity, request: request, detailsError: error.message)
            return pages.render("profile", values, status: error.status, request: request, context: context)
        }
        return Response.redirect(to: "/profile?done=saved")
    }

    @Sendable func changePassword(_ request: Request, context: HospitalRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        let form = try await PortalForm.read(request, context: context)
        do {
            try await services.accounts.changePassword(
                identity.userId, current: form["current"], new: form["new"], client: context.clientAddress)
        } catch let error as HospitalError where error.status.code < 500 {
            let message =
                error.code == "bad_credentials"
                ? pages.string("wrong_credentials", request: request)
                : error.retryAfter.map { pages.string("throttled", request: request).replacingOccurrences(of: "{seconds}", with: "\($0)") }
                    ?? error.message
            var response = pages.render(
                "profile", try await values(identity, request: request, passwordError: message), status: error.status, request: request,
                context: context)
            if let retryAfter = error.retryAfter { response.headers[.retryAfter] = String(retryAfter) }
            return response
        }
        // Every session ended with the change; this browser signs in again with the new password.
        let user = try await services.accounts.user(id: identity.userId)
        let session = try await services.accounts.login(
            email: user.email, password: form["new"], client: context.clientAddress, kind: .portal)
        var response = Response.redirect(to: "/profile?done=password")
        response.setCookie(cookies.session(session.token))
        return response
    }

    @Sendable func signOutEverywhere(_ request: Request, context: HospitalRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        _ = try await PortalForm.read(request, context: context)
        try await services.accounts.endSessions(identity.userId)
        var response = Response.redirect(to: "/login?signed_out=1")
        response.setCookie(cookies.endedSession)
        return response
    }
}
