import Foundation
import HospitalCore
import Hummingbird

/// `/api/patients`, `/api/doctors` (POST), `/api/registrations/activation`, `/api/staff`, `/api/sessions`,
/// `/api/me`, `/api/password-resets`: sign-up by e-mailed link, staff accounts, login and logout, password
/// reset by e-mailed link.
struct AccountController {
    let accounts: Accounts
    /// Where reset links point (the portal's configured address).
    let portal: PortalConfiguration

    /// An account as the API shows it: never the password hash.
    struct UserView: ResponseCodable {
        var id: Int64
        var role: Role
        var name: String
        var email: String
        var dateOfBirth: String?
        var phone: String?
        var specialization: String?
        var createdAt: Date

        init(_ user: User) {
            id = user.id ?? 0
            role = user.role
            name = user.name
            email = user.email
            dateOfBirth = user.dateOfBirth
            phone = user.phone
            specialization = user.specialization
            createdAt = Date(seconds: user.createdAt)
        }
    }

    struct Login: Decodable {
        var email: String
        var password: String
        /// The second step's code, for accounts that use one.
        var code: String?
    }

    struct ResetRequest: Decodable {
        var email: String
    }

    struct Activation: Decodable {
        var token: String
        var password: String
    }

    struct ResetRedemption: Decodable {
        var token: String
        var password: String
    }

    struct SessionView: ResponseCodable {
        var token: String
        var expiresAt: Date
        var user: UserView
    }

    func addRoutes(to group: RouterGroup<HospitalRequestContext>) {
        group.post("patients", use: register)
        group.post("doctors", use: registerDoctor)
        group.post("registrations/activation", use: activate)
        group.post("password-resets", use: requestReset)
        group.post("password-resets/redemption", use: resetPassword)
        group.post("staff", use: createStaff)
        group.post("sessions", use: login)
        group.delete("sessions/current", use: logout)
        group.get("me", use: me)
    }

    /// A patient signs up: 202 whether or not the address has an account (a link opens a new one, the owner
    /// of a taken one is told), so that the answer does not say which addresses have accounts.
    @Sendable func register(_ request: Request, context: HospitalRequestContext) async throws -> HTTPResponse.Status {
        let input = try await request.decodeJSON(as: Accounts.PatientRegistration.self)
        try await accounts.signUp(input, client: context.clientAddress) { [portal] path in portal.link(path) }
        return .accepted
    }

    /// A doctor signs up the same way; once the link is opened, the account waits for an admin's approval.
    @Sendable func registerDoctor(_ request: Request, context: HospitalRequestContext) async throws -> HTTPResponse.Status {
        let input = try await request.decodeJSON(as: Accounts.DoctorRegistration.self)
        try await accounts.signUp(input, client: context.clientAddress) { [portal] path in portal.link(path) }
        return .accepted
    }

    /// Opens the account of a sign-up's link, with the password chosen at sign-up.
    @Sendable func activate(_ request: Request, context: HospitalRequestContext) async throws -> EditedResponse<UserView> {
        let input = try await request.decodeJSON(as: Activation.self, limit: 4096)
        let user = try await accounts.activate(token: input.token, password: input.password, client: context.clientAddress)
        return EditedResponse(status: .created, response: UserView(user))
    }

    /// Mails a reset link (to the portal's reset page) if the address has an active account: 202 either way.
    @Sendable func requestReset(_ request: Request, context: HospitalRequestContext) async throws -> HTTPResponse.Status {
        let input = try await request.decodeJSON(as: ResetRequest.self, limit: 4096)
        let portal = self.portal
        try await accounts.requestPasswordReset(email: input.email, client: context.clientAddress) { token in
            portal.link("/password/reset?token=\(token)")
        }
        return .accepted
    }

    /// Sets a new password with a reset link's token; every session of the account ends.
    @Sendable func resetPassword(_ request: Request, context: HospitalRequestContext) async throws -> HTTPResponse.Status {
        let input = try await request.decodeJSON(as: ResetRedemption.self, limit: 4096)
        try await accounts.resetPassword(token: input.token, newPassword: input.password)
        return .noContent
    }

    @Sendable func createStaff(_ request: Request, context: HospitalRequestContext) async throws -> EditedResponse<UserView> {
        _ = try context.requireIdentity(.admin)
        let input = try await request.decodeJSON(as: Accounts.StaffRegistration.self)
        return EditedResponse(status: .created, response: UserView(try await accounts.createStaff(input)))
    }

    @Sendable func login(_ request: Request, context: HospitalRequestContext) async throws -> EditedResponse<SessionView> {
        let input = try await request.decodeJSON(as: Login.self)
        let session = try await accounts.login(
            email: input.email, password: input.password, client: context.clientAddress, code: input.code)
        return EditedResponse(
            status: .created,
            response: SessionView(token: session.token, expiresAt: Date(seconds: session.expiresAt), user: UserView(session.user)))
    }

    @Sendable func logout(_ request: Request, context: HospitalRequestContext) async throws -> HTTPResponse.Status {
        _ = try context.requireIdentity()
        if let token = context.token { try await accounts.logout(token: token) }
        return .noContent
    }

    @Sendable func me(_ request: Request, context: HospitalRequestContext) async throws -> UserView {
        UserView(try await accounts.user(id: try context.requireIdentity().userId))
    }
}
