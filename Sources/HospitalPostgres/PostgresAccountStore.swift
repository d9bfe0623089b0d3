import Foundation
import HospitalCore
import PostgresNIO

struct PostgresAccountStore: AccountStore {
    let connection: PostgresTransaction

    func user(id: Int64) async throws -> User? {
        try await connection.record(User.self, "SELECT * FROM users WHERE id = \(id)")
    }

    func user(email: String) async throws -> User? {
        // Unique and compared without regard to case (the index on lower(email)).
        try await connection.record(User.self, "SELECT * FROM users WHERE lower(email) = lower(\(email))")
    }

    func patients(bornOn dateOfBirth: String) async throws -> [User] {
        try await connection.records(User.self, "SELECT * FROM users WHERE role = 'patient' AND date_of_birth = \(dateOfBirth)")
    }

    func users(containing text: String, role: Role?, status: AccountStatus?, limit: Int) async throws -> [User] {
        let pattern = PostgresPattern.containing(text)
        return try await connection.records(
            User.self,
            """
            SELECT * FROM users WHERE (lower(name) LIKE \(pattern) ESCAPE '\\' OR lower(email) LIKE \(pattern) ESCAPE '\\')
            AND (\(role?.rawValue)::text IS NULL OR role = \(role?.rawValue))
            AND (\(status?.rawValue)::text IS NULL OR status = \(status?.rawValue)) ORDER BY id DESC LIMIT \(limit)
            """)
    }

    func names(_ ids: Set<Int64>) async throws -> [Int64: String] {
        guard !ids.isEmpty else { return [:] }
        var names: [Int64: String] = [:]
        for row in try await connection.rows("SELECT id, name FROM users WHERE id = ANY(\(Array(ids)))") {
            let (id, name) = try row.decode((Int64, String).self)
            names[id] = name
        }
        return names
    }

    func insert(_ user: User) async throws -> Int64? {
        // A taken address answers nil, as SQLite's unique violation does, without failing the transaction.
        try await connection.value(
            Int64.self, try PostgresRowEncoder.insert(into: "users", user, "ON CONFLICT DO NOTHING RETURNING id"))
    }

    func update(_ user: User) async throws {
        guard let id = user.id else { return }
        try await connection.execute(
            """
            UPDATE users SET phone = \(user.phone), time_zone = \(user.timeZone), specialization = \(user.specialization),
            about = \(user.about), status = \(user.status.rawValue) WHERE id = \(id)
            """)
    }

    func setPasswordHash(_ hash: String, userId: Int64) async throws {
        try await connection.execute("UPDATE users SET password_hash = \(hash) WHERE id = \(userId)")
    }

    func delete(user id: Int64) async throws {
        try await connection.execute("DELETE FROM users WHERE id = \(id)")
    }

    func registration(tokenHash: Data, at time: Int64) async throws -> Registration? {
        guard
            let row = try await connection.rows(
                """
                SELECT token_hash, email, role, name, password_hash, date_of_birth, phone, specialization, created_at, expires_at
                FROM registrations WHERE token_hash = \(tokenHash) AND expires_at > \(time)
                """
            ).first
        else { return nil }
        let (hash, email, role, name, password, dateOfBirth, phone, specialization, createdAt, expiresAt) = try row.decode(
            (Data, String, String, String, String, String?, String?, String?, Int64, Int64).self)
        return Registration(
            tokenHash: hash, email: email, role: Role(rawValue: role) ?? .patient, name: name, passwordHash: password,
            dateOfBirth: dateOfBirth, phone: phone, specialization: specialization, createdAt: createdAt, expiresAt: expiresAt)
    }

