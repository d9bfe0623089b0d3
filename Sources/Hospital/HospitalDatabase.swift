import GRDB

/// The hospital's state in SQLite (WAL, foreign keys on, versioned migrations): accounts, sessions and,
/// as they come, slots, reports, access requests, grants and the audit ledger. Report bytes are never
/// here, only the head pointers of their chains.
public struct HospitalDatabase: Sendable {
    public let writer: any DatabaseWriter

    /// Opens (creating and migrating) the database file at `path`: `<data>/.chainvault/hospital.sqlite`
    /// in a data root.
    public static func open(path: String) throws -> HospitalDatabase {
        var configuration = Self.configuration
        configuration.busyMode = .timeout(5)
        return try HospitalDatabase(writer: DatabasePool(path: path, configuration: configuration))
    }

    /// An in-memory database (tests).
    public static func inMemory() throws -> HospitalDatabase {
        try HospitalDatabase(writer: DatabaseQueue(configuration: Self.configuration))
    }

    /// Foreign keys on, for files and memory alike.
    static var configuration: Configuration {
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        return configuration
    }

    init(writer: any DatabaseWriter) throws {
        self.writer = writer
        try Self.migrator.migrate(writer)
    }

    /// Every schema version, in order. A released migration is never edited: add the next one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-accounts") { db in
            try db.create(table: "user") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("role", .text).notNull().check { ["patient", "doctor", "admin"].contains($0) }
                table.column("email", .text).notNull().unique().collate(.nocase)
                table.column("name", .text).notNull()
                table.column("passwordHash", .text).notNull()
                table.column("dateOfBirth", .text)
                table.column("phone", .text)
                table.column("specialization", .text)
                table.column("createdAt", .integer).notNull()
            }
            try db.create(table: "session") { table in
                table.primaryKey("tokenHash", .blob)
                table.column("userId", .integer).notNull().indexed().references("user", onDelete: .cascade)
                table.column("createdAt", .integer).notNull()
                table.column("lastUsedAt", .integer).notNull()
            }
        }
        return migrator
    }
}
