import Crypto
import Foundation
import GRDB
import Metrics

/// Accounts and sessions: registration, staff creation, login with throttling, bearer tokens that
/// expire when idle and at an absolute age, logout.
public struct Accounts: Sendable {
    public struct SessionPolicy: Sendable {
        /// An API token unused this long (seconds) is void.
        public var idle: Int64 = 30 * 60
        /// A portal session (a cookie) unused this long (seconds) is void: people walk away from screens.
        public var portalIdle: Int64 = 15 * 60
        /// A token or session this old (seconds) is void however often it is used.
        public var absolute: Int64 = 12 * 3600
        public init(idle: Int64 = 30 * 60, portalIdle: Int64 = 15 * 60, absolute: Int64 = 12 * 3600) {
            self.idle = idle
            self.portalIdle = portalIdle
            self.absolute = absolute
        }

        /// How long a session of `kind` may stay unused.
        public func idle(_ kind: SessionKind) -> Int64 {
            switch kind {
            case .api: idle
            case .portal: portalIdle
            }
        }
    }

    /// The door a session was opened through; a session authenticates only requests through its own.
    public enum SessionKind: String, Sendable, DatabaseValueConvertible {
        /// A bearer token for `/api`.
        case api
        /// A cookie for the portal's pages.
        case portal
    }

    let database: HospitalDatabase
    let hasher: PasswordHasher
    let policy: SessionPolicy
    let clock: @Sendable () -> Int64
    let random: @Sendable (Int) -> [UInt8]
    let throttle: LoginThrottle
    /// Where password-reset links go; nil where none are sent (the command line).
    let sender: (any CodeSender)?
    /// The e-mail to a doctor whose account an admin approved.
    let notices: Notices
    /// Sign-in's second step, for accounts that turned it on.
    public let secondFactor: SecondFactor

    /// - Parameter codeKey: The server key outside the database (`code.key`) that second-step secrets are
    ///   sealed under; a fresh one where nobody signs in (the command line).
    public init(
        database: HospitalDatabase, hasher: PasswordHasher, policy: SessionPolicy = SessionPolicy(),
        clock: @escaping @Sendable () -> Int64, random: @escaping @Sendable (Int) -> [UInt8], sender: (any CodeSender)? = nil,
        notices: Notices = .init(), codeKey: SymmetricKey = SymmetricKey(size: .bits256)
    ) {
        secondFactor = SecondFactor(database: database, codeKey: codeKey, notices: notices, clock: clock, random: random)
        self.sender = sender
        self.notices = notices
        self.database = database
        self.hasher = hasher
        self.policy = policy
        self.clock = clock
        self.random = random
        // The counters of the last run: a restart does not reset them.
        let saved = try? database.writer.read { db in try Data.fetchOne(db, sql: "SELECT state FROM throttle_state WHERE id = 1") }
        let counters = saved.flatMap { try? JSONDecoder().decode([String: LoginThrottle.Counter].self, from: $0) } ?? [:]
        self.throttle = LoginThrottle(restoring: counters)
    }

    /// What a patient sends to register.
    public struct PatientRegistration: Codable, Sendable {
        public var name: String
        public var email: String
        public var password: String
        public var dateOfBirth: String
        public var phone: String

        public init(name: String, email: String, password: String, dateOfBirth: String, phone: String) {
            self.name = name
            self.email = email
            self.password = password
            self.dateOfBirth = dateOfBirth
            self.phone = phone
        }
    }

    /// What an admin sends to create a doctor or another admin.
    public struct StaffRegistration: Codable, Sendable {
        public var role: Role
        public var name: String
        public var email: String
        public var password: String
        public var specialization: String?

        public init(role: Role, name: String, email: String, password: String, specialization: String? = nil) {
            self.role = role
            self.name = name
            self.email = email
            self.password = password
            self.specialization = specialization
        }
    }

    /// A login's result: the bearer token (shown once, stored only hashed) and its user.
    public struct Session: Sendable {
        public var token: String
        public var user: User
        public var expiresAt: Int64
    }

    /// The patient account `input` asks for, checked field by field (not yet stored).
    /// - Throws: ``HospitalError`` `invalid_field` naming the field.
    func newPatient(_ input: PatientRegistration, now: Int64) throws -> User {
        let user = User(
            role: .patient,
            name: try Validation.name(input.name),
            email: try Validation.email(input.email),
            passwordHash: "",
            dateOfBirth: try Validation.dateOfBirth(input.dateOfBirth, now: now),
            phone: try Validation.phone(input.phone),
            createdAt: now
        )
        try Validation.password(input.password, email: user.email)
        return user
    }