    func replaceRegistration(_ registration: Registration) async throws -> Int64 {
        try await connection.execute(
            "DELETE FROM registrations WHERE email = \(registration.email) OR expires_at <= \(registration.createdAt)")
        guard
            let id = try await connection.value(
                Int64.self,
                """
                INSERT INTO registrations (token_hash, email, role, name, password_hash, date_of_birth, phone, specialization, created_at, expires_at)
                VALUES (\(registration.tokenHash), \(registration.email), \(registration.role.rawValue), \(registration.name),
                \(registration.passwordHash), \(registration.dateOfBirth), \(registration.phone), \(registration.specialization),
                \(registration.createdAt), \(registration.expiresAt)) RETURNING id
                """)
        else { throw PostgresRowDecodingError(column: "id", reason: "the insert returned no id") }
        return id
    }

    func countFailedActivation(tokenHash: Data, limit: Int) async throws {
        try await connection.execute("UPDATE registrations SET failed_attempts = failed_attempts + 1 WHERE token_hash = \(tokenHash)")
        try await connection.execute("DELETE FROM registrations WHERE token_hash = \(tokenHash) AND failed_attempts >= \(limit)")
    }

    func consumeRegistration(tokenHash: Data, at time: Int64) async throws -> Bool {
        try await connection.changes("DELETE FROM registrations WHERE token_hash = \(tokenHash) AND expires_at > \(time) RETURNING 1") == 1
    }

    func replacePasswordReset(tokenHash: Data, userId: Int64, createdAt: Int64, expiresAt: Int64) async throws {
        try await connection.execute("DELETE FROM password_resets WHERE user_id = \(userId) AND used_at IS NULL")
        try await connection.execute(
            """
            INSERT INTO password_resets (token_hash, user_id, created_at, expires_at)
            VALUES (\(tokenHash), \(userId), \(createdAt), \(expiresAt))
            """)
    }

    func liveResetLinks(at time: Int64) async throws -> [(userId: Int64, createdAt: Int64)] {
        try await connection.rows("SELECT user_id, created_at FROM password_resets WHERE used_at IS NULL AND expires_at > \(time)")
            .map { row in
                let (userId, createdAt) = try row.decode((Int64, Int64).self)
                return (userId: userId, createdAt: createdAt)
            }
    }

    func waitingRegistrationIds(at time: Int64) async throws -> [Int64] {
        try await connection.values(Int64.self, "SELECT id FROM registrations WHERE expires_at > \(time)")
    }

    func passwordReset(tokenHash: Data, at time: Int64) async throws -> User? {
        try await connection.record(
            User.self,
            """
            SELECT users.* FROM password_resets JOIN users ON users.id = password_resets.user_id
            WHERE token_hash = \(tokenHash) AND used_at IS NULL AND expires_at > \(time)
            """)
    }

    func consumePasswordReset(tokenHash: Data, at time: Int64) async throws -> Bool {
        try await connection.changes(
            """
            UPDATE password_resets SET used_at = \(time) WHERE token_hash = \(tokenHash) AND used_at IS NULL AND expires_at > \(time)
            RETURNING 1
            """) == 1
    }

    func secondFactor(userId: Int64) async throws -> SecondFactorState? {
        guard
            let row = try await connection.rows(
                "SELECT role, totp_secret, totp_pending, totp_last_step FROM users WHERE id = \(userId)"
            ).first
        else { return nil }
        let (role, secret, pending, lastStep) = try row.decode((String, Data?, Data?, Int64?).self)
        return SecondFactorState(role: Role(rawValue: role) ?? .patient, secret: secret, pending: pending, lastStep: lastStep)
    }

    func setPendingSecondFactor(_ sealed: Data?, userId: Int64) async throws {
        try await connection.execute("UPDATE users SET totp_pending = \(sealed) WHERE id = \(userId)")
    }

    func enableSecondFactor(userId: Int64, secret: Data, step: Int64, recoveryCodeHashes: [Data]) async throws {
        try await connection.execute(
            "UPDATE users SET totp_secret = \(secret), totp_pending = NULL, totp_last_step = \(step) WHERE id = \(userId)")
        try await connection.execute("DELETE FROM recovery_codes WHERE user_id = \(userId)")
        for hash in recoveryCodeHashes {
            try await connection.execute("INSERT INTO recovery_codes (code_hash, user_id) VALUES (\(hash), \(userId))")
        }
    }

