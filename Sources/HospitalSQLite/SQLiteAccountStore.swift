import Foundation
import GRDB
import HospitalCore

struct SQLiteAccountStore: AccountStore {
    let connection: SQLiteTransaction

    // Statements cached: every ledger entry and notice reads a name or an account.
    func user(id: Int64) async throws -> User? {
        try await connection.run { db in
            try User.fetchOne(db, SQLRequest(sql: "SELECT * FROM user WHERE id = ?", arguments: [id], cached: true))
        }
    }

    func user(email: String) async throws -> User? {
        // The column compares without regard to case (COLLATE NOCASE).
        try await connection.run { db in try User.fetchOne(db, sql: "SELECT * FROM user WHERE email = ?", arguments: [email]) }
    }

    func patients(bornOn dateOfBirth: String) async throws -> [User] {
        try await connection.run { db in
            try User.fetchAll(db, sql: "SELECT * FROM user WHERE role = 'patient' AND dateOfBirth = ?", arguments: [dateOfBirth])
        }
    }

    func users(containing text: String, role: Role?, status: AccountStatus?, limit: Int) async throws -> [User] {
        let pattern = "%" + SQLitePattern.escaped(text) + "%"
        return try await connection.run { db in
            try User.fetchAll(
                db,
                sql: """
                    SELECT * FROM user WHERE (lower(name) LIKE ? ESCAPE '\\' OR lower(email) LIKE ? ESCAPE '\\')
                    AND (? IS NULL OR role = ?) AND (? IS NULL OR status = ?) ORDER BY id DESC LIMIT ?
                    """,
                arguments: [pattern, pattern, role?.rawValue, role?.rawValue, status?.rawValue, status?.rawValue, limit])
        }
    }

