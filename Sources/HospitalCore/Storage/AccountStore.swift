package import Foundation

/// Accounts — with sign-ups waiting for their link, password-reset links and second steps — as a
/// ``HospitalTransaction`` reads and writes them. Addresses compare without regard to case.
package protocol AccountStore: Sendable {
    /// The account with this id, whatever its role and status.
    func user(id: Int64) async throws -> User?
    /// The account with this address.
    func user(email: String) async throws -> User?
    /// Patients born on `dateOfBirth` (`YYYY-MM-DD`), whatever their status.
    func patients(bornOn dateOfBirth: String) async throws -> [User]
    /// Accounts whose name or address contains `text` (lowercased; every one when empty), optionally of
    /// one role and status, newest first.
    func users(containing text: String, role: Role?, status: AccountStatus?, limit: Int) async throws -> [User]
    /// The names of the accounts with these ids.
    func names(_ ids: Set<Int64>) async throws -> [Int64: String]
    /// Stores a new account, giving its id; nil when the address has an account already.
    func insert(_ user: User) async throws -> Int64?
    /// Writes an account's phone, time zone, specialization, description and status.
    func update(_ user: User) async throws
    func setPasswordHash(_ hash: String, userId: Int64) async throws
    func delete(user id: Int64) async throws

    /// The sign-up waiting with this token hash that has not expired at `time`.
    func registration(tokenHash: Data, at time: Int64) async throws -> Registration?
    /// Stores a sign-up, replacing any other waiting with its address and removing expired ones; gives its id.
    func replaceRegistration(_ registration: Registration) async throws -> Int64
    /// Counts a wrong password against a sign-up's link, removing the sign-up at `limit`.
    func countFailedActivation(tokenHash: Data, limit: Int) async throws
    /// Removes the sign-up if it has not expired at `time`: true when this call removed it.
    func consumeRegistration(tokenHash: Data, at time: Int64) async throws -> Bool

    /// Stores a password-reset link, voiding the account's unused ones.
    func replacePasswordReset(tokenHash: Data, userId: Int64, createdAt: Int64, expiresAt: Int64) async throws
    /// The unused reset links not expired at `time`: their accounts and when each was made.
    func liveResetLinks(at time: Int64) async throws -> [(userId: Int64, createdAt: Int64)]
    /// The ids of sign-ups waiting and not expired at `time`.
    func waitingRegistrationIds(at time: Int64) async throws -> [Int64]
    /// The account of an unused reset link that has not expired at `time`.
    func passwordReset(tokenHash: Data, at time: Int64) async throws -> User?
    /// Marks an unused, unexpired reset link used: true when this call did.
    func consumePasswordReset(tokenHash: Data, at time: Int64) async throws -> Bool

    /// The account's authenticator secrets (sealed); nil for an account that does not exist.
    func secondFactor(userId: Int64) async throws -> SecondFactorState?
    /// Keeps a secret waiting for its first code (nil: none waits).
    func setPendingSecondFactor(_ sealed: Data?, userId: Int64) async throws
    /// Makes the waiting secret the account's, at `step`, with new recovery codes (their hashes).
    func enableSecondFactor(userId: Int64, secret: Data, step: Int64, recoveryCodeHashes: [Data]) async throws
    /// The last authenticator step used, so that a code works once.
    func setSecondFactorStep(_ step: Int64, userId: Int64) async throws
    /// Marks an unused recovery code used: true when this call did.
    func useRecoveryCode(hash: Data, userId: Int64, at time: Int64) async throws -> Bool
    /// Removes the account's secrets, recovery codes and waiting sign-in challenges.
    func removeSecondFactor(userId: Int64) async throws
    /// The accounts with a second step.
    func secondFactorAccounts() async throws -> Set<Int64>
}

/// A sign-up waiting for its e-mailed link (``Accounts/signUp(_:client:link:)-1x1b5``).
package struct Registration: Sendable {
    package var tokenHash: Data
    package var email: String
    package var role: Role
    package var name: String
    package var passwordHash: String
    package var dateOfBirth: String?
    package var phone: String?
    package var specialization: String?
    package var createdAt: Int64
    package var expiresAt: Int64

    package init(
        tokenHash: Data, email: String, role: Role, name: String, passwordHash: String, dateOfBirth: String?, phone: String?,
        specialization: String?, createdAt: Int64, expiresAt: Int64
    ) {
        self.tokenHash = tokenHash
        self.email = email
        self.role = role
        self.name = name
        self.passwordHash = passwordHash
        self.dateOfBirth = dateOfBirth
        self.phone = phone
        self.specialization = specialization
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// An account's authenticator secrets, sealed (``SecondFactor``).
package struct SecondFactorState: Sendable {
    package var role: Role
    /// The secret in use; nil: no second step.
    package var secret: Data?
    /// A secret waiting for its first code.
    package var pending: Data?
    /// The last step a code was accepted at.
    package var lastStep: Int64?

    package init(role: Role, secret: Data?, pending: Data?, lastStep: Int64?) {
        self.role = role
        self.secret = secret
        self.pending = pending
        self.lastStep = lastStep
    }
}