    func setSecondFactorStep(_ step: Int64, userId: Int64) async throws {
        try await connection.execute("UPDATE users SET totp_last_step = \(step) WHERE id = \(userId)")
    }

    func useRecoveryCode(hash: Data, userId: Int64, at time: Int64) async throws -> Bool {
        try await connection.changes(
            """
            UPDATE recovery_codes SET used_at = \(time) WHERE code_hash = \(hash) AND user_id = \(userId) AND used_at IS NULL
            RETURNING 1
            """) == 1
    }

    func removeSecondFactor(userId: Int64) async throws {
        try await connection.execute(
            "UPDATE users SET totp_secret = NULL, totp_pending = NULL, totp_last_step = NULL WHERE id = \(userId)")
        try await connection.execute("DELETE FROM recovery_codes WHERE user_id = \(userId)")
        try await connection.execute("DELETE FROM login_challenges WHERE user_id = \(userId)")
    }

    func secondFactorAccounts() async throws -> Set<Int64> {
        Set(try await connection.values(Int64.self, "SELECT id FROM users WHERE totp_secret IS NOT NULL"))
    }
}

struct PostgresSessionStore: SessionStore {
    let connection: PostgresTransaction

    func insertSession(tokenHash: Data, userId: Int64, kind: Accounts.SessionKind, at time: Int64) async throws {
        try await connection.execute(
            """
            INSERT INTO sessions (token_hash, user_id, created_at, last_used_at, kind)
            VALUES (\(tokenHash), \(userId), \(time), \(time), \(kind.rawValue))
            """)
    }

    func deleteExpiredSessions(userId: Int64, unusedSince idleBefore: [Accounts.SessionKind: Int64], createdBefore: Int64) async throws {
        try await connection.execute(
            """
            DELETE FROM sessions WHERE user_id = \(userId)
            AND (last_used_at <= CASE kind WHEN 'portal' THEN \(idleBefore[.portal] ?? 0) ELSE \(idleBefore[.api] ?? 0) END
            OR created_at <= \(createdBefore))
            """)
    }

    func session(tokenHash: Data, kind: Accounts.SessionKind) async throws -> StoredSession? {
        guard
            let row = try await connection.rows(
                """
                SELECT sessions.created_at, sessions.last_used_at, users.id, users.role, users.name, users.time_zone
                FROM sessions JOIN users ON users.id = sessions.user_id
                WHERE sessions.token_hash = \(tokenHash) AND sessions.kind = \(kind.rawValue) AND users.status = 'active'
                """
            ).first
        else { return nil }
        let (createdAt, lastUsedAt, userId, role, name, timeZone) = try row.decode((Int64, Int64, Int64, String, String, String?).self)
        return StoredSession(
            createdAt: createdAt, lastUsedAt: lastUsedAt,
            identity: Identity(userId: userId, role: Role(rawValue: role) ?? .patient, name: name, timeZone: timeZone))
    }

    func touchSession(tokenHash: Data, at time: Int64) async throws {
        try await connection.execute(
            "UPDATE sessions SET last_used_at = \(time) WHERE token_hash = \(tokenHash) AND last_used_at < \(time)")
    }

    func deleteSession(tokenHash: Data) async throws {
        try await connection.execute("DELETE FROM sessions WHERE token_hash = \(tokenHash)")
    }

    func deleteSessions(userId: Int64) async throws {
        try await connection.execute("DELETE FROM sessions WHERE user_id = \(userId)")
    }

    func insertChallenge(tokenHash: Data, userId: Int64, kind: Accounts.SessionKind, at time: Int64, expiredBefore: Int64) async throws {
        try await connection.execute("DELETE FROM login_challenges WHERE created_at <= \(expiredBefore)")
        try await connection.execute(
            """
            INSERT INTO login_challenges (token_hash, user_id, kind, created_at, attempts)
            VALUES (\(tokenHash), \(userId), \(kind.rawValue), \(time), 0)
            """)
    }

