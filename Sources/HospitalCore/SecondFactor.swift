import Crypto
import Foundation

/// Sign-in's second step: a time-based code (TOTP, RFC 6238: 6 digits, 30 s, SHA-1 — what every
/// authenticator app reads) or one of ten single-use recovery codes. Anyone may turn it on; for doctors
/// and admins it then stays on (only an admin resets it, for a lost device), patients may turn it off.
///
/// The shared secret is sealed (AES-GCM under a key derived from `code.key`, outside the database, bound
/// to the account) so that a copy of the database does not yield anyone's codes; recovery codes are kept
/// as SHA-256 only. A code is accepted once: one step back or ahead of the server's clock, never a step
/// at or before the last one used. Wrong codes count against the sign-in throttle like wrong passwords,
/// and a sign-in waiting for its code (a challenge) takes at most 5 attempts in 5 minutes.
package struct SecondFactor: Sendable {
    /// How long a password that checked out waits for its code, in seconds.
    static let challengeLifetime: Duration = .seconds(5 * 60)
    /// Codes tried per challenge before it is void.
    static let challengeAttempts = 5
    static let recoveryCodeCount = 10

    let storage: any HospitalStorage
    let sealingKey: SymmetricKey
    /// Tells the owner when an authenticator is bound to their account.
    let notices: Notices
    let clock: @Sendable () -> Int64
    let random: @Sendable (Int) -> [UInt8]

    /// - Parameter codeKey: The server key kept outside the database (`code.key`).
    init(
        storage: any HospitalStorage, codeKey: SymmetricKey, notices: Notices = Notices(), clock: @escaping @Sendable () -> Int64,
        random: @escaping @Sendable (Int) -> [UInt8]
    ) {
        self.storage = storage
        self.notices = notices
        sealingKey = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: codeKey, info: Array("chainvault second factor".utf8), outputByteCount: 32)
        self.clock = clock
        self.random = random
    }

    /// A secret an authenticator app is given: for typing (base32, in groups) and as an `otpauth://` link.
    package struct Enrollment: Sendable, Equatable {
        package var secret: String
        package var url: String
    }

    /// Starts binding an authenticator: a new secret, kept (sealed) until a code from it confirms it. An
    /// account whose second step is on binds a new one (a new phone) only with a current code: a stolen
    /// session must not replace the owner's authenticator (NIST SP 800-63B §6.1.2.3). An account without
    /// one proves its password first (``Accounts/beginSecondFactor(userId:password:code:client:issuer:)``).
    /// - Parameters:
    ///   - label: What the app shows for the account (the e-mail address).
    ///   - issuer: The hospital's name.
    ///   - currentCode: A code of the authenticator bound now (or a recovery code), when there is one.
    /// - Throws: `bad_second_factor` (field `code`) when the account has a second step and the code is wrong.
    func begin(userId: Int64, label: String, issuer: String, currentCode: String?) async throws -> Enrollment {
        let secret = Accounts.base64URL(random(24))
        let sealed = try seal(secret, userId: userId)
        let now = clock()
        try await storage.write { [self] transaction in
            if try await transaction.accounts.secondFactor(userId: userId)?.secret != nil {
                guard let currentCode, try await verify(userId: userId, code: currentCode, now: now, in: transaction) != nil else {
                    throw HospitalError.badSecondFactor
                }
            }
            try await transaction.accounts.setPendingSecondFactor(sealed, userId: userId)
        }
        return Self.enrollment(secret: secret, label: label, issuer: issuer)
    }

    /// The enrollment of a secret: its base32 form is what the `otpauth://` link carries.
    static func enrollment(secret: String, label: String, issuer: String) -> Enrollment {
        let code = TimeBasedCode(secret: secret)
        let url = code.authenticatorURL(label: "\(issuer):\(label)", issuer: issuer)
        let base32 = Base32.encode(code.key)
        let groups = stride(from: 0, to: base32.count, by: 4).map { start in
            String(base32.dropFirst(start).prefix(4))
        }
        return Enrollment(secret: groups.joined(separator: " "), url: url)
    }

    /// The secret waiting for its first code, again (the set-up page after a wrong code); nil when none waits.
    package func pending(userId: Int64, label: String, issuer: String) async throws -> Enrollment? {
        let sealed = try await storage.read { try await $0.accounts.secondFactor(userId: userId)?.pending }
        return try sealed.map { Self.enrollment(secret: try open($0, userId: userId), label: label, issuer: issuer) }
    }

    /// Confirms the pending secret with a code from the app: the second step is on, and the recovery
    /// codes are returned — shown once, never stored in clear.
    /// - Throws: `bad_second_factor` (field `code`), `not_found` when nothing is pending.
    package func confirm(userId: Int64, code: String) async throws -> [String] {
        let now = clock()
        let recovery = (0..<Self.recoveryCodeCount).map { _ in Self.recoveryCode(random(10)) }
        try await storage.write { [self] transaction in
            guard let state = try await transaction.accounts.secondFactor(userId: userId), let pending = state.pending else {
                throw HospitalError.notFound("pending second factor")
            }
            let secret = try open(pending, userId: userId)
            guard let step = Self.matchingStep(Self.typed(code), secret: secret, now: now, after: 0) else {
                throw HospitalError.badSecondFactor
            }
            let replaced = state.secret != nil
            try await transaction.accounts.enableSecondFactor(
                userId: userId, secret: pending, step: step, recoveryCodeHashes: recovery.map(Self.recoveryHash))
            let role = state.role
            try await AuditLedger.append(
                .init(
                    actor: userId, .secondFactorEnabled, subject: "user:\(userId)", patient: role == .patient ? userId : nil,
                    detail: replaced ? "replaced" : ""),
                time: now, in: transaction)
            // The owner hears of it at once: if it was not them, their account is someone else's now.
            try await notices.queue(.secondFactorBound, to: userId, time: now, path: "/profile", now: now, in: transaction)
        }
        return recovery
    }

    /// Whether the account signs in with a second step.
    package func isEnabled(userId: Int64) async throws -> Bool {
        try await storage.read { try await $0.accounts.secondFactor(userId: userId)?.secret != nil }
    }

    /// The accounts that sign in with a second step.
    package func enabledAccounts() async throws -> Set<Int64> {
        try await storage.read { try await $0.accounts.secondFactorAccounts() }
    }

    /// A patient turns the second step off, with a current code (or a recovery code).
    /// - Throws: `forbidden` for staff, `bad_second_factor`.
    package func disable(userId: Int64, code: String) async throws {
        let now = clock()
        try await storage.write { [self] transaction in
            guard let user = try await transaction.accounts.user(id: userId) else { throw HospitalError.notFound("user") }
            guard user.role == .patient else {
                throw HospitalError.forbidden("Doctors and admins keep the second step; an admin resets it for a lost device.")
            }
            guard try await verify(userId: userId, code: code, now: now, in: transaction) != nil else {
                throw HospitalError.badSecondFactor
            }
            try await transaction.accounts.removeSecondFactor(userId: userId)
            try await AuditLedger.append(
                .init(actor: userId, .secondFactorDisabled, subject: "user:\(userId)", patient: userId), time: now, in: transaction)
        }
    }

    /// An admin resets another account's second step (a lost device): it is off, every session ends, and
    /// the person sets it up again at their next sign-in.
    /// - Throws: `not_found`, `invalid_field` (one's own).
    package func reset(userId: Int64, by admin: Identity) async throws {
        guard userId != admin.userId else { throw HospitalError.invalid("id", "Another admin resets your second step.") }
        let now = clock()
        try await storage.write { transaction in
            guard let state = try await transaction.accounts.secondFactor(userId: userId), state.secret != nil else {
                throw HospitalError.notFound("second factor")
            }
            try await transaction.accounts.removeSecondFactor(userId: userId)
            try await transaction.sessions.deleteSessions(userId: userId)
            try await AuditLedger.append(
                .init(actor: admin.userId, .secondFactorReset, subject: "user:\(userId)", patient: state.role == .patient ? userId : nil),
                time: now, in: transaction)
        }
    }

    /// Checks a code for the account and spends it: a TOTP step is remembered so it is never accepted
    /// again, a recovery code is used up.
    /// - Returns: How the code was accepted, or nil.
    func verify(userId: Int64, code: String, now: Int64, in transaction: HospitalTransaction) async throws -> Kind? {
        guard let state = try await transaction.accounts.secondFactor(userId: userId), let sealed = state.secret else { return nil }
        let typed = Self.typed(code)
        if typed.count == 6, typed.allSatisfy(\.isASCII) {
            guard let step = Self.matchingStep(typed, secret: try open(sealed, userId: userId), now: now, after: state.lastStep ?? 0)
            else { return nil }
            try await transaction.accounts.setSecondFactorStep(step, userId: userId)
            return .app
        }
        guard typed.utf8.count <= 32 else { return nil }
        return try await transaction.accounts.useRecoveryCode(hash: Self.recoveryHash(typed), userId: userId, at: now) ? .recovery : nil
    }

    /// A code as typed, without the spaces and dashes people put in (`123 456`, `abcd-efgh-…`), at most 64 characters.
    static func typed(_ code: String) -> String { String(code.prefix(64).filter { !$0.isWhitespace && $0 != "-" }) }

    /// How a second step was passed.
    enum Kind: String {
        case app = "authenticator code"
        case recovery = "recovery code"
    }

    /// The step (one before, at or after `now`, later than `after`) whose code is `code`, compared in
    /// constant time; nil when none is.
    static func matchingStep(_ code: String, secret: String, now: Int64, after: Int64) -> Int64? {
        let totp = TimeBasedCode(secret: secret)
        var found: Int64?
        let current = now / TimeBasedCode.step
        for step in (current - 1)...(current + 1) where step > after {
            let expected = totp.code(step: step)
            if ConstantTime.equal(expected, code), found == nil { found = step }
        }
        return found
    }

    /// A recovery code as people copy it from 10 random bytes (80 bits): 16 characters of base32 in four
    /// groups, `abcd-efgh-ijkl-mnop`.
    static func recoveryCode(_ bytes: [UInt8]) -> String {
        let text = String(Base32.encode(bytes).lowercased().prefix(16))
        return stride(from: 0, to: 16, by: 4).map { String(text.dropFirst($0).prefix(4)) }.joined(separator: "-")
    }

    static func recoveryHash(_ code: String) -> Data {
        Data(SHA256.hash(data: Array(code.lowercased().filter { $0 != "-" && !$0.isWhitespace }.utf8)))
    }

    func seal(_ secret: String, userId: Int64) throws -> Data {
        try AES.GCM.seal(Array(secret.utf8), using: sealingKey, authenticating: Array("user:\(userId)".utf8)).combined ?? Data()
    }

    func open(_ sealed: Data, userId: Int64) throws -> String {
        let box = try AES.GCM.SealedBox(combined: sealed)
        return String(decoding: try AES.GCM.open(box, using: sealingKey, authenticating: Array("user:\(userId)".utf8)), as: UTF8.self)
    }

    // MARK: Challenges

    /// A sign-in whose password checked out, waiting for its code: a token for the code page.
    func openChallenge(userId: Int64, kind: Accounts.SessionKind, now: Int64) async throws -> String {
        let token = Accounts.base64URL(random(32))
        try await storage.write {
            try await $0.sessions.insertChallenge(
                tokenHash: Accounts.tokenHash(token), userId: userId, kind: kind, at: now,
                expiredBefore: now - Self.challengeLifetime.wholeSeconds)
        }
        return token
    }

    /// The account and door of a live challenge.
    /// - Throws: `sign_in_again` when it is unknown, used, void or expired.
    func challenge(_ token: String, now: Int64) async throws -> (userId: Int64, kind: Accounts.SessionKind) {
        guard token.utf8.count <= 128,
            let found = try await storage.read({
                try await $0.sessions.challenge(
                    tokenHash: Accounts.tokenHash(token), createdAfter: now - Self.challengeLifetime.wholeSeconds,
                    maxAttempts: Self.challengeAttempts)
            })
        else { throw HospitalError.signInAgain }
        return found
    }

    /// Tries a code against a challenge: the challenge is spent when it is right, and void after five wrong ones.
    /// The attempt is counted before the code is checked, in the one statement that also checks the
    /// challenge is live and has attempts left, so parallel guesses cannot check more codes than allowed.
    /// - Returns: How it was passed, or nil for a wrong code.
    /// - Throws: `sign_in_again` when the challenge is unknown, expired or out of attempts.
    func attempt(_ token: String, code: String, now: Int64) async throws -> Kind? {
        let hash = Accounts.tokenHash(token)
        return try await storage.write { [self] transaction in
            guard
                let userId = try await transaction.sessions.countChallengeAttempt(
                    tokenHash: hash, createdAfter: now - Self.challengeLifetime.wholeSeconds, maxAttempts: Self.challengeAttempts)
            else { throw HospitalError.signInAgain }
            guard let kind = try await verify(userId: userId, code: code, now: now, in: transaction) else { return nil }
            try await transaction.sessions.deleteChallenge(tokenHash: hash)
            return kind
        }
    }

    /// Attempts left on a challenge.
    package func attemptsLeft(_ token: String) async throws -> Int {
        let used = try await storage.read { try await $0.sessions.challengeAttempts(tokenHash: Accounts.tokenHash(token)) }
        return max(0, Self.challengeAttempts - (used ?? Self.challengeAttempts))
    }
}

/// Comparisons of secrets that take the same time wherever they differ.
package enum ConstantTime {
    /// Compares the SHA-256 digests of both (swift-crypto compares digests without an early exit).
    package static func equal(_ a: String, _ b: String) -> Bool {
        SHA256.hash(data: Array(a.utf8)) == SHA256.hash(data: Array(b.utf8))
    }
}
