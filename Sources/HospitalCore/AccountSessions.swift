import Crypto
import Foundation
import Metrics

/// Signing in and out: the password (throttled per account and address, hashed on the compute gate), the
/// second step when the account has one, sessions by hashed token with idle and absolute lifetimes.
extension Accounts {
    /// Where a sign-in stands once the password checked out.
    package enum LoginStep: Sendable {
        /// Signed in.
        case signedIn(Session)
        /// The account signs in with a second step: the code goes with this challenge to ``completeLogin(challenge:code:client:)``.
        case secondFactor(challenge: String)
    }

    /// Checks the password and opens a session, in one step: an account with a second step needs its code.
    /// - Parameters:
    ///   - client: The client's address, for throttling.
    ///   - code: The authenticator app's code or a recovery code, for accounts that use one.
    /// - Throws: ``HospitalError`` `bad_credentials` (whether the e-mail or the password is wrong is
    ///   not told), `second_factor_required`, `bad_second_factor`, `throttled`, `busy`.
    package func login(email: String, password: String, client: String, kind: SessionKind = .api, code: String? = nil) async throws
        -> Session
    {
        switch try await beginLogin(email: email, password: password, client: client, kind: kind) {
        case .signedIn(let session): return session
        case .secondFactor(let challenge):
            guard let code else { throw HospitalError.secondFactorRequired }
            return try await completeLogin(challenge: challenge, code: code, client: client)
        }
    }

    /// Checks the password: signed in, or a challenge waiting for the second step's code.
    /// - Throws: As ``login(email:password:client:kind:code:)`` without the second step's errors.
    package func beginLogin(email: String, password: String, client: String, kind: SessionKind = .api) async throws -> LoginStep {
        let now = clock()
        do {
            let step = try await attemptLogin(email: email, password: password, client: client, kind: kind, now: now)
            try? await settleThrottle(now: now)
            return step
        } catch {
            try? await settleThrottle(now: now)
            throw error
        }
    }

    private func attemptLogin(email: String, password: String, client: String, kind: SessionKind, now: Int64) async throws -> LoginStep {
        let user = try await checkCredentials(email: email, password: password, client: client, now: now)
        if hasher.needsRehash(user.passwordHash) {
            let rehash = try await hasher.hash(password)
            if let userId = user.id { try await storage.write { try await $0.accounts.setPasswordHash(rehash, userId: userId) } }
        }
        guard let userId = user.id, try await secondFactor.isEnabled(userId: userId) else {
            // A whole sign-in: this address is known to the account from now on (a password alone, with a
            // second step still to pass, does not make it so).
            try await throttle.remember(account: user.email, client: client, now: now)
            return .signedIn(try await openSession(user, kind: kind, detail: "", now: now))
        }
        return .secondFactor(challenge: try await secondFactor.openChallenge(userId: userId, kind: kind, now: now))
    }

    /// The second step of a sign-in: a right code opens the session; a wrong one counts against the
    /// throttle like a wrong password, and five void the challenge.
    /// - Throws: `bad_second_factor`, `sign_in_again`, `throttled`.
    package func completeLogin(challenge: String, code: String, client: String) async throws -> Session {
        let now = clock()
        do {
            let session = try await attemptSecondStep(challenge: challenge, code: code, client: client, now: now)
            try? await settleThrottle(now: now)
            return session
        } catch {
            try? await settleThrottle(now: now)
            throw error
        }
    }

    private func attemptSecondStep(challenge: String, code: String, client: String, now: Int64) async throws -> Session {
        let (userId, kind) = try await secondFactor.challenge(challenge, now: now)
        let user = try await self.user(id: userId)
        try await throttle.checkLogin(account: user.email, client: client, now: now)
        guard let passed = try await secondFactor.attempt(challenge, code: String(code.prefix(64)), now: now) else {
            try await recordFailedLogin(user: user, account: user.email, reason: "wrong second-step code", client: client, now: now)
            throw HospitalError.badSecondFactor
        }
        try await throttle.recordSuccess(account: user.email, client: client, now: now)
        try await throttle.remember(account: user.email, client: client, now: now)
        return try await openSession(user, kind: kind, detail: "with \(passed.rawValue)", now: now)
    }

