/// What a user is allowed to be.
package enum Role: String, Codable, Sendable, CaseIterable {
    case patient, doctor, admin
}

/// Whether an account may sign in.
package enum AccountStatus: String, Codable, Sendable, CaseIterable {
    /// Signs in.
    case active
    /// A doctor who registered themselves, waiting for an admin's approval.
    case pending
    /// Disabled by an admin: no sign-in, every session ended.
    case disabled
}

/// An account. Patients register themselves; doctors register and wait for an admin's approval, or an
/// admin creates them; admins are created by an admin.
package struct User: Codable, Sendable, Equatable {
    package var id: Int64?
    package var role: Role
    package var name: String
    package var email: String
    var passwordHash: String
    /// Patients: the date of birth, `YYYY-MM-DD`.
    package var dateOfBirth: String?
    /// Patients: a phone number.
    package var phone: String?
    /// Doctors: the specialization, searchable.
    package var specialization: String?
    /// Doctors: a short public description (qualifications, languages, the clinic's phone), on their page.
    package var about: String?
    package var createdAt: Int64
    package var status: AccountStatus = .active
    /// The zone the portal shows times in for this person (an IANA name); nil: the portal's default.
    package var timeZone: String?
}

/// Who a request acts for, once its bearer token checked out.
package struct Identity: Sendable, Equatable {
    package var userId: Int64
    package var role: Role
    package var name: String
    /// The person's time zone (an IANA name), when they chose one.
    package var timeZone: String? = nil

    package init(userId: Int64, role: Role, name: String, timeZone: String? = nil) {
        self.userId = userId
        self.role = role
        self.name = name
        self.timeZone = timeZone
    }
}
