package import Foundation

/// Sessions, sign-in challenges and the sign-in throttle's saved counters, as a ``HospitalTransaction``
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

    /// The throttle's counters as last saved.
    func throttleState() async throws -> Data?
    func saveThrottleState(_ state: Data) async throws
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
