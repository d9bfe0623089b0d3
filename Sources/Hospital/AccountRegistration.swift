import Foundation
import GRDB

/// Signing up: a sign-up never tells whether an address has an account. Each one is answered the same
/// way after the same work (the password hashed, one ledger entry, one message handed to the mail queue
/// after the answer): to a new address goes a link that opens the account, to the owner of a taken one a
/// note that someone tried. The account exists only once its link is opened with the password chosen at
/// sign-up, so that a link reaching the wrong hands, or a stranger's sign-up with someone's address, opens
/// nothing. Until then the sign-up waits in `registration`; a new sign-up with the same address replaces it.
extension Accounts {
    /// How long a sign-up's link works, in seconds.
    public static let activationLifetime: Int64 = 24 * 3600
    /// Wrong passwords with one link before the link stops working.
    static let activationAttempts = 5

    /// The e-mail of a sign-up's link: `activate-<registration>` (its outbox file `activate-<registration>.eml`).
    static func activationMailId(registration: Int64) -> String { "activate-\(registration)" }

    /// Signs a patient up: the link that opens the account goes to the address (see the type's notes).
    /// - Parameters:
    ///   - client: The client's address, for the per-address limit on sign-ups; nil for none.
    ///   - link: The portal's link for a token (the configured address, never the request's `Host`).
    /// - Throws: ``HospitalError`` `invalid_field` naming the field, `throttled`, `busy`; never whether the
    ///   address has an account.
    public func signUp(_ input: PatientRegistration, client: String?, link: @Sendable (String) -> String) async throws {
        let now = clock()
        try await checkRegistration(client: client, now: now)
        try await signUp(newPatient(input, now: now), password: input.password, now: now, link: link)
    }

    /// Signs a doctor up: once the link is opened, the account waits for an admin's approval.
    /// - Throws: As ``signUp(_:client:link:)-(PatientRegistration,_,_)``.
    public func signUp(_ input: DoctorRegistration, client: String?, link: @Sendable (String) -> String) async throws {
        let now = clock()
        try await checkRegistration(client: client, now: now)
        try await signUp(newDoctor(input, now: now), password: input.password, now: now, link: link)
    }

    private func signUp(_ user: User, password: String, now: Int64, link: @Sendable (String) -> String) async throws {
        let passwordHash = try await hasher.hash(password)
        let token = Self.base64URL(random(32))
        let expiresAt = now + Self.activationLifetime
        let message: (id: String, kind: Notices.Prompt, name: String) = try await database.write { db in
            if let owner = try User.filter(Column("email") == user.email).fetchOne(db), let ownerId = owner.id {
                try AuditLedger.append(
                    .init(
                        actor: nil, .accountRequested, subject: "user:\(ownerId)", patient: owner.role == .patient ? ownerId : nil,
                        outcome: .denied, detail: "\(user.role.rawValue) sign-up with the address of an account; its owner was told"),
                    time: now, in: db)
                return ("attempt-\(ownerId)-\(now)", .registrationAttempt, owner.name)
            }
            // One waiting sign-up per address (a new one replaces it); expired ones go.
            try db.execute(sql: "DELETE FROM registration WHERE email = ? OR expiresAt <= ?", arguments: [user.email, now])
            try db.execute(
                sql: """
                    INSERT INTO registration (tokenHash, email, role, name, passwordHash, dateOfBirth, phone, specialization, createdAt, expiresAt)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    Self.tokenHash(token), user.email, user.role.rawValue, user.name, passwordHash, user.dateOfBirth, user.phone,
                    user.specialization, now, expiresAt,
                ])
            let id = db.lastInsertedRowID
            try AuditLedger.append(
                .init(actor: nil, .accountRequested, subject: "registration:\(id)", detail: "\(user.role.rawValue) sign-up, link e-mailed"),
                time: now, in: db)
            return (Self.activationMailId(registration: id), .activation, user.name)
        }
        switch message.kind {
        case .activation:
            notices.send(
                .activation, id: message.id, toName: message.name, toAddress: user.email, time: expiresAt,
                link: link("/register/activate?token=\(token)"), now: now)
        case .registrationAttempt:
            notices.send(
                .registrationAttempt, id: message.id, toName: message.name, toAddress: user.email, link: link("/password/forgot"),
                now: now)
        }
    }

    /// Opens the account a sign-up's link stands for, with the password chosen at sign-up: a patient's is
    /// active at once, a doctor's waits for an admin. The link works once, within its lifetime; after
    /// five wrong passwords it stops working.
    /// - Throws: `activation_invalid` (unknown, used or expired link), `bad_credentials` (wrong password),
    ///   `busy`.
    public func activate(token: String, password: String, client: String) async throws -> User {
        let now = clock()
        let hash = Self.tokenHash(String(token.prefix(128)))
        let pending = try await database.read { db in
            try PendingRegistration.fetchOne(
                db, sql: "SELECT * FROM registration WHERE tokenHash = ? AND expiresAt > ?", arguments: [hash, now])
        }
        guard let pending else { throw HospitalError.activationInvalid }
        guard password.utf8.count <= Validation.maxPasswordBytes,
            try await hasher.verify(password, against: pending.passwordHash, lane: .ordinary(share: LoginThrottle.clientKey(client)))
        else {
            try await database.write { db in
                try db.execute(sql: "UPDATE registration SET failedAttempts = failedAttempts + 1 WHERE tokenHash = ?", arguments: [hash])
                try db.execute(
                    sql: "DELETE FROM registration WHERE tokenHash = ? AND failedAttempts >= ?", arguments: [hash, Self.activationAttempts])
            }
            throw HospitalError.badCredentials
        }
        let role = pending.role
        var user = User(
            role: role, name: pending.name, email: pending.email, passwordHash: pending.passwordHash, dateOfBirth: pending.dateOfBirth,
            phone: pending.phone, specialization: pending.specialization, createdAt: now)
        user.status = role == .doctor ? .pending : .active
        do {
            return try await database.write { [user] db in
                try db.execute(sql: "DELETE FROM registration WHERE tokenHash = ? AND expiresAt > ?", arguments: [hash, now])
                guard db.changesCount == 1 else { throw HospitalError.activationInvalid }
                var inserted = user
                try inserted.insert(db)
                let id = inserted.id ?? 0
                try AuditLedger.append(
                    .init(
                        actor: id, .accountCreated, subject: "user:\(id)", patient: role == .patient ? id : nil,
                        detail: role == .doctor
                            ? "doctor registered by e-mailed link, pending approval" : "patient registered by e-mailed link"),
                    time: now, in: db)
                return inserted
            }
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            // An admin gave the address to a staff account after the sign-up.
            throw HospitalError.activationInvalid
        }
    }
}

/// A sign-up waiting for its link (the `registration` table).
private struct PendingRegistration: Decodable, FetchableRecord {
    var email: String
    var role: Role
    var name: String
    var passwordHash: String
    var dateOfBirth: String?
    var phone: String?
    var specialization: String?
}
