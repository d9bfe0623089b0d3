import Foundation
import HospitalAPI
import HospitalCore
import Hummingbird

/// Two-step sign-in in the portal: the code page after a password that checked out, turning the second
/// step on from the profile (secret and `otpauth://` link, a first code to confirm, recovery codes shown
/// once), a patient turning it off, an admin resetting it for a lost device.
struct PortalSecondFactorController: Sendable {
    let services: HospitalServices
    let pages: PortalPages
    let cookies: PortalCookies

    var secondFactor: SecondFactor { services.accounts.secondFactor }

    func addRoutes(to group: RouterGroup<PortalRequestContext>) {
        group.post("login/code", use: code)
        group.post("profile/two-step", use: begin)
        group.post("profile/two-step/confirm", use: confirm)
        group.post("profile/two-step/disable", use: disable)
        group.post("admin/accounts/{id}/reset-two-step", use: reset)
    }

    /// The page asking for the code of a sign-in whose password checked out.
    func codePage(
        challenge: String, next: String?, error: String? = nil, status: HTTPResponse.Status = .ok, request: Request,
        context: PortalRequestContext
    ) throws -> Response {
        try pages.render(
            LoginCodePage(challenge: challenge, next: next ?? "", error: error), status: status, request: request, context: context)
    }

    @Sendable func code(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let form = try await PortalForm.read(request, context: context)
        let next = PortalPaths.safeReturn(form["next"])
        let challenge = String(form["challenge"].prefix(128))
        do {
            let session = try await services.accounts.completeLogin(challenge: challenge, code: form["code"], client: context.clientAddress)
            if let previous = context.portal.sessionToken { try? await services.accounts.logout(token: previous) }
            var response = Response.redirect(to: next ?? "/dashboard")
            response.setCookie(cookies.session(session.token))
            return response
        } catch let error as HospitalError where error == .signInAgain {
            return Response.redirect(to: PortalPaths.login(returningTo: next, ["again=1"]))
        } catch let error as HospitalError where error == .badSecondFactor || error.status == .tooManyRequests {
            let left = try await secondFactor.attemptsLeft(challenge)
            guard left > 0 else {
                return Response.redirect(to: PortalPaths.login(returningTo: next, ["again=1"]))
            }
            let message =
                error.retryAfter.map { pages.throttled($0, request: request) }
                ?? pages.string("wrong_second_step", request: request, filling: ["count": "\(left)"])
            var response = try codePage(
                challenge: challenge, next: next, error: message, status: error.status, request: request, context: context)
            if let retryAfter = error.retryAfter { response.headers[.retryAfter] = String(retryAfter) }
            return response
        }
    }

    /// The set-up page for a secret waiting for its first code.
    func setupPage(
        _ enrollment: SecondFactor.Enrollment, error: String? = nil, status: HTTPResponse.Status = .ok, request: Request,
        context: PortalRequestContext
    ) throws -> Response {
        // The link as a QR code for the app to scan (what every authenticator app expects).
        let qr = QRCode(enrollment.url).map { TwoStepPage.QR(size: "\($0.size)", path: $0.path) }
        return try pages.render(
            TwoStepPage(secret: enrollment.secret, url: enrollment.url, qr: qr, error: error), status: status, request: request,
            context: context)
    }

    /// Binds a new authenticator: with the password (second step off) or a current code (on).
    @Sendable func begin(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        let form = try await PortalForm.read(request, context: context)
        do {
            let enrollment = try await services.accounts.beginSecondFactor(
                userId: identity.userId, password: form["password"], code: form["code"], client: context.clientAddress,
                issuer: pages.configuration.siteName)
            return try setupPage(enrollment, request: request, context: context)
        } catch let error as HospitalError where error == .badSecondFactor {
            return Response.redirect(to: "/profile?done=two_step_wrong")
        } catch let error as HospitalError where error == .badCredentials {
            return Response.redirect(to: "/profile?done=password_wrong")
        }
    }

    @Sendable func confirm(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        let form = try await PortalForm.read(request, context: context)
        do {
            let codes = try await secondFactor.confirm(userId: identity.userId, code: form["code"])
            return try pages.render(TwoStepCodesPage(codes: codes), request: request, context: context)
        } catch let error as HospitalError where error == .badSecondFactor {
            let user = try await services.accounts.user(id: identity.userId)
            guard
                let enrollment = try await secondFactor.pending(
                    userId: identity.userId, label: user.email, issuer: pages.configuration.siteName)
            else { return Response.redirect(to: "/profile") }
            return try setupPage(
                enrollment, error: pages.string("wrong_setup_code", request: request), status: error.status, request: request,
                context: context)
        }
    }

    @Sendable func disable(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let identity = try context.requireIdentity(.patient)
        let form = try await PortalForm.read(request, context: context)
        do {
            try await secondFactor.disable(userId: identity.userId, code: form["code"])
        } catch let error as HospitalError where error == .badSecondFactor {
            return Response.redirect(to: "/profile?done=two_step_wrong")
        }
        return Response.redirect(to: "/profile?done=two_step_off")
    }

    @Sendable func reset(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let admin = try context.requireIdentity(.admin)
        _ = try await PortalForm.read(request, context: context)
        try await secondFactor.reset(userId: try context.id("id"), by: admin)
        return Response.redirect(to: "/admin/accounts?done=two_step_reset")
    }
}
