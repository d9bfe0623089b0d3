import Crypto
import Foundation
import Metrics

/// A forgotten password: a link by e-mail (the same answer and work whether or not the address has an
/// account), single use, 30 minutes; a new password ends every session.
extension Accounts {

    /// Sends a password-reset link to the account with this address, if there is an active one; the
    /// caller answers the same either way, after the same work. Counted against the client's sign-up limit.
    /// The message goes through the mail queue's next round (in memory, never in the database), after the
    /// answer; one that cannot be sent is logged there without its address or link.
    /// - Parameter link: The link for a token (the portal's configured address, never the request's `Host`).
    /// - Throws: `throttled`; never whether the account exists.
    package func requestPasswordReset(email: String, client: String, link: @Sendable (String) -> String) async throws {
        let now = clock()
        try await checkRegistration(client: client, now: now)
        let address = String(email.lowercased().trimmingCharacters(in: .whitespaces).prefix(Validation.maxEmailBytes))
        let user = try await storage.read { try await $0.accounts.user(email: address) }
        let token = Self.base64URL(random(32))
        // The same work whether or not an active account has the address — one transaction with one ledger
        // entry, the message handed to the mail queue to go after the answer — so that the answer's timing
        // does not tell which addresses have accounts.
        guard let user, user.status == .active, let userId = user.id else {
            try await AuditLedger.record(
                actor: nil, .passwordResetSent, subject: "account", outcome: .denied, detail: "no active account has the address",
                time: now,
                in: storage)
            return
        }
        try await storage.write { transaction in
            // One live link per account: an older one stops working.
            try await transaction.accounts.replacePasswordReset(
                tokenHash: Self.tokenHash(token), userId: userId, createdAt: now, expiresAt: now + Self.resetLifetime.wholeSeconds)
            try await AuditLedger.append(
                .init(actor: nil, .passwordResetSent, subject: "user:\(userId)", patient: user.role == .patient ? userId : nil), time: now,
                in: transaction)
        }
        let expiry = Mail.rfc5322Date(now + Self.resetLifetime.wholeSeconds)
        notices.doorbell.send(
            Mail(
                id: Self.resetMailId(user: userId, createdAt: now), toName: user.name, toAddress: user.email,
                subject: "Reset your password",
                body: """
                    Dear \(user.name),

                    Someone, hopefully you, asked to reset the password of your account. To choose a new
                    password, open this link within 30 minutes (until \(expiry)):

                    \(link(token))

                    The link works once. Choosing a new password signs you out everywhere. If you did not ask,
                    ignore this message: your password stays as it is.
                    """, date: now))
    }

    /// Sets a new password with a reset link's token: single use, within its lifetime; every session of
    /// the account ends.
    /// - Throws: `reset_invalid` (unknown, used or expired), `invalid_field` (the new password).
    package func resetPassword(token: String, newPassword: String) async throws {
        let now = clock()
        let hash = Self.tokenHash(String(token.prefix(128)))
        guard let user = try await storage.read({ try await $0.accounts.passwordReset(tokenHash: hash, at: now) }),
            let userId = user.id
        else { throw HospitalError.resetInvalid }
        try Validation.password(newPassword, email: user.email)
        let passwordHash = try await hasher.hash(newPassword)
        try await storage.write { transaction in
            guard try await transaction.accounts.consumePasswordReset(tokenHash: hash, at: now) else { throw HospitalError.resetInvalid }
            try await transaction.accounts.setPasswordHash(passwordHash, userId: userId)
            try await transaction.sessions.deleteSessions(userId: userId)
            try await AuditLedger.append(
                .init(
                    actor: userId, .passwordChanged, subject: "user:\(userId)", patient: user.role == .patient ? userId : nil,
                    detail: "by reset link"),
                time: now, in: transaction)
        }
    }
}
