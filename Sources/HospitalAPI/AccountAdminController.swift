import Foundation
import HospitalCore
import Hummingbird

/// `/api/accounts`: account administration for admins — the same rules and ledger entries as the
/// portal's admin pages: list and search, approve or refuse a doctor's registration, disable and
/// enable, clear the sign-in throttle, reset a lost second step.
struct AccountAdminController {
    let accounts: Accounts

    /// An account as an admin sees it: its status and whether it signs in with a second step.
    struct AccountView: ResponseCodable {
        var user: AccountController.UserView
        var status: AccountStatus
        var twoStep: Bool
        var throttled: Bool
    }

    struct StatusChange: Decodable {
        var status: AccountStatus
    }

    func addRoutes(to group: RouterGroup<HospitalRequestContext>) {
        group.get("accounts", use: list)
        group.post("accounts/:id/approval", use: approve)
        group.post("accounts/:id/refusal", use: refuse)
        group.put("accounts/:id/status", use: setStatus)
        group.delete("accounts/:id/throttle", use: clearThrottle)
        group.delete("accounts/:id/second-factor", use: resetSecondFactor)
    }

    /// Each account as the list shows it: its second step and throttle read once for all of them.
    func views(_ users: [User]) async throws -> [AccountView] {
        let twoStep = try await accounts.secondFactor.enabledAccounts()
        let throttled = try await accounts.throttled(users)
        return users.map { user in
            AccountView(
                user: .init(user), status: user.status, twoStep: twoStep.contains(user.id ?? 0),
                throttled: throttled.contains(user.id ?? 0))
        }
    }

    func view(_ user: User) async throws -> AccountView {
        try await views([user])[0]
    }

    /// `?search=` (name or e-mail), `?role=`, `?status=`; newest first, at most 500.
    @Sendable func list(_ request: Request, context: HospitalRequestContext) async throws -> [AccountView] {
        _ = try context.requireIdentity(.admin)
        let query = request.uri.queryParameters
        let role = try query.get("role").map { text in
            guard let role = Role(rawValue: String(text)) else {
                throw HospitalError.invalid("role", "The role is patient, doctor or admin.")
            }
            return role
        }
        let status = try query.get("status").map { text in
            guard let status = AccountStatus(rawValue: String(text)) else {
                throw HospitalError.invalid("status", "The status is active, pending or disabled.")
            }
            return status
        }
        return try await views(try await accounts.list(search: String(query.get("search") ?? ""), role: role, status: status))
    }

    @Sendable func approve(_ request: Request, context: HospitalRequestContext) async throws -> AccountView {
        let admin = try context.requireIdentity(.admin)
        return try await view(try await accounts.decide(pending: try context.id("id"), approve: true, by: admin))
    }

    @Sendable func refuse(_ request: Request, context: HospitalRequestContext) async throws -> HTTPResponse.Status {
        let admin = try context.requireIdentity(.admin)
        _ = try await accounts.decide(pending: try context.id("id"), approve: false, by: admin)
        return .noContent
    }

    @Sendable func setStatus(_ request: Request, context: HospitalRequestContext) async throws -> AccountView {
        let admin = try context.requireIdentity(.admin)
        let change = try await request.decodeJSON(as: StatusChange.self, limit: 1024)
        let disabled: Bool
        switch change.status {
        case .active: disabled = false
        case .disabled: disabled = true
        case .pending: throw HospitalError.invalid("status", "An account is set active or disabled; a pending one is approved or refused.")
        }
        let user = try await accounts.setDisabled(try context.id("id"), disabled, by: admin)
        return try await view(user)
    }

    @Sendable func clearThrottle(_ request: Request, context: HospitalRequestContext) async throws -> HTTPResponse.Status {
        let admin = try context.requireIdentity(.admin)
        try await accounts.clearThrottle(try context.id("id"), by: admin)
        return .noContent
    }

    @Sendable func resetSecondFactor(_ request: Request, context: HospitalRequestContext) async throws -> HTTPResponse.Status {
        let admin = try context.requireIdentity(.admin)
        try await accounts.secondFactor.reset(userId: try context.id("id"), by: admin)
        return .noContent
    }
}
