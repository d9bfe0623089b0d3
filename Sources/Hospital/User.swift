import GRDB

/// What a user is allowed to be.
public enum Role: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
    case patient, doctor, admin
}

/// An account. Patients register themselves; doctors and admins are created by an admin.
public struct User: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public var id: Int64?
    public var role: Role
    public var name: String
    public var email: String
    var passwordHash: String
    /// Patients: the date of birth, `YYYY-MM-DD`.
    public var dateOfBirth: String?
    /// Patients: a phone number.
    public var phone: String?
    /// Doctors: the specialization, searchable.
    public var specialization: String?
    public var createdAt: Int64

    public static let databaseTableName = "user"

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// Who a request acts for, once its bearer token checked out.
public struct Identity: Sendable, Equatable {
    public var userId: Int64
    public var role: Role
    public var name: String
}