    func names(_ ids: Set<Int64>) async throws -> [Int64: String] {
        guard !ids.isEmpty else { return [:] }
        return try await connection.run { db in
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

    func insert(_ user: User) async throws -> Int64? {
        try await connection.run { db in
            var user = user
            do {
                try user.insert(db)
            } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
                return nil
            }
            return user.id
        }
    }

    func update(_ user: User) async throws {
        try await connection.run { db in try user.update(db, columns: ["phone", "timeZone", "specialization", "about", "status"]) }
    }

    func setPasswordHash(_ hash: String, userId: Int64) async throws {
        try await connection.run { db in
            try db.execute(sql: "UPDATE user SET passwordHash = ? WHERE id = ?", arguments: [hash, userId])
        }
    }

    func delete(user id: Int64) async throws {
        try await connection.run { db in _ = try User.deleteOne(db, key: id) }
    }

    func registration(tokenHash: Data, at time: Int64) async throws -> Registration? {
        try await connection.run { db in
            try Row.fetchOne(db, sql: "SELECT * FROM registration WHERE tokenHash = ? AND expiresAt > ?", arguments: [tokenHash, time])
                .map { row in
                    Registration(
                        tokenHash: row["tokenHash"], email: row["email"], role: row["role"], name: row["name"],
                        passwordHash: row["passwordHash"], dateOfBirth: row["dateOfBirth"], phone: row["phone"],
                        specialization: row["specialization"], createdAt: row["createdAt"], expiresAt: row["expiresAt"])
                }
        }
    }

    func replaceRegistration(_ registration: Registration) async throws -> Int64 {
        try await connection.run { db in
            try db.execute(
                sql: "DELETE FROM registration WHERE email = ? OR expiresAt <= ?", arguments: [registration.email, registration.createdAt])
            try db.execute(
                sql: """
                    INSERT INTO registration (tokenHash, email, role, name, passwordHash, dateOfBirth, phone, specialization, createdAt, expiresAt)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    registration.tokenHash, registration.email, registration.role.rawValue, registration.name, registration.passwordHash,
                    registration.dateOfBirth, registration.phone, registration.specialization, registration.createdAt,
                    registration.expiresAt,
                ])
            return db.lastInsertedRowID
        }
    }

    func countFailedActivation(tokenHash: Data, limit: Int) async throws {
        try await connection.run { db in
            try db.execute(sql: "UPDATE registration SET failedAttempts = failedAttempts + 1 WHERE tokenHash = ?", arguments: [tokenHash])
            try db.execute(sql: "DELETE FROM registration WHERE tokenHash = ? AND failedAttempts >= ?", arguments: [tokenHash, limit])
        }
    }

    func consumeRegistration(tokenHash: Data, at time: Int64) async throws -> Bool {
        try await connection.run { db in
            try db.execute(sql: "DELETE FROM registration WHERE tokenHash = ? AND expiresAt > ?", arguments: [tokenHash, time])
            return db.changesCount == 1
        }
    }

    func replacePasswordReset(tokenHash: Data, userId: Int64, createdAt: Int64, expiresAt: Int64) async throws {
        try await connection.run { db in
            try db.execute(sql: "DELETE FROM passwordReset WHERE userId = ? AND usedAt IS NULL", arguments: [userId])
            try db.execute(
                sql: "INSERT INTO passwordReset (tokenHash, userId, createdAt, expiresAt) VALUES (?, ?, ?, ?)",
                arguments: [tokenHash, userId, createdAt, expiresAt])
        }
    }

    func liveResetLinks(at time: Int64) async throws -> [(userId: Int64, createdAt: Int64)] {
        try await connection.run { db in
            try Row.fetchAll(
                db, sql: "SELECT userId, createdAt FROM passwordReset WHERE usedAt IS NULL AND expiresAt > ?", arguments: [time]
            )
            .map { ($0[0], $0[1]) }
        }
    }

    func waitingRegistrationIds(at time: Int64) async throws -> [Int64] {
        try await connection.run { db in try Int64.fetchAll(db, sql: "SELECT id FROM registration WHERE expiresAt > ?", arguments: [time]) }
    }

    func passwordReset(tokenHash: Data, at time: Int64) async throws -> User? {
        try await connection.run { db in
            try User.fetchOne(
                db,
                sql: "SELECT user.* FROM passwordReset JOIN user ON user.id = passwordReset.userId "
                    + "WHERE tokenHash = ? AND usedAt IS NULL AND expiresAt > ?", arguments: [tokenHash, time])
        }
    }

    func consumePasswordReset(tokenHash: Data, at time: Int64) async throws -> Bool {
        try await connection.run { db in
            try db.execute(
                sql: "UPDATE passwordReset SET usedAt = ? WHERE tokenHash = ? AND usedAt IS NULL AND expiresAt > ?",
                arguments: [time, tokenHash, time])
            return db.changesCount == 1
        }
    }

    func secondFactor(userId: Int64) async throws -> SecondFactorState? {
        try await connection.run { db in
            try Row.fetchOne(db, sql: "SELECT role, totpSecret, totpPending, totpLastStep FROM user WHERE id = ?", arguments: [userId])
                .map { row in
                    SecondFactorState(
                        role: row["role"], secret: row["totpSecret"], pending: row["totpPending"], lastStep: row["totpLastStep"])
                }
        }
    }

    func setPendingSecondFactor(_ sealed: Data?, userId: Int64) async throws {
        try await connection.run { db in
            try db.execute(sql: "UPDATE user SET totpPending = ? WHERE id = ?", arguments: [sealed, userId])
        }
    }

    func enableSecondFactor(userId: Int64, secret: Data, step: Int64, recoveryCodeHashes: [Data]) async throws {
        try await connection.run { db in
            try db.execute(
                sql: "UPDATE user SET totpSecret = ?, totpPending = NULL, totpLastStep = ? WHERE id = ?", arguments: [secret, step, userId])
            try db.execute(sql: "DELETE FROM recoveryCode WHERE userId = ?", arguments: [userId])
            for hash in recoveryCodeHashes {
                try db.execute(sql: "INSERT INTO recoveryCode (codeHash, userId) VALUES (?, ?)", arguments: [hash, userId])
            }
        }
    }

    func setSecondFactorStep(_ step: Int64, userId: Int64) async throws {
        try await connection.run { db in
            try db.execute(sql: "UPDATE user SET totpLastStep = ? WHERE id = ?", arguments: [step, userId])
        }
    }

    func useRecoveryCode(hash: Data, userId: Int64, at time: Int64) async throws -> Bool {
        try await connection.run { db in
            try db.execute(
                sql: "UPDATE recoveryCode SET usedAt = ? WHERE codeHash = ? AND userId = ? AND usedAt IS NULL",
                arguments: [time, hash, userId])
            return db.changesCount == 1
        }
    }

    func removeSecondFactor(userId: Int64) async throws {
        try await connection.run { db in
            try db.execute(
                sql: "UPDATE user SET totpSecret = NULL, totpPending = NULL, totpLastStep = NULL WHERE id = ?", arguments: [userId])
            try db.execute(sql: "DELETE FROM recoveryCode WHERE userId = ?", arguments: [userId])
            try db.execute(sql: "DELETE FROM loginChallenge WHERE userId = ?", arguments: [userId])
        }
    }

    func secondFactorAccounts() async throws -> Set<Int64> {
        try await connection.run { db in Set(try Int64.fetchAll(db, sql: "SELECT id FROM user WHERE totpSecret IS NOT NULL")) }
    }
}

struct SQLiteSessionStore: SessionStore {
    let connection: SQLiteTransaction

    func insertSession(tokenHash: Data, userId: Int64, kind: Accounts.SessionKind, at time: Int64) async throws {
        try await connection.run { db in
            try db.execute(
                sql: "INSERT INTO session (tokenHash, userId, createdAt, lastUsedAt, kind) VALUES (?, ?, ?, ?, ?)",
                arguments: [tokenHash, userId, time, time, kind.rawValue])
        }
    }

    func deleteExpiredSessions(userId: Int64, unusedSince idleBefore: [Accounts.SessionKind: Int64], createdBefore: Int64) async throws {
        try await connection.run { db in
            try db.execute(
                sql: """
                    DELETE FROM session WHERE userId = ?
                    AND (lastUsedAt <= CASE kind WHEN 'portal' THEN ? ELSE ? END OR createdAt <= ?)
                    """,
                arguments: [userId, idleBefore[.portal] ?? 0, idleBefore[.api] ?? 0, createdBefore])
        }
    }

    func session(tokenHash: Data, kind: Accounts.SessionKind) async throws -> StoredSession? {
        try await connection.run { db in
            try Row.fetchOne(
                db,
                SQLRequest(
                    sql: """
                        SELECT session.createdAt, session.lastUsedAt, user.id, user.role, user.name, user.timeZone
                        FROM session JOIN user ON user.id = session.userId
                        WHERE session.tokenHash = ? AND session.kind = ? AND user.status = 'active'
                        """, arguments: [tokenHash, kind.rawValue], cached: true)
            ).map {
                StoredSession(
                    createdAt: $0[0], lastUsedAt: $0[1], identity: Identity(userId: $0[2], role: $0[3], name: $0[4], timeZone: $0[5]))
            }
        }
    }

    func touchSession(tokenHash: Data, at time: Int64) async throws {
        try await connection.run { db in
            try db.execute(
                sql: "UPDATE session SET lastUsedAt = ? WHERE tokenHash = ? AND lastUsedAt < ?", arguments: [time, tokenHash, time])
        }
    }

    func deleteSession(tokenHash: Data) async throws {
        try await connection.run { db in try db.execute(sql: "DELETE FROM session WHERE tokenHash = ?", arguments: [tokenHash]) }
    }

    func deleteSessions(userId: Int64) async throws {
        try await connection.run { db in try db.execute(sql: "DELETE FROM session WHERE userId = ?", arguments: [userId]) }
    }

    func insertChallenge(tokenHash: Data, userId: Int64, kind: Accounts.SessionKind, at time: Int64, expiredBefore: Int64) async throws {
        try await connection.run { db in
            try db.execute(sql: "DELETE FROM loginChallenge WHERE createdAt <= ?", arguments: [expiredBefore])
            try db.execute(
                sql: "INSERT INTO loginChallenge (tokenHash, userId, kind, createdAt, attempts) VALUES (?, ?, ?, ?, 0)",
                arguments: [tokenHash, userId, kind.rawValue, time])
        }
    }

    func challenge(tokenHash: Data, createdAfter time: Int64, maxAttempts: Int) async throws -> (userId: Int64, kind: Accounts.SessionKind)?
    {
        try await connection.run { db in
            try Row.fetchOne(
                db, sql: "SELECT userId, kind FROM loginChallenge WHERE tokenHash = ? AND createdAt > ? AND attempts < ?",
                arguments: [tokenHash, time, maxAttempts]
            ).map { ($0["userId"], $0["kind"]) }
        }
    }

    func countChallengeAttempt(tokenHash: Data, createdAfter time: Int64, maxAttempts: Int) async throws -> Int64? {
        try await connection.run { db in
            try db.execute(
                sql: "UPDATE loginChallenge SET attempts = attempts + 1 WHERE tokenHash = ? AND createdAt > ? AND attempts < ?",
                arguments: [tokenHash, time, maxAttempts])
            guard db.changesCount == 1 else { return nil }
            return try Int64.fetchOne(db, sql: "SELECT userId FROM loginChallenge WHERE tokenHash = ?", arguments: [tokenHash])
        }
    }

    func challengeAttempts(tokenHash: Data) async throws -> Int? {
        try await connection.run { db in
            try Int.fetchOne(db, sql: "SELECT attempts FROM loginChallenge WHERE tokenHash = ?", arguments: [tokenHash])
        }
    }

    func deleteChallenge(tokenHash: Data) async throws {
        try await connection.run { db in try db.execute(sql: "DELETE FROM loginChallenge WHERE tokenHash = ?", arguments: [tokenHash]) }
    }

    func throttleCounters(_ keys: [String]) async throws -> [String: ThrottleCounter] {
        try await connection.run { db in
            let select = try db.cachedStatement(sql: "SELECT * FROM throttleCounter WHERE key = ?")
            var found: [String: ThrottleCounter] = [:]
            for key in Set(keys) {
                if let row = try Row.fetchOne(select, arguments: [key]) { found[key] = Self.counter(row) }
            }
            return found
        }
    }

    func throttleCounters(ofAccounts accountKeys: [String]) async throws -> [String: ThrottleCounter] {
        let own = try String(decoding: JSONEncoder().encode(accountKeys.map { "account:\($0)" }), as: UTF8.self)
        let pairs = try String(decoding: JSONEncoder().encode(accountKeys.map { "pair:\($0)" }), as: UTF8.self)
        return try await connection.run { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM throttleCounter WHERE key IN (SELECT value FROM json_each(?))
                    OR (substr(key, 1, 5) = 'pair:' AND substr(key, 1, instr(key, '|') - 1) IN (SELECT value FROM json_each(?)))
                    """, arguments: [own, pairs])
            return Dictionary(uniqueKeysWithValues: rows.map { ($0["key"], Self.counter($0)) })
        }
    }

    func saveThrottleCounter(_ counter: ThrottleCounter, key: String, expiresAt: Int64) async throws {
        try await connection.run { db in
            try db.cachedStatement(
                sql: """
                    INSERT OR REPLACE INTO throttleCounter (key, failures, windowStart, lastFailure, refused, userId, client, expiresAt)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(arguments: [
                key, counter.failures, counter.windowStart, counter.lastFailure, counter.refused, counter.userId, counter.client, expiresAt,
            ])
        }
    }

    func removeThrottleCounter(key: String) async throws {
        try await connection.run { db in try db.execute(sql: "DELETE FROM throttleCounter WHERE key = ?", arguments: [key]) }
    }

    func countRefused(keys: [String]) async throws {
        try await connection.run { db in
            let update = try db.cachedStatement(sql: "UPDATE throttleCounter SET refused = refused + 1 WHERE key = ?")
            for key in Set(keys) { try update.execute(arguments: [key]) }
        }
    }

    func takeExpiredThrottleCounters(at time: Int64, limit: Int) async throws -> [String: ThrottleCounter] {
        try await connection.run { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT * FROM throttleCounter WHERE expiresAt <= ? ORDER BY expiresAt LIMIT ?", arguments: [time, limit])
            let delete = try db.cachedStatement(sql: "DELETE FROM throttleCounter WHERE key = ?")
            for row in rows { try delete.execute(arguments: [row["key"] as String]) }
            return Dictionary(uniqueKeysWithValues: rows.map { ($0["key"], Self.counter($0)) })
        }
    }

    static func counter(_ row: Row) -> ThrottleCounter {
        ThrottleCounter(
            failures: row["failures"], windowStart: row["windowStart"], lastFailure: row["lastFailure"], refused: row["refused"],
            userId: row["userId"], client: row["client"])
    }
}
