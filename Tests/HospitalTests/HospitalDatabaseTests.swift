import GRDB
import Testing

@testable import Hospital
@testable import HospitalAPI
@testable import HospitalCore
@testable import HospitalPortal
@testable import HospitalSQLite

@Suite struct HospitalDatabaseTests {
    /// A database a newer ChainVault migrated is refused with a message, not run against.
    @Test func aDatabaseFromANewerVersionIsRefused() throws {
        let queue = try DatabaseQueue(configuration: HospitalDatabase.configuration)
        _ = try HospitalDatabase(writer: queue)
        try queue.write { db in try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future')") }
        #expect(throws: HospitalDatabase.NewerSchema.self) { try HospitalDatabase(writer: queue) }
        do {
            _ = try HospitalDatabase(writer: queue)
        } catch {
            #expect("\(error)".contains("v99-from-the-future") && "\(error)".contains("newer ChainVault"))
        }
    }
}
