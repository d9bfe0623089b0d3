import GRDB
import HospitalCore

// The hospital's records as rows of the SQLite schema (HospitalDatabase's migrations): each type's
// table, and its id once inserted. The domain types know nothing of the database.

extension Role: DatabaseValueConvertible {}
extension AccountStatus: DatabaseValueConvertible {}
extension SlotStatus: DatabaseValueConvertible {}
extension AccessRequestStatus: DatabaseValueConvertible {}
extension Accounts.SessionKind: DatabaseValueConvertible {}

extension User: FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "user"
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

extension Slot: FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "slot"
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

extension Report: FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "report"
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

extension AccessRequest: FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "accessRequest"
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

extension Grant: FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "grant"
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

extension EmergencyAccess.Record: FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "emergencyAccess"
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

extension AuditEntry: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "audit"
}

extension QueuedMail: FetchableRecord {
    public static let databaseTableName = "mailQueue"
}