    /// A new session for someone who just proved who they are again (a password change ended every
    /// session, the browser that made it keeps going).
    package func renewSession(userId: Int64, kind: SessionKind) async throws -> Session {
        try await openSession(try await user(id: userId), kind: kind, detail: "after a password change", now: clock())
    }

    /// Opens a session for a user whose sign-in checked out.
    private func openSession(_ user: User, kind: SessionKind, detail: String, now: Int64) async throws -> Session {
        let token = Self.base64URL(random(32))
        let userId = user.id ?? 0
        let policy = self.policy
        try await storage.write { transaction in
            // The user's expired sessions go now: nothing else would remove a token never used again.
            try await transaction.sessions.deleteExpiredSessions(
                userId: userId, unusedSince: [.portal: now - policy.portalIdle.wholeSeconds, .api: now - policy.idle.wholeSeconds],
                createdBefore: now - policy.absolute.wholeSeconds)
            try await transaction.sessions.insertSession(tokenHash: Self.tokenHash(token), userId: userId, kind: kind, at: now)
            try await AuditLedger.append(
                .init(
                    actor: user.id, .login, subject: "user:\(userId)", patient: user.role == .patient ? user.id : nil, detail: detail),
                time: now, in: transaction)
        }
        Counter(label: "chainvault_hospital_logins_total", dimensions: [("outcome", "success")]).increment()
        return Session(token: token, user: user, expiresAt: now + policy.absolute.wholeSeconds)
    }

    /// The account whose password this is, through the throttle: every refusal is counted and recorded
    /// alike, for a login and for a password change.
    /// - Throws: `bad_credentials`, `throttled`, `busy`, `account_pending`, `account_disabled`.
    func checkCredentials(email: String, password: String, client: String, now: Int64) async throws -> User {
        let account = String(email.lowercased().prefix(Validation.maxEmailBytes))
        // A refused attempt is counted by the throttle, not audited one by one (see LoginThrottle).
        try await throttle.checkLogin(account: account, client: client, now: now)
        guard password.utf8.count <= Validation.maxPasswordBytes, email.utf8.count <= Validation.maxEmailBytes else {
            try await recordFailedLogin(user: nil, account: account, reason: "oversized", client: client, now: now)
            throw HospitalError.badCredentials
        }
        let user = try await storage.read { try await $0.accounts.user(email: account) }
        // An address the account signed in from before waits in the hasher's trusted lane; every other
        // attempt, for a known account or not, in the ordinary lane, bounded per client.
        let lane: ComputeGate.Lane =
            try await throttle.isKnown(account: account, client: client, now: now)
            ? .trusted : .ordinary(share: LoginThrottle.clientKey(client))
        guard let user else {
            try await hasher.verifyNothing(password, lane: lane)
            try await recordFailedLogin(user: nil, account: account, reason: "unknown account", client: client, now: now)
            throw HospitalError.badCredentials
        }
        guard try await hasher.verify(password, against: user.passwordHash, lane: lane) else {
            try await recordFailedLogin(user: user, account: account, reason: "wrong password", client: client, now: now)
            throw HospitalError.badCredentials
        }
        try await throttle.recordSuccess(account: account, client: client, now: now)
        // Told only to someone who knows the password.
        switch user.status {
        case .active: break
        case .pending:
            throw HospitalError.accountPending
        case .disabled:
            throw HospitalError.accountDisabled
        }
        return user
    }

    /// A refused login: counted by the throttle against `account` (the lowercased address typed) from the
    /// client, and in the ledger — the user when the account exists, why, and from which address — in one
    /// transaction. What was typed into the e-mail field of an unknown account is never kept: it may be a
    /// password typed into the wrong field.
    private func recordFailedLogin(user: User?, account: String, reason: String, client: String, now: Int64) async throws {
        Counter(label: "chainvault_hospital_logins_total", dimensions: [("outcome", "failure")]).increment()
        try await storage.write { [throttle] transaction in
            try await throttle.recordFailure(account: account, client: client, userId: user?.id, now: now, in: transaction)
            try await AuditLedger.append(
                .init(
                    actor: nil, .login, subject: user?.id.map { "user:\($0)" } ?? "account",
                    patient: user?.role == .patient ? user?.id : nil,
                    outcome: .denied, detail: "\(reason) from \(client)"),
                time: now, in: transaction)
        }
    }