    func challenge(tokenHash: Data, createdAfter time: Int64, maxAttempts: Int) async throws -> (userId: Int64, kind: Accounts.SessionKind)?
    {
        guard
            let row = try await connection.rows(
                """
                SELECT user_id, kind FROM login_challenges
                WHERE token_hash = \(tokenHash) AND created_at > \(time) AND attempts < \(maxAttempts)
                """
            ).first
        else { return nil }
        let (userId, kind) = try row.decode((Int64, String).self)
        guard let kind = Accounts.SessionKind(rawValue: kind) else { return nil }
        return (userId: userId, kind: kind)
    }

    func countChallengeAttempt(tokenHash: Data, createdAfter time: Int64, maxAttempts: Int) async throws -> Int64? {
        try await connection.value(
            Int64.self,
            """
            UPDATE login_challenges SET attempts = attempts + 1
            WHERE token_hash = \(tokenHash) AND created_at > \(time) AND attempts < \(maxAttempts) RETURNING user_id
            """)
    }

    func challengeAttempts(tokenHash: Data) async throws -> Int? {
        try await connection.value(Int.self, "SELECT attempts FROM login_challenges WHERE token_hash = \(tokenHash)")
    }

    func deleteChallenge(tokenHash: Data) async throws {
        try await connection.execute("DELETE FROM login_challenges WHERE token_hash = \(tokenHash)")
    }

    func throttleCounters(_ keys: [String]) async throws -> [String: ThrottleCounter] {
        try await counters("SELECT * FROM throttle_counters WHERE key = ANY(\(Array(Set(keys))))")
    }

    func throttleCounters(ofAccounts accountKeys: [String]) async throws -> [String: ThrottleCounter] {
        try await counters(
            """
            SELECT * FROM throttle_counters WHERE key = ANY(\(accountKeys.map { "account:\($0)" }))
            OR (left(key, 5) = 'pair:' AND split_part(key, '|', 1) = ANY(\(accountKeys.map { "pair:\($0)" })))
            """)
    }

    func saveThrottleCounter(_ counter: ThrottleCounter, key: String, expiresAt: Int64) async throws {
        try await connection.execute(
            """
            INSERT INTO throttle_counters (key, failures, window_start, last_failure, refused, user_id, client, expires_at)
            VALUES (\(key), \(counter.failures), \(counter.windowStart), \(counter.lastFailure), \(counter.refused), \(counter.userId),
            \(counter.client), \(expiresAt))
            ON CONFLICT (key) DO UPDATE SET failures = EXCLUDED.failures, window_start = EXCLUDED.window_start,
            last_failure = EXCLUDED.last_failure, refused = EXCLUDED.refused, user_id = EXCLUDED.user_id, client = EXCLUDED.client,
            expires_at = EXCLUDED.expires_at
            """)
    }

    func removeThrottleCounter(key: String) async throws {
        try await connection.execute("DELETE FROM throttle_counters WHERE key = \(key)")
    }

    func countRefused(keys: [String]) async throws {
        try await connection.execute("UPDATE throttle_counters SET refused = refused + 1 WHERE key = ANY(\(Array(Set(keys))))")
    }

    func takeExpiredThrottleCounters(at time: Int64, limit: Int) async throws -> [String: ThrottleCounter] {
        try await counters(
            """
            DELETE FROM throttle_counters WHERE key IN (
                SELECT key FROM throttle_counters WHERE expires_at <= \(time) ORDER BY expires_at LIMIT \(limit) FOR UPDATE SKIP LOCKED)
            RETURNING *
            """)
    }

    private func counters(_ query: PostgresQuery) async throws -> [String: ThrottleCounter] {
        var found: [String: ThrottleCounter] = [:]
        for row in try await connection.rows(query) {
            let (key, failures, windowStart, lastFailure, refused, userId, client) = try row.decode(
                (String, Int, Int64, Int64, Int, Int64?, String?).self)
            found[key] = ThrottleCounter(
                failures: failures, windowStart: windowStart, lastFailure: lastFailure, refused: refused, userId: userId, client: client)
        }
        return found
    }
}