    /// Counts a sign-up against the client's limit (none without a client address).
    /// - Throws: `throttled` beyond it.
    func checkRegistration(client: String?, now: Int64) async throws {
        guard let client else { return }
        do {
            try await throttle.checkRegistration(client: client, now: now)
        } catch {
            try? await settleThrottle(now: now)
            throw error
        }
    }

    /// What a doctor sends to register themselves.
    public struct DoctorRegistration: Codable, Sendable {
        public var name: String
        public var email: String
        public var password: String
        public var specialization: String

        public init(name: String, email: String, password: String, specialization: String) {
            self.name = name
            self.email = email
            self.password = password
            self.specialization = specialization
        }
    }

    /// The doctor account `input` asks for, checked field by field (not yet stored); it waits for an
    /// admin's approval once its owner opened the e-mailed link.
    /// - Throws: ``HospitalError`` `invalid_field` naming the field.
    func newDoctor(_ input: DoctorRegistration, now: Int64) throws -> User {
        var user = User(
            role: .doctor, name: try Validation.name(input.name), email: try Validation.email(input.email), passwordHash: "",
            specialization: try Validation.specialization(input.specialization), createdAt: now)
        user.status = .pending
        try Validation.password(input.password, email: user.email)
        return user
    }

    /// Creates a doctor or an admin (the caller checked that an admin asks, or the command line does).
    /// - Throws: ``HospitalError`` `invalid_field` naming the field, `email_taken`.
    /// - Parameter admin: The admin who creates it, for the ledger; nil from the command line.
    public func createStaff(_ input: StaffRegistration, by admin: Identity? = nil) async throws -> User {
        guard input.role != .patient else {
            throw HospitalError.invalid("role", "Staff accounts are doctor or admin; patients register themselves.")
        }
        var user = User(
            role: input.role, name: try Validation.name(input.name), email: try Validation.email(input.email), passwordHash: "",
            createdAt: clock())
        if input.role == .doctor {
            user.specialization = try Validation.specialization(input.specialization)
        } else if input.specialization != nil {
            throw HospitalError.invalid("specialization", "Only doctors have a specialization.")
        }
        try Validation.password(input.password, email: user.email)
        let inserted = try await insert(user, password: input.password)
        let now = clock()
        try await database.write { db in
            try AuditLedger.append(
                .init(actor: admin?.userId, .accountCreated, subject: "user:\(inserted.id ?? 0)", detail: "\(input.role.rawValue) created"),
                time: now, in: db)
        }
        return inserted
    }

    /// Stores a staff account an admin creates (the admin may learn that an address is taken).
    func insert(_ user: User, password: String) async throws -> User {
        var user = user
        // Taken addresses are refused before the costly hash.
        let email = user.email
        if try await database.read({ db in try User.filter(Column("email") == email).fetchCount(db) }) > 0 {
            throw HospitalError.emailTaken
        }
        user.passwordHash = try await hasher.hash(password)
        do {
            return try await database.write { [user] db in
                var inserted = user
                try inserted.insert(db)
                return inserted
            }
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            throw HospitalError.emailTaken
        }
    }

    /// Where a sign-in stands once the password checked out.
    public enum LoginStep: Sendable {
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
    public func login(email: String, password: String, client: String, kind: SessionKind = .api, code: String? = nil) async throws
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
    public func beginLogin(email: String, password: String, client: String, kind: SessionKind = .api) async throws -> LoginStep {
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
            try await database.write { db in
                try db.execute(sql: "UPDATE user SET passwordHash = ? WHERE id = ?", arguments: [rehash, user.id])
            }
        }
        guard let userId = user.id, try await secondFactor.isEnabled(userId: userId) else {
            // A whole sign-in: this address is known to the account from now on (a password alone, with a
            // second step still to pass, does not make it so).
            await throttle.remember(account: user.email, client: client, now: now)
            return .signedIn(try await openSession(user, kind: kind, detail: "", now: now))
        }
        return .secondFactor(challenge: try await secondFactor.openChallenge(userId: userId, kind: kind, now: now))
    }

