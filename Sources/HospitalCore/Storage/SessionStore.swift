package import Foundation

/// Sessions, sign-in challenges and the sign-in throttle's counters, as a ``HospitalTransaction``
/// reads and writes them. Tokens are kept as their hashes only.
package protocol SessionStore: Sendable {
    func insertSession(tokenHash: Data, userId: Int64, kind: Accounts.SessionKind, at time: Int64) async throws
    /// Removes the user's sessions of `kind` unused since `idleBefore[kind]`, and every one created at or before `createdBefore`.
    func deleteExpiredSessions(userId: Int64, unusedSince idleBefore: [Accounts.SessionKind: Int64], createdBefore: Int64) async throws
    /// The session of `kind` with this token hash, if its account is active.
    func session(tokenHash: Data, kind: Accounts.SessionKind) async throws -> StoredSession?
    /// Moves a session's idle clock to `time` if it is behind it.
    func touchSession(tokenHash: Data, at time: Int64) async throws
    func deleteSession(tokenHash: Data) async throws
    func deleteSessions(userId: Int64) async throws

    /// Stores a sign-in challenge, removing those created at or before `expiredBefore`.
    func insertChallenge(tokenHash: Data, userId: Int64, kind: Accounts.SessionKind, at time: Int64, expiredBefore: Int64) async throws
    /// A challenge created after `time` with fewer than `maxAttempts` attempts.
    func challenge(tokenHash: Data, createdAfter time: Int64, maxAttempts: Int) async throws -> (userId: Int64, kind: Accounts.SessionKind)?
    /// Counts an attempt against such a challenge, giving its account; nil when there is none.
    func countChallengeAttempt(tokenHash: Data, createdAfter time: Int64, maxAttempts: Int) async throws -> Int64?
    /// The attempts made against a challenge; nil when there is none.
    func challengeAttempts(tokenHash: Data) async throws -> Int?
    func deleteChallenge(tokenHash: Data) async throws

    /// The sign-in throttle's counters (``LoginThrottle``) with these keys, by key.
    func throttleCounters(_ keys: [String]) async throws -> [String: ThrottleCounter]
    /// The throttle's counters of these accounts (by ``LoginThrottle`` account key): each one's own
    /// (`account:K`) and each of its address pairs' (`pair:K|…`), in one statement.
    func throttleCounters(ofAccounts accountKeys: [String]) async throws -> [String: ThrottleCounter]
    /// Stores a counter under its key, with the time its window ends (when ``takeExpiredThrottleCounters(at:limit:)`` takes it).
    func saveThrottleCounter(_ counter: ThrottleCounter, key: String, expiresAt: Int64) async throws
    func removeThrottleCounter(key: String) async throws
    /// Counts one refused attempt on each of these counters.
    func countRefused(keys: [String]) async throws
    /// Removes up to `limit` counters whose window ended at or before `time`, giving them.
    func takeExpiredThrottleCounters(at time: Int64, limit: Int) async throws -> [String: ThrottleCounter]
}

/// One counter of the sign-in throttle (``LoginThrottle``), or an address an account signed in from.
package struct ThrottleCounter: Codable, Sendable, Equatable {
    package var failures = 0
    package var windowStart: Int64
    package var lastFailure: Int64
    /// Attempts refused in this window, for the summary.
    package var refused = 0
    /// The account's user, when the account exists (for the summary's subject).
    package var userId: Int64?
    package var client: String?

    package init(failures: Int = 0, windowStart: Int64, lastFailure: Int64, refused: Int = 0, userId: Int64? = nil, client: String? = nil) {
        self.failures = failures
        self.windowStart = windowStart
        self.lastFailure = lastFailure
        self.refused = refused
        self.userId = userId
        self.client = client
    }
}

/// A session, and who it is for.
package struct StoredSession: Sendable {
    package var createdAt: Int64
    package var lastUsedAt: Int64
    package var identity: Identity

    package init(createdAt: Int64, lastUsedAt: Int64, identity: Identity) {
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.identity = identity
    }
}
