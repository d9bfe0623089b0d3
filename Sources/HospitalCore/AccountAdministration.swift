import Crypto
import Foundation
import Metrics

/// What admins do to accounts: list and search, approve or refuse a doctor's registration, disable and
/// enable, clear a sign-in throttle; each a ledger entry.
extension Accounts {
    /// Accounts for an admin's list: by name or e-mail containing `search`, of a role and status when
    /// given, newest first, at most one page.
    package func list(search: String, role: Role?, status: AccountStatus?) async throws -> [User] {
        let query = search.trimmingCharacters(in: .whitespaces).lowercased()
        guard query.count <= 100 else { throw HospitalError.invalid("search", "Search with at most 100 characters.") }
        return try await storage.read { try await $0.accounts.users(containing: query, role: role, status: status, limit: Page.size) }
    }

    /// The ids of the accounts among `users` whose sign-ins are being throttled now, in one read.
    package func throttled(_ users: [User]) async throws -> Set<Int64> {
        let accounts = try await throttle.throttled(accounts: users.map(\.email), now: clock())
        return Set(users.filter { accounts.contains($0.email) }.compactMap(\.id))
    }

    /// An admin decides about a pending doctor: approved, the doctor signs in; refused, the account is
    /// removed (it holds nothing yet).
    /// - Throws: `not_found` (no such pending account).
    package func decide(pending userId: Int64, approve: Bool, by admin: Identity) async throws -> User {
        let now = clock()
        return try await storage.write { [notices] transaction in
            guard var user = try await transaction.accounts.user(id: userId), user.status == .pending else {
                throw HospitalError.notFound("pending account")
            }
            if approve {
                user.status = .active
                try await transaction.accounts.update(user)
                try await notices.queue(.approved, to: userId, path: "/login", now: now, in: transaction)
            } else {
                try await transaction.accounts.delete(user: userId)
            }
            try await AuditLedger.append(
                .init(actor: admin.userId, approve ? .accountApproved : .accountRefused, subject: "user:\(userId)"), time: now,
                in: transaction)
            return user
        }
    }

    /// An admin disables an account (its sessions end at once) or enables it again. Admins cannot
    /// disable themselves.
    /// - Throws: `not_found`, `invalid_field` (oneself), `account_pending` (decide first).
    package func setDisabled(_ userId: Int64, _ disabled: Bool, by admin: Identity) async throws -> User {
        guard userId != admin.userId else { throw HospitalError.invalid("id", "You cannot disable your own account.") }
        let now = clock()
        return try await storage.write { transaction in
            guard var user = try await transaction.accounts.user(id: userId) else { throw HospitalError.notFound("user") }
            guard user.status != .pending else {
                throw HospitalError(.accountPending, "Approve or refuse this account first.")
            }
            let status: AccountStatus = disabled ? .disabled : .active
            guard user.status != status else { return user }
            user.status = status
            try await transaction.accounts.update(user)
            if disabled { try await transaction.sessions.deleteSessions(userId: userId) }
            try await AuditLedger.append(
                .init(
                    actor: admin.userId, disabled ? .accountDisabled : .accountEnabled, subject: "user:\(userId)",
                    patient: user.role == .patient ? userId : nil),
                time: now, in: transaction)
            return user
        }
    }

    /// An admin clears an account's login throttle (after a user proved who they are another way).
    /// - Throws: `not_found`.
    package func clearThrottle(_ userId: Int64, by admin: Identity) async throws {
        let now = clock()
        let user = try await self.user(id: userId)
        try await storage.write { [throttle] transaction in
            let cleared = try await throttle.clear(account: user.email, now: now, in: transaction)
            try await AuditLedger.append(
                .init(
                    actor: admin.userId, .throttleCleared, subject: "user:\(userId)", patient: user.role == .patient ? userId : nil,
                    detail: cleared ? "" : "nothing to clear"),
                time: now, in: transaction)
        }
    }

}