    /// The second step of a sign-in: a right code opens the session; a wrong one counts against the
    /// throttle like a wrong password, and five void the challenge.
    /// - Throws: `bad_second_factor`, `sign_in_again`, `throttled`.
    public func completeLogin(challenge: String, code: String, client: String) async throws -> Session {
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
            await throttle.recordFailure(account: user.email, client: client, userId: userId, now: now)
            try await recordFailedLogin(user: user, reason: "wrong second-step code", client: client, now: now)
            throw HospitalError.badSecondFactor
        }
        await throttle.recordSuccess(account: user.email, client: client, now: now)
        await throttle.remember(account: user.email, client: client, now: now)
        return try await openSession(user, kind: kind, detail: "with \(passed.rawValue)", now: now)
    }

    /// A new session for someone who just proved who they are again (a password change ended every
    /// session, the browser that made it keeps going).
    public func renewSession(userId: Int64, kind: SessionKind) async throws -> Session {
        try await openSession(try await user(id: userId), kind: kind, detail: "after a password change", now: clock())
    }

    /// Opens a session for a user whose sign-in checked out.
    private func openSession(_ user: User, kind: SessionKind, detail: String, now: Int64) async throws -> Session {
        let token = Self.base64URL(random(32))
        try await database.write { db in
            // The user's expired sessions go now: nothing else would remove a token never used again.
            try db.execute(
                sql: """
                    DELETE FROM session WHERE userId = ?
                    AND (lastUsedAt <= CASE kind WHEN 'portal' THEN ? ELSE ? END OR createdAt <= ?)
                    """,
                arguments: [user.id, now - policy.portalIdle, now - policy.idle, now - policy.absolute])
            try db.execute(
                sql: "INSERT INTO session (tokenHash, userId, createdAt, lastUsedAt, kind) VALUES (?, ?, ?, ?, ?)",
                arguments: [Self.tokenHash(token), user.id, now, now, kind])
            try AuditLedger.append(
                .init(
                    actor: user.id, .login, subject: "user:\(user.id ?? 0)", patient: user.role == .patient ? user.id : nil,
                    detail: detail),
                time: now, in: db)
        }
        Counter(label: "chainvault_hospital_logins_total", dimensions: [("outcome", "success")]).increment()
        return Session(token: token, user: user, expiresAt: now + policy.absolute)
    }

    /// The account whose password this is, through the throttle: every refusal is counted and recorded
    /// alike, for a login and for a password change.
    /// - Throws: `bad_credentials`, `throttled`, `busy`, `account_pending`, `account_disabled`.
    private func checkCredentials(email: String, password: String, client: String, now: Int64) async throws -> User {
        let account = String(email.lowercased().prefix(Validation.maxEmailBytes))
        // A refused attempt is counted by the throttle, not audited one by one (see settleThrottle).
        try await throttle.checkLogin(account: account, client: client, now: now)
        guard password.utf8.count <= Validation.maxPasswordBytes, email.utf8.count <= Validation.maxEmailBytes else {
            await throttle.recordFailure(account: account, client: client, userId: nil, now: now)
            try await recordFailedLogin(user: nil, reason: "oversized", client: client, now: now)
            throw HospitalError.badCredentials
        }
        let user = try await database.read { db in try User.filter(Column("email") == account).fetchOne(db) }
        // An address the account signed in from before waits in the hasher's trusted lane; every other
        // attempt, for a known account or not, in the ordinary lane, bounded per client.
        let lane: ComputeGate.Lane =
            await throttle.isKnown(account: account, client: client, now: now)
            ? .trusted : .ordinary(share: LoginThrottle.clientKey(client))
        guard let user else {
            try await hasher.verifyNothing(password, lane: lane)
            await throttle.recordFailure(account: account, client: client, userId: nil, now: now)
            try await recordFailedLogin(user: nil, reason: "unknown account", client: client, now: now)
            throw HospitalError.badCredentials
        }
        guard try await hasher.verify(password, against: user.passwordHash, lane: lane) else {
            await throttle.recordFailure(account: account, client: client, userId: user.id, now: now)
            try await recordFailedLogin(user: user, reason: "wrong password", client: client, now: now)
            throw HospitalError.badCredentials
        }
        await throttle.recordSuccess(account: account, client: client, now: now)
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

    /// A refused login in the ledger: the user when the account exists, why, and from which address.
    /// What was typed into the e-mail field of an unknown account is never kept: it may be a password
    /// typed into the wrong field.
    private func recordFailedLogin(user: User?, reason: String, client: String, now: Int64) async throws {
        Counter(label: "chainvault_hospital_logins_total", dimensions: [("outcome", "failure")]).increment()
        try await database.write { db in
            try AuditLedger.append(
                .init(
                    actor: nil, .login, subject: user?.id.map { "user:\($0)" } ?? "account",
                    patient: user?.role == .patient ? user?.id : nil, outcome: .denied, detail: "\(reason) from \(client)"),
                time: now, in: db)
        }
    }

    /// After a login or sign-up: one ledger entry per throttle window that closed with refused attempts
    /// (a count, never one entry per attempt), and the counters saved, at most every 10 seconds, so that a
    /// restart does not reset them.
    func settleThrottle(now: Int64) async throws {
        let summaries = await throttle.takeSummaries(now: now)
        let snapshot = await throttle.snapshotIfDue(now: now, every: 10)
        guard !summaries.isEmpty || snapshot != nil else { return }
        let state = try snapshot.map { try JSONEncoder().encode($0) }
        try await database.write { db in
            for summary in summaries {
                try AuditLedger.append(
                    .init(
                        actor: nil, .login, subject: summary.userId.map { "user:\($0)" } ?? "account", patient: nil, outcome: .denied,
                        detail: "\(summary.refused) attempts refused (\(summary.scope.rawValue) throttled)"
                            + (summary.client.map { " from \($0)" } ?? "") + " between \(summary.from) and \(summary.until)"),
                    time: now, in: db)
            }
            if let state {
                try db.execute(sql: "INSERT OR REPLACE INTO throttle_state (id, state) VALUES (1, ?)", arguments: [state])
            }
        }
    }

    /// The identity behind a token of `kind`, refreshing its idle timer.
    /// - Throws: ``HospitalError/unauthenticated`` for an unknown, expired or revoked token, or one
    ///   opened through the other door.
    public func authenticate(token: String, kind: SessionKind = .api) async throws -> Identity {
        try await authenticateSession(token: token, kind: kind).identity
    }

    /// The identity behind a token of `kind` and when its session began, refreshing its idle timer.
    /// - Throws: ``HospitalError/unauthenticated``.
    public func authenticateSession(token: String, kind: SessionKind) async throws -> (identity: Identity, createdAt: Int64) {
        guard token.utf8.count <= 128 else { throw HospitalError.unauthenticated }
        let hash = Self.tokenHash(token)
        let now = clock()
        let idle = policy.idle(kind)
        let absolute = policy.absolute
        // Most requests only read: the session's idle clock moves (a write, through the one writer) only
        // when it is a tenth of the idle timeout old, at most a minute, so a signed-in page under load
        // does not queue every request behind the writer. An expired session is deleted on the way.
        let step = min(60, max(1, idle / 10))
        let select = """
            SELECT session.createdAt, session.lastUsedAt, user.id, user.role, user.name, user.timeZone
            FROM session JOIN user ON user.id = session.userId
            WHERE session.tokenHash = ? AND session.kind = ? AND user.status = 'active'
            """
        let found = try await database.read { db -> (created: Int64, lastUsed: Int64, identity: Identity)? in
            try Row.fetchOne(db, SQLRequest(sql: select, arguments: [hash, kind], cached: true)).map {
                ($0[0], $0[1], Identity(userId: $0[2], role: $0[3], name: $0[4], timeZone: $0[5]))
            }
        }
        guard let (created, lastUsed, identity) = found else { throw HospitalError.unauthenticated }
        if now - lastUsed >= idle || now - created >= absolute {
            try await database.write { db in try db.execute(sql: "DELETE FROM session WHERE tokenHash = ?", arguments: [hash]) }
            throw HospitalError.unauthenticated
        }
        if now - lastUsed >= step {
            // Guarded by the value read, so that of two requests at once one writes; a session ended
            // meanwhile (sign-out) stays ended.
            try await database.write { db in
                try db.execute(
                    sql: "UPDATE session SET lastUsedAt = ? WHERE tokenHash = ? AND lastUsedAt < ?", arguments: [now, hash, now])
            }
        }
        return (identity, created)
    }

    /// Revokes the token.
    public func logout(token: String) async throws {
        let hash = Self.tokenHash(token)
        try await database.write { db in try db.execute(sql: "DELETE FROM session WHERE tokenHash = ?", arguments: [hash]) }
    }

    /// The user's own record.
    /// - Throws: ``HospitalError/notFound(_:)``.
    public func user(id: Int64) async throws -> User {
        guard let user = try await database.read({ db in try User.fetchOne(db, key: id) }) else {
            throw HospitalError.notFound("user")
        }
        return user
    }

    /// What a doctor's public page says of them: given fields change, nil ones stay.
    public struct PublicProfile: Sendable {
        public var specialization: String?
        public var about: String?

        public init(specialization: String? = nil, about: String? = nil) {
            self.specialization = specialization
            self.about = about
        }
    }

    /// A person changes their phone number (patients) and time zone; a doctor also what their public page
    /// says (specialization, description), which is audited.
    /// - Throws: `invalid_field` (phone, timeZone, specialization, about), `not_found`.
    public func updateProfile(_ userId: Int64, phone: String?, timeZone: String?, doctor profile: PublicProfile = .init()) async throws
        -> User
    {
        let phone = try phone.map { try Validation.phone($0) }
        if let timeZone, TimeZone(identifier: timeZone) == nil || timeZone.utf8.count > 64 {
            throw HospitalError.invalid("timeZone", "Choose a time zone from the list.")
        }
        let specialization = try profile.specialization.map { try Validation.specialization($0) }
        let about = try profile.about.map { try Validation.about($0) }
        let now = clock()
        return try await database.write { db in
            guard var user = try User.fetchOne(db, key: userId) else { throw HospitalError.notFound("user") }
            if user.role == .patient, let phone { user.phone = phone }
            user.timeZone = timeZone
            var changed: [String] = []
            if user.role == .doctor {
                if let specialization, specialization != user.specialization {
                    user.specialization = specialization
                    changed.append("specialization")
                }
                if let about, about != user.about {
                    user.about = about
                    changed.append("about")
                }
            }
            try user.update(db, columns: ["phone", "timeZone", "specialization", "about"])
            if !changed.isEmpty {
                try AuditLedger.append(
                    .init(actor: userId, .profileChanged, subject: "user:\(userId)", detail: changed.joined(separator: ", ")), time: now,
                    in: db)
            }
            return user
        }
    }

    /// A person changes their password, knowing the current one; every session of theirs ends (also
    /// this one: the caller opens a new one).
    /// - Throws: `bad_credentials` (the current password is wrong; counted by the throttle),
    ///   `invalid_field` (the new one), `throttled`, `busy`.
    public func changePassword(_ userId: Int64, current: String, new: String, client: String) async throws {
        let user = try await reauthenticate(userId, password: current, client: client)
        let now = clock()
        try Validation.password(new, email: user.email)
        let hash = try await hasher.hash(new)
        try await database.write { db in
            try db.execute(sql: "UPDATE user SET passwordHash = ? WHERE id = ?", arguments: [hash, userId])
            try db.execute(sql: "DELETE FROM session WHERE userId = ?", arguments: [userId])
            try AuditLedger.append(
                .init(actor: userId, .passwordChanged, subject: "user:\(userId)", patient: user.role == .patient ? userId : nil), time: now,
                in: db)
        }
    }

    /// A signed-in person proves their password again before a change that takes over the account.
    /// The same check as a login, throttled alike, so that no form is a way around the throttle.
    /// - Throws: `bad_credentials` (counted by the throttle), `throttled`, `busy`.
    func reauthenticate(_ userId: Int64, password: String, client: String) async throws -> User {
        let user = try await self.user(id: userId)
        let now = clock()
        do {
            _ = try await checkCredentials(email: user.email, password: password, client: client, now: now)
            try? await settleThrottle(now: now)
        } catch {
            try? await settleThrottle(now: now)
            throw error
        }
        return user
    }

    /// Starts binding an authenticator app to a signed-in account: with a current code when the second
    /// step is on (a new phone), else with the password (a stolen session alone cannot bind its own app and
    /// lock the owner out). The owner is e-mailed when the binding is confirmed.
    /// - Parameter issuer: The hospital's name, as the app shows it.
    /// - Throws: `bad_second_factor` (field `code`), `bad_credentials`, `throttled`, `busy`.
    public func beginSecondFactor(userId: Int64, password: String, code: String, client: String, issuer: String) async throws
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
    public static let resetLifetime: Int64 = 30 * 60

    /// Sends a password-reset link to the account with this address, if there is an active one; the
    /// caller answers the same either way, after the same work. Counted against the client's sign-up limit.
    /// The message goes through the mail queue's next round (in memory, never in the database), after the
    /// answer; one that cannot be sent is logged there without its address or link.
    /// - Parameter link: The link for a token (the portal's configured address, never the request's `Host`).
    /// - Throws: `throttled`; never whether the account exists.
    public func requestPasswordReset(email: String, client: String, link: @Sendable (String) -> String) async throws {
        let now = clock()
        try await checkRegistration(client: client, now: now)
        let address = String(email.lowercased().trimmingCharacters(in: .whitespaces).prefix(Validation.maxEmailBytes))
        let user = try await database.read { db in try User.filter(Column("email") == address).fetchOne(db) }
        let token = Self.base64URL(random(32))
        // The same work whether or not an active account has the address — one transaction with one ledger
        // entry, the message handed to the mail queue to go after the answer — so that the answer's timing
        // does not tell which addresses have accounts.
        guard let user, user.status == .active, let userId = user.id else {
            try await database.write { db in
                try AuditLedger.append(
                    .init(
                        actor: nil, .passwordResetSent, subject: "account", outcome: .denied, detail: "no active account has the address"),
                    time: now, in: db)
            }
            return
        }
        try await database.write { db in
            // One live link per account: an older one stops working.
            try db.execute(sql: "DELETE FROM passwordReset WHERE userId = ? AND usedAt IS NULL", arguments: [userId])
            try db.execute(
                sql: "INSERT INTO passwordReset (tokenHash, userId, createdAt, expiresAt) VALUES (?, ?, ?, ?)",
                arguments: [Self.tokenHash(token), userId, now, now + Self.resetLifetime])
            try AuditLedger.append(
                .init(actor: nil, .passwordResetSent, subject: "user:\(userId)", patient: user.role == .patient ? userId : nil), time: now,
                in: db)
        }
        let expiry = Mail.rfc5322Date(now + Self.resetLifetime)
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
    public func resetPassword(token: String, newPassword: String) async throws {
        let now = clock()
        let hash = Self.tokenHash(String(token.prefix(128)))
        let found = try await database.read { db -> (userId: Int64, email: String)? in
            try Row.fetchOne(
                db,
                sql: "SELECT passwordReset.userId, user.email FROM passwordReset JOIN user ON user.id = passwordReset.userId "
                    + "WHERE tokenHash = ? AND usedAt IS NULL AND expiresAt > ?", arguments: [hash, now]
            ).map { ($0[0], $0[1]) }
        }
        guard let (userId, email) = found else { throw HospitalError.resetInvalid }
        try Validation.password(newPassword, email: email)
        let passwordHash = try await hasher.hash(newPassword)
        try await database.write { db in
            try db.execute(
                sql: "UPDATE passwordReset SET usedAt = ? WHERE tokenHash = ? AND usedAt IS NULL AND expiresAt > ?",
                arguments: [now, hash, now])
            guard db.changesCount == 1 else { throw HospitalError.resetInvalid }
            try db.execute(sql: "UPDATE user SET passwordHash = ? WHERE id = ?", arguments: [passwordHash, userId])
            try db.execute(sql: "DELETE FROM session WHERE userId = ?", arguments: [userId])
            let patient = try Row.fetchOne(db, sql: "SELECT role FROM user WHERE id = ?", arguments: [userId])?[0] as String? == "patient"
            try AuditLedger.append(
                .init(actor: userId, .passwordChanged, subject: "user:\(userId)", patient: patient ? userId : nil, detail: "by reset link"),
                time: now, in: db)
        }
    }

    /// Ends every session of the user, on every device.
    public func endSessions(_ userId: Int64) async throws {
        try await database.write { db in try db.execute(sql: "DELETE FROM session WHERE userId = ?", arguments: [userId]) }
    }

    /// Accounts for an admin's list: by name or e-mail containing `search`, of a role and status when
    /// given, newest first, at most one page.
    public func list(search: String, role: Role?, status: AccountStatus?) async throws -> [User] {
        let query = search.trimmingCharacters(in: .whitespaces).lowercased()
        guard query.count <= 100 else { throw HospitalError.invalid("search", "Search with at most 100 characters.") }
        let pattern = "%" + Scheduling.likeEscaped(query) + "%"
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

    /// The names of users by id (for lists that show people, not numbers).
    public func names(_ ids: Set<Int64>) async throws -> [Int64: String] {
        guard !ids.isEmpty else { return [:] }
        return try await database.read { db in
            var names: [Int64: String] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT id, name FROM user WHERE id IN (\(ids.map { _ in "?" }.joined(separator: ",")))",
                arguments: StatementArguments(Array(ids)))
            {
                names[row[0]] = row[1]
            }
            return names
        }
    }

    /// Tokens are stored as their SHA-256 only: a copy of the database opens no session.
    static func tokenHash(_ token: String) -> Data { Data(SHA256.hash(data: Array(token.utf8))) }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