    /// After a login or sign-up: the throttle's counters whose windows ended go, one ledger entry for each
    /// that refused attempts (a count, never one entry per attempt). At most once a second per instance.
    func settleThrottle(now: Int64) async throws {
        guard lastThrottleSweep.claim(now) else { return }
        try await throttle.sweep(now: now)
    }

    /// The identity behind a token of `kind`, refreshing its idle timer.
    /// - Throws: ``HospitalError/unauthenticated`` for an unknown, expired or revoked token, or one
    ///   opened through the other door.
    package func authenticate(token: String, kind: SessionKind = .api) async throws -> Identity {
        try await authenticateSession(token: token, kind: kind).identity
    }

    /// The identity behind a token of `kind` and when its session began, refreshing its idle timer.
    /// - Throws: ``HospitalError/unauthenticated``.
    package func authenticateSession(token: String, kind: SessionKind) async throws -> (identity: Identity, createdAt: Int64) {
        guard token.utf8.count <= 128 else { throw HospitalError.unauthenticated }
        let hash = Self.tokenHash(token)
        let now = clock()
        let idle = policy.idle(kind).wholeSeconds
        let absolute = policy.absolute.wholeSeconds
        // Most requests only read: the session's idle clock moves (a write, through the one writer) only
        // when it is a tenth of the idle timeout old, at most a minute, so a signed-in page under load
        // does not queue every request behind the writer. An expired session is deleted on the way.
        let step = min(60, max(1, idle / 10))
        guard let found = try await storage.read({ try await $0.sessions.session(tokenHash: hash, kind: kind) }) else {
            throw HospitalError.unauthenticated
        }
        if now - found.lastUsedAt >= idle || now - found.createdAt >= absolute {
            try await storage.write { try await $0.sessions.deleteSession(tokenHash: hash) }
            throw HospitalError.unauthenticated
        }
        if now - found.lastUsedAt >= step {
            // Guarded by the value read, so that of two requests at once one writes; a session ended
            // meanwhile (sign-out) stays ended.
            try await storage.write { try await $0.sessions.touchSession(tokenHash: hash, at: now) }
        }
        return (found.identity, found.createdAt)
    }

    /// Revokes the token.
    package func logout(token: String) async throws {
        let hash = Self.tokenHash(token)
        try await storage.write { try await $0.sessions.deleteSession(tokenHash: hash) }
    }

    /// Starts binding an authenticator app to a signed-in account: with a current code when the second
    /// step is on (a new phone), else with the password (a stolen session alone cannot bind its own app and
    /// lock the owner out). The owner is e-mailed when the binding is confirmed.
    /// - Parameter issuer: The hospital's name, as the app shows it.
    /// - Throws: `bad_second_factor` (field `code`), `bad_credentials`, `throttled`, `busy`.
    package func beginSecondFactor(userId: Int64, password: String, code: String, client: String, issuer: String) async throws
        -> SecondFactor.Enrollment
    {
        let user = try await self.user(id: userId)
        if try await secondFactor.isEnabled(userId: userId) {
            return try await secondFactor.begin(userId: userId, label: user.email, issuer: issuer, currentCode: String(code.prefix(64)))
        }
        _ = try await reauthenticate(userId, password: password, client: client)
        return try await secondFactor.begin(userId: userId, label: user.email, issuer: issuer, currentCode: nil)
    }

    /// The e-mail of a reset link: `reset-<user>-<created>` (its outbox file `reset-<user>-<created>.eml`).
    static func resetMailId(user: Int64, createdAt: Int64) -> String { "reset-\(user)-\(createdAt)" }

    /// How long a password-reset link works, in seconds.
    package static let resetLifetime: Duration = .seconds(30 * 60)

    /// Ends every session of the user, on every device.
    package func endSessions(_ userId: Int64) async throws {
        try await storage.write { try await $0.sessions.deleteSessions(userId: userId) }
    }

}
