package import Crypto
import Foundation
import Metrics
import Synchronization

/// Accounts and sessions: registration, staff creation, login with throttling, bearer tokens that
/// expire when idle and at an absolute age, logout.
package struct Accounts: Sendable {
    package struct SessionPolicy: Sendable {
        /// An API token unused this long is void.
        package var idle: Duration
        /// A portal session (a cookie) unused this long is void: people walk away from screens.
        package var portalIdle: Duration
        /// A token or session this old is void however often it is used.
        package var absolute: Duration
        package init(idle: Duration = .seconds(30 * 60), portalIdle: Duration = .seconds(15 * 60), absolute: Duration = .seconds(12 * 3600))
        {
            self.idle = idle
            self.portalIdle = portalIdle
            self.absolute = absolute
        }

        /// How long a session of `kind` may stay unused.
        package func idle(_ kind: SessionKind) -> Duration {
            switch kind {
            case .api: idle
            case .portal: portalIdle
            }
        }
    }

    /// The door a session was opened through; a session authenticates only requests through its own.
    package enum SessionKind: String, Sendable {
        /// A bearer token for `/api`.
        case api
        /// A cookie for the portal's pages.
        case portal
    }

    let storage: any HospitalStorage
    let hasher: PasswordHasher
    let policy: SessionPolicy
    let clock: @Sendable () -> Int64
    let random: @Sendable (Int) -> [UInt8]
    let throttle: LoginThrottle
    /// When this instance last swept the throttle's ended counters (``settleThrottle(now:)``).
    let lastThrottleSweep = SweepClock()
    /// Where password-reset links go; nil where none are sent (the command line).
    let sender: (any CodeSender)?
    /// The e-mail to a doctor whose account an admin approved.
    let notices: Notices
    /// Sign-in's second step, for accounts that turned it on.
    package let secondFactor: SecondFactor

    /// - Parameter codeKey: The server key outside the database (`code.key`) that second-step secrets are
    ///   sealed under; a fresh one where nobody signs in (the command line).
    package init(
        storage: any HospitalStorage, hasher: PasswordHasher, policy: SessionPolicy = SessionPolicy(),
        clock: @escaping @Sendable () -> Int64, random: @escaping @Sendable (Int) -> [UInt8], sender: (any CodeSender)? = nil,
        notices: Notices = .init(), codeKey: SymmetricKey = SymmetricKey(size: .bits256)
    ) {
        secondFactor = SecondFactor(storage: storage, codeKey: codeKey, notices: notices, clock: clock, random: random)
        self.sender = sender
        self.notices = notices
        self.storage = storage
        self.hasher = hasher
        self.policy = policy
        self.clock = clock
        self.random = random
        throttle = LoginThrottle(storage: storage)
    }

    /// What a patient sends to register.
    package struct PatientRegistration: Codable, Sendable {
        package var name: String
        package var email: String
        package var password: String
        package var dateOfBirth: String
        package var phone: String

        package init(name: String, email: String, password: String, dateOfBirth: String, phone: String) {
            self.name = name
            self.email = email
            self.password = password
            self.dateOfBirth = dateOfBirth
            self.phone = phone
        }
    }

    /// What an admin sends to create a doctor or another admin.
    package struct StaffRegistration: Codable, Sendable {
        package var role: Role
        package var name: String
        package var email: String
        package var password: String
        package var specialization: String?

        package init(role: Role, name: String, email: String, password: String, specialization: String? = nil) {
            self.role = role
            self.name = name
            self.email = email
            self.password = password
            self.specialization = specialization
        }
    }

    /// A login's result: the bearer token (shown once, stored only hashed) and its user.
    package struct Session: Sendable {
        package var token: String
        package var user: User
        package var expiresAt: Int64
    }

    /// What a doctor sends to register themselves.
    package struct DoctorRegistration: Codable, Sendable {
        package var name: String
        package var email: String
        package var password: String
        package var specialization: String

        package init(name: String, email: String, password: String, specialization: String) {
            self.name = name
            self.email = email
            self.password = password
            self.specialization = specialization
        }
    }

    /// The user's own record.
    /// - Throws: ``HospitalError/notFound(_:)``.
    package func user(id: Int64) async throws -> User {
        guard let user = try await storage.read({ try await $0.accounts.user(id: id) }) else {
            throw HospitalError.notFound("user")
        }
        return user
    }

    /// What a doctor's public page says of them: given fields change, nil ones stay.
    package struct PublicProfile: Sendable {
        package var specialization: String?
        package var about: String?

        package init(specialization: String? = nil, about: String? = nil) {
            self.specialization = specialization
            self.about = about
        }
    }

    /// A person changes their phone number (patients) and time zone; a doctor also what their public page
    /// says (specialization, description), which is audited.
    /// - Throws: `invalid_field` (phone, timeZone, specialization, about), `not_found`.
    package func updateProfile(_ userId: Int64, phone: String?, timeZone: String?, doctor profile: PublicProfile = .init()) async throws
        -> User
    {
        let phone = try phone.map { try Validation.phone($0) }
        if let timeZone, TimeZone(identifier: timeZone) == nil || timeZone.utf8.count > 64 {
            throw HospitalError.invalid("timeZone", "Choose a time zone from the list.")
        }
        let specialization = try profile.specialization.map { try Validation.specialization($0) }
        let about = try profile.about.map { try Validation.about($0) }
        let now = clock()
        return try await storage.write { transaction in
            guard var user = try await transaction.accounts.user(id: userId) else { throw HospitalError.notFound("user") }
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
            try await transaction.accounts.update(user)
            if !changed.isEmpty {
                try await AuditLedger.append(
                    .init(actor: userId, .profileChanged, subject: "user:\(userId)", detail: changed.joined(separator: ", ")), time: now,
                    in: transaction)
            }
            return user
        }
    }

    /// A person changes their password, knowing the current one; every session of theirs ends (also
    /// this one: the caller opens a new one).
    /// - Throws: `bad_credentials` (the current password is wrong; counted by the throttle),
    ///   `invalid_field` (the new one), `throttled`, `busy`.
    package func changePassword(_ userId: Int64, current: String, new: String, client: String) async throws {
        let user = try await reauthenticate(userId, password: current, client: client)
        let now = clock()
        try Validation.password(new, email: user.email)
        let hash = try await hasher.hash(new)
        try await storage.write { transaction in
            try await transaction.accounts.setPasswordHash(hash, userId: userId)
            try await transaction.sessions.deleteSessions(userId: userId)
            try await AuditLedger.append(
                .init(actor: userId, .passwordChanged, subject: "user:\(userId)", patient: user.role == .patient ? userId : nil), time: now,
                in: transaction)
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

    /// The names of users by id (for lists that show people, not numbers).
    package func names(_ ids: Set<Int64>) async throws -> [Int64: String] {
        guard !ids.isEmpty else { return [:] }
        return try await storage.read { try await $0.accounts.names(ids) }
    }

    /// Tokens are stored as their SHA-256 only: a copy of the database opens no session.
    static func tokenHash(_ token: String) -> Data { Data(SHA256.hash(data: Array(token.utf8))) }

    package static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

/// The last second a periodic chore ran in, shared by every copy of the value that holds it.
final class SweepClock: Sendable {
    private let last = Mutex<Int64>(.min)

    /// Whether the chore is due at `now` (once per second); if so, it counts as done now.
    func claim(_ now: Int64) -> Bool {
        last.withLock { last in
            guard now > last else { return false }
            last = now
            return true
        }
    }
}
