package import GRDB
import HospitalCore

// The hospital's records as rows of the SQLite schema (HospitalDatabase's migrations): each type's
// table, and its id once inserted. The domain types know nothing of the database.

extension Role: DatabaseValueConvertible {}
extension AccountStatus: DatabaseValueConvertible {}
extension SlotStatus: DatabaseValueConvertible {}
extension AccessRequestStatus: DatabaseValueConvertible {}
extension Accounts.SessionKind: DatabaseValueConvertible {}

extension User: FetchableRecord, MutablePersistableRecord {
    package static let databaseTableName = "user"
    package mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

extension Slot: FetchableRecord, MutablePersistableRecord {
    package static let databaseTableName = "slot"
    package mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

extension Report: FetchableRecord, MutablePersistableRecord {
    package static let databaseTableName = "report"
    package mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

extension AccessRequest: FetchableRecord, MutablePersistableRecord {
    package static let databaseTableName = "accessRequest"
    package mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

extension Grant: FetchableRecord, MutablePersistableRecord {
    package static let databaseTableName = "grant"
    package mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

extension EmergencyAccess.Record: FetchableRecord, MutablePersistableRecord {
    package static let databaseTableName = "emergencyAccess"
    package mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

extension AuditEntry: FetchableRecord, PersistableRecord {
    package static let databaseTableName = "audit"
}

extension QueuedMail: FetchableRecord {
    package static let databaseTableName = "mailQueue"
}
