import Crypto
import Foundation
import GRDB
import Metrics

/// What admins do to accounts: list and search, approve or refuse a doctor's registration, disable and
/// enable, clear a sign-in throttle; each a ledger entry.
extension Accounts {
    /// Accounts for an admin's list: by name or e-mail containing `search`, of a role and status when
    /// given, newest first, at most one page.
    public func list(search: String, role: Role?, status: AccountStatus?) async throws -> [User] {
        let query = search.trimmingCharacters(in: .whitespaces).lowercased()
        guard query.count <= 100 else { throw HospitalError.invalid("search", "Search with at most 100 characters.") }
        let pattern = "%" + SQLitePattern.escaped(query) + "%"
        return try await database.read { db in
            try User.fetchAll(
                db,
                sql: """
                    SELECT * FROM user WHERE (lower(name) LIKE ? ESCAPE '\\' OR lower(email) LIKE ? ESCAPE '\\')
                    AND (? IS NULL OR role = ?) AND (? IS NULL OR status = ?) ORDER BY id DESC LIMIT \(Page.size)
                    """,
                arguments: [pattern, pattern, role?.rawValue, role?.rawValue, status?.rawValue, status?.rawValue])
        }
    }

    /// Whether the account's sign-ins are being throttled now.
    public func isThrottled(_ user: User) async -> Bool { await throttle.isThrottled(account: user.email) }

    /// An admin decides about a pending doctor: approved, the doctor signs in; refused, the account is
    /// removed (it holds nothing yet).
    /// - Throws: `not_found` (no such pending account).
    public func decide(pending userId: Int64, approve: Bool, by admin: Identity) async throws -> User {
        let now = clock()
        return try await database.write { db in
            guard var user = try User.fetchOne(db, key: userId), user.status == .pending else {
                throw HospitalError.notFound("pending account")
            }
            if approve {
                user.status = .active
                try user.update(db, columns: ["status"])
                try notices.queue(.approved, to: userId, path: "/login", now: now, in: db)
            } else {
                _ = try User.deleteOne(db, key: userId)
            }
            try AuditLedger.append(
                .init(actor: admin.userId, approve ? .accountApproved : .accountRefused, subject: "user:\(userId)"), time: now, in: db)
            return user
        }
    }

    /// An admin disables an account (its sessions end at once) or enables it again. Admins cannot
    /// disable themselves.
    /// - Throws: `not_found`, `invalid_field` (oneself), `account_pending` (decide first).
    public func setDisabled(_ userId: Int64, _ disabled: Bool, by admin: Identity) async throws -> User {
        guard userId != admin.userId else { throw HospitalError.invalid("id", "You cannot disable your own account.") }
        let now = clock()
        return try await database.write { db in
            guard var user = try User.fetchOne(db, key: userId) else { throw HospitalError.notFound("user") }
            guard user.status != .pending else {
                throw HospitalError(.accountPending, "Approve or refuse this account first.")
            }
            let status: AccountStatus = disabled ? .disabled : .active
            guard user.status != status else { return user }
            user.status = status
            try user.update(db, columns: ["status"])
            if disabled { try db.execute(sql: "DELETE FROM session WHERE userId = ?", arguments: [userId]) }
            try AuditLedger.append(
                .init(
                    actor: admin.userId, disabled ? .accountDisabled : .accountEnabled, subject: "user:\(userId)",
                    patient: user.role == .patient ? userId : nil),
                time: now, in: db)
            return user
        }
    }

    /// An admin clears an account's login throttle (after a user proved who they are another way).
    /// - Throws: `not_found`.
    public func clearThrottle(_ userId: Int64, by admin: Identity) async throws {
        let now = clock()
        let user = try await self.user(id: userId)
        let cleared = await throttle.clear(account: user.email, now: now)
        try await settleThrottle(now: now)
        try await database.write { db in
            try AuditLedger.append(
                .init(
                    actor: admin.userId, .throttleCleared, subject: "user:\(userId)", patient: user.role == .patient ? userId : nil,
                    detail: cleared ? "" : "nothing to clear"),
                time: now, in: db)
        }
    }

}
