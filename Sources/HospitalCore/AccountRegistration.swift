import Foundation

/// Signing up: a sign-up never tells whether an address has an account. Each one is answered the same
/// way after the same work (the password hashed, one ledger entry, one message handed to the mail queue
/// after the answer): to a new address goes a link that opens the account, to the owner of a taken one a
/// note that someone tried. The account exists only once its link is opened with the password chosen at
/// sign-up, so that a link reaching the wrong hands, or a stranger's sign-up with someone's address, opens
/// nothing. Until then the sign-up waits in `registration`; a new sign-up with the same address replaces it.
extension Accounts {
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
    package func createStaff(_ input: StaffRegistration, by admin: Identity? = nil) async throws -> User {
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
        try await AuditLedger.record(
            actor: admin?.userId, .accountCreated, subject: "user:\(inserted.id ?? 0)", detail: "\(input.role.rawValue) created", time: now,
            in: storage)
        return inserted
    }

    /// Stores a staff account an admin creates (the admin may learn that an address is taken).
    func insert(_ user: User, password: String) async throws -> User {
        var user = user
        // Taken addresses are refused before the costly hash.
        let email = user.email
        if try await storage.read({ try await $0.accounts.user(email: email) }) != nil { throw HospitalError.emailTaken }
        user.passwordHash = try await hasher.hash(password)
        guard let id = try await storage.write({ [user] in try await $0.accounts.insert(user) }) else { throw HospitalError.emailTaken }
        user.id = id
        return user
    }

    /// How long a sign-up's link works, in seconds.
    package static let activationLifetime: Duration = .seconds(24 * 3600)
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
    package func signUp(_ input: PatientRegistration, client: String?, link: @Sendable (String) -> String) async throws {
        let now = clock()
        try await checkRegistration(client: client, now: now)
        try await signUp(newPatient(input, now: now), password: input.password, now: now, link: link)
    }

    /// Signs a doctor up: once the link is opened, the account waits for an admin's approval.
    /// - Throws: As ``signUp(_:client:link:)-(PatientRegistration,_,_)``.
    package func signUp(_ input: DoctorRegistration, client: String?, link: @Sendable (String) -> String) async throws {
        let now = clock()
        try await checkRegistration(client: client, now: now)
        try await signUp(newDoctor(input, now: now), password: input.password, now: now, link: link)
    }

    private func signUp(_ user: User, password: String, now: Int64, link: @Sendable (String) -> String) async throws {
        let passwordHash = try await hasher.hash(password)
        let token = Self.base64URL(random(32))
        let expiresAt = now + Self.activationLifetime.wholeSeconds
        let message: (id: String, kind: Notices.Prompt, name: String) = try await storage.write { transaction in
            if let owner = try await transaction.accounts.user(email: user.email), let ownerId = owner.id {
                try await AuditLedger.append(
                    .init(
                        actor: nil, .accountRequested, subject: "user:\(ownerId)", patient: owner.role == .patient ? ownerId : nil,
                        outcome: .denied, detail: "\(user.role.rawValue) sign-up with the address of an account; its owner was told"),
                    time: now, in: transaction)
                return ("attempt-\(ownerId)-\(now)", .registrationAttempt, owner.name)
            }
            // One waiting sign-up per address (a new one replaces it); expired ones go.
            let id = try await transaction.accounts.replaceRegistration(
                Registration(
                    tokenHash: Self.tokenHash(token), email: user.email, role: user.role, name: user.name, passwordHash: passwordHash,
                    dateOfBirth: user.dateOfBirth, phone: user.phone, specialization: user.specialization, createdAt: now,
                    expiresAt: expiresAt))
            try await AuditLedger.append(
                .init(actor: nil, .accountRequested, subject: "registration:\(id)", detail: "\(user.role.rawValue) sign-up, link e-mailed"),
                time: now, in: transaction)
            return (Self.activationMailId(registration: id), .activation, user.name)
        }
        switch message.kind {
        case .activation:
            notices.send(
                .activation, id: message.id, toName: message.name, toAddress: user.email, time: expiresAt,
                link: link("/register/activate?token=\(token)"), now: now)
        case .registrationAttempt:
            guard notices.doorbell.mayTell(user.email, now: now) else { return }
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
    package func activate(token: String, password: String, client: String) async throws -> User {
        let now = clock()
        let hash = Self.tokenHash(String(token.prefix(128)))
        let pending = try await storage.read { try await $0.accounts.registration(tokenHash: hash, at: now) }
        guard let pending else { throw HospitalError.activationInvalid }
        guard password.utf8.count <= Validation.maxPasswordBytes,
            try await hasher.verify(password, against: pending.passwordHash, lane: .ordinary(share: LoginThrottle.clientKey(client)))
        else {
            try await storage.write { try await $0.accounts.countFailedActivation(tokenHash: hash, limit: Self.activationAttempts) }
            throw HospitalError.badCredentials
        }
        let role = pending.role
        var user = User(
            role: role, name: pending.name, email: pending.email, passwordHash: pending.passwordHash, dateOfBirth: pending.dateOfBirth,
            phone: pending.phone, specialization: pending.specialization, createdAt: now)
        user.status = role == .doctor ? .pending : .active
        return try await storage.write { [user] transaction in
            guard try await transaction.accounts.consumeRegistration(tokenHash: hash, at: now) else {
                throw HospitalError.activationInvalid
            }
            // Nil: an admin gave the address to a staff account after the sign-up.
            guard let id = try await transaction.accounts.insert(user) else { throw HospitalError.activationInvalid }
            var inserted = user
            inserted.id = id
            try await AuditLedger.append(
                .init(
                    actor: id, .accountCreated, subject: "user:\(id)", patient: role == .patient ? id : nil,
                    detail: role == .doctor
                        ? "doctor registered by e-mailed link, pending approval" : "patient registered by e-mailed link"),
                time: now, in: transaction)
            return inserted
        }
    }
}

/// A sign-up waiting for its link (the `registration` table).
