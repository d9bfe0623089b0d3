package import GRDB
import HospitalCore

#if canImport(Glibc)
    import Glibc
#endif

/// The hospital's state in SQLite (WAL, foreign keys on, versioned migrations): accounts, sessions and,
/// as they come, slots, reports, access requests, grants and the audit ledger. Report bytes are never
/// here, only the head pointers of their chains.
package struct HospitalDatabase: Sendable {
    package let writer: any DatabaseWriter

    /// Opens (creating and migrating) the database file at `path`: `<data>/.chainvault/hospital.sqlite`
    /// in a data root.
    package static func open(path: String) throws -> HospitalDatabase {
        // Accounts, symptoms and the ledger: the owner's alone. SQLite creates the -wal and -shm files
        // with the database file's mode, so the file is made (or narrowed) to 0600 before SQLite opens it.
        let descriptor = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if descriptor >= 0 {
            fchmod(descriptor, 0o600)
            close(descriptor)
        }
        for suffix in ["-wal", "-shm"] { chmod(path + suffix, 0o600) }
        var configuration = Self.configuration
        configuration.busyMode = .timeout(5)
        return try HospitalDatabase(writer: DatabasePool(path: path, configuration: configuration))
    }

    /// An in-memory database (tests).
    package static func inMemory() throws -> HospitalDatabase {
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
        // A database a newer ChainVault migrated (a downgrade) is refused, not run against.
        let migrator = Self.migrator
        let unknown = try writer.read { db in try migrator.appliedIdentifiers(db).subtracting(migrator.migrations) }
        guard unknown.isEmpty else { throw NewerSchema(migrations: unknown.sorted()) }
        try migrator.migrate(writer)
    }

    /// The database holds migrations this binary does not know: a newer ChainVault wrote it.
    package struct NewerSchema: Error, CustomStringConvertible {
        package var migrations: [String]
        package var description: String {
            "the hospital database was migrated by a newer ChainVault (\(migrations.joined(separator: ", "))): run that version, or restore a backup made for this one"
        }
    }

    /// Reads in a read-only transaction, suspending rather than blocking. Every read of the hospital
    /// goes through here: GRDB picks its blocking `read` for a closure that is not `@Sendable` or a
    /// result that is not `Sendable` (a `Row`), and a blocked thread of Swift's small cooperative pool
    /// waiting for a reader that a suspended task holds is a deadlock (16 concurrent page loads on two
    /// cores stopped the server). Results are plain values: read rows into them inside the closure.
    package func read<T: Sendable>(_ value: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await writer.read(value)
    }

    /// Writes in a transaction, suspending rather than blocking (see ``read(_:)``).
    package func write<T: Sendable>(_ updates: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await writer.write(updates)
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
        migrator.registerMigration("v2-care") { db in
            try db.create(table: "slot") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("doctorId", .integer).notNull().references("user", onDelete: .cascade)
                table.column("startsAt", .integer).notNull()
                table.column("durationMinutes", .integer).notNull()
                table.column("patientId", .integer).indexed().references("user", onDelete: .setNull)
                table.column("status", .text).notNull().check { ["open", "booked", "completed"].contains($0) }
                table.column("createdAt", .integer).notNull()
                table.check(sql: "(status = 'open') = (patientId IS NULL)")
            }
            try db.create(index: "slot_doctor_start", on: "slot", columns: ["doctorId", "startsAt"])
            try db.create(table: "report") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("patientId", .integer).notNull().indexed().references("user", onDelete: .restrict)
                table.column("doctorId", .integer).notNull().indexed().references("user", onDelete: .restrict)
                table.column("slotId", .integer).notNull().references("slot", onDelete: .restrict)
                table.column("title", .text).notNull()
                table.column("contentType", .text).notNull()
                table.column("size", .integer).notNull()
                table.column("sha256", .text).notNull()
                table.column("head", .text).notNull().unique()
                table.column("createdAt", .integer).notNull()
            }
            try db.create(table: "accessRequest") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("reportId", .integer).notNull().indexed().references("report", onDelete: .cascade)
                table.column("doctorId", .integer).notNull().indexed().references("user", onDelete: .cascade)
                table.column("codeMAC", .blob).notNull()
                table.column("status", .text).notNull()
                    .check { ["pending", "granted", "denied", "void"].contains($0) }
                table.column("attempts", .integer).notNull().defaults(to: 0)
                table.column("createdAt", .integer).notNull()
                table.column("expiresAt", .integer).notNull()
                table.column("decidedAt", .integer)
            }
            try db.create(table: "grant") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("reportId", .integer).notNull().indexed().references("report", onDelete: .cascade)
                table.column("doctorId", .integer).notNull().indexed().references("user", onDelete: .cascade)
                table.column("requestId", .integer).notNull().unique().references("accessRequest", onDelete: .cascade)
                table.column("createdAt", .integer).notNull()
                table.column("expiresAt", .integer).notNull()
                table.column("revokedAt", .integer)
            }
            try db.create(table: "audit") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("time", .integer).notNull()
                table.column("actorId", .integer)
                table.column("action", .text).notNull()
                table.column("subject", .text).notNull()
                table.column("patientId", .integer).indexed()
                table.column("outcome", .text).notNull()
                table.column("detail", .text).notNull()
                table.column("previousHash", .blob).notNull()
                table.column("hash", .blob).notNull()
            }
        }
        migrator.registerMigration("v3-throttle") { db in
            // The login throttle's counters (LoginThrottle.Counter by key, JSON), saved in aggregate at most
            // every few seconds so that a restart does not reset them. Keys hold a hash of the account,
            // never the text typed into the e-mail field.
            try db.create(table: "throttle_state") { table in
                table.primaryKey("id", .integer).check { $0 == 1 }
                table.column("state", .blob).notNull()
            }
        }
        migrator.registerMigration("v4-portal") { db in
            // Which door a session came through: `api` (a bearer token) or `portal` (a cookie). Neither
            // authenticates the other.
            try db.alter(table: "session") { table in
                table.add(column: "kind", .text).notNull().defaults(to: "api").check { ["api", "portal"].contains($0) }
            }
            // Doctors who register themselves wait for an admin; admins disable accounts.
            try db.alter(table: "user") { table in
                // The zone a person reads times in (an IANA name); nil: the portal's.
                table.add(column: "timeZone", .text)
                table.add(column: "status", .text).notNull().defaults(to: "active").check {
                    ["active", "pending", "disabled"].contains($0)
                }
            }
            // The last recorded verification of each report's chain: at upload, then by `chain verify --all`
            // (pages show it without reading a chunk).
            try db.alter(table: "report") { table in
                table.add(column: "verifiedAt", .integer)
                table.add(column: "damagedAt", .integer)
            }
            // Password-reset links: the token's SHA-256 only, single use, 30 minutes.
            try db.create(table: "passwordReset") { table in
                table.primaryKey("tokenHash", .blob)
                table.column("userId", .integer).notNull().indexed().references("user", onDelete: .cascade)
                table.column("createdAt", .integer).notNull()
                table.column("expiresAt", .integer).notNull()
                table.column("usedAt", .integer)
            }
            // Why the patient booked: their symptoms (health data; never logged).
            try db.alter(table: "slot") { table in table.add(column: "reason", .text) }
        }
        migrator.registerMigration("v5-mail") { db in
            // E-mails waiting to be handed on (MailQueue), written in the transaction of what they tell of.
            try db.create(table: "mailQueue") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("kind", .text).notNull()
                table.column("userId", .integer).references("user", onDelete: .cascade)
                table.column("toName", .text).notNull()
                table.column("toAddress", .text).notNull()
                table.column("subject", .text).notNull()
                table.column("body", .text).notNull()
                table.column("createdAt", .integer).notNull()
                table.column("attempts", .integer).notNull()
                table.column("nextAttemptAt", .integer).notNull().indexed()
            }
        }
        migrator.registerMigration("v6-second-factor") { db in
            // The authenticator app's secret, sealed under a key outside the database (SecondFactor): the
            // confirmed one, one waiting for its first code, and the last step used (never accepted twice).
            try db.alter(table: "user") { table in
                table.add(column: "totpSecret", .blob)
                table.add(column: "totpPending", .blob)
                table.add(column: "totpLastStep", .integer)
            }
            // Single-use recovery codes, as SHA-256 only.
            try db.create(table: "recoveryCode") { table in
                table.primaryKey("codeHash", .blob)
                table.column("userId", .integer).notNull().indexed().references("user", onDelete: .cascade)
                table.column("usedAt", .integer)
            }
            // Sign-ins whose password checked out, waiting for the second step (5 minutes, 5 codes).
            try db.create(table: "loginChallenge") { table in
                table.primaryKey("tokenHash", .blob)
                table.column("userId", .integer).notNull().indexed().references("user", onDelete: .cascade)
                table.column("kind", .text).notNull()
                table.column("createdAt", .integer).notNull()
                table.column("attempts", .integer).notNull()
            }
        }
        migrator.registerMigration("v7-audit-tree") { db in
            // The audit ledger's Merkle tree (AuditTree): a ledger kept before it had one is taken over as
            // it is, its entries the first leaves.
            try SQLiteAuditTree.createTable(in: db)
            try SQLiteAuditTree.takeOver(in: db)
        }
        migrator.registerMigration("v8-mail-proof") { db in
            // The ledger entry a queued notice tells of: its proof is added as a footer when it is sent.
            try db.alter(table: "mailQueue") { table in table.add(column: "auditEntryId", .integer) }
        }
        migrator.registerMigration("v9-emergency") { db in
            // Emergency accesses ("break the glass"), each with its reason, expiry and review.
            try db.create(table: "emergencyAccess") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("reportId", .integer).notNull().indexed().references("report", onDelete: .cascade)
                table.column("doctorId", .integer).notNull().indexed().references("user", onDelete: .cascade)
                table.column("patientId", .integer).notNull().indexed().references("user", onDelete: .cascade)
                table.column("reason", .text).notNull()
                table.column("createdAt", .integer).notNull()
                table.column("expiresAt", .integer).notNull()
                table.column("reviewedAt", .integer)
                table.column("reviewerId", .integer).references("user", onDelete: .setNull)
                table.column("auditEntryId", .integer).notNull()
            }
        }
        migrator.registerMigration("v10-doctor-about") { db in
            // A doctor's short public description (qualifications, languages, the clinic's phone).
            try db.alter(table: "user") { table in table.add(column: "about", .text) }
        }
        migrator.registerMigration("v11-audit-names") { db in
            // New ledger entries carry the names they are about inside their leaf (AuditEntry.leafVersion 2).
            try db.alter(table: "audit") { table in
                table.add(column: "leafVersion", .integer).notNull().defaults(to: 1)
                table.add(column: "leafActorName", .text)
                table.add(column: "leafPatientName", .text)
                table.add(column: "leafReportTitle", .text)
            }
        }
        migrator.registerMigration("v12-registrations") { db in
            // Sign-ups waiting for their e-mailed link: the account exists only once its owner opens it
            // (Accounts.activate), so that a sign-up never tells whether an address has an account.
            try db.create(table: "registration") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("tokenHash", .blob).notNull().unique()
                table.column("email", .text).notNull().unique()
                table.column("role", .text).notNull()
                table.column("name", .text).notNull()
                table.column("passwordHash", .text).notNull()
                table.column("dateOfBirth", .text)
                table.column("phone", .text)
                table.column("specialization", .text)
                table.column("failedAttempts", .integer).notNull().defaults(to: 0)
                table.column("createdAt", .integer).notNull()
                table.column("expiresAt", .integer).notNull().indexed()
            }
        }
        migrator.registerMigration("v13-checkpoints") { db in
            // The checkpoint log in the database beside the checkpoint file (AuditNotary): what several
            // instances on one database share, and what `hospital migrate` carries to another engine.
            // A ledger's existing file is copied in when the notary first opens it.
            try db.create(table: "auditCheckpoint") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("size", .integer).notNull().indexed()
                table.column("note", .text).notNull()
                table.column("isStatement", .boolean).notNull()
            }
        }
        migrator.registerMigration("v14-throttle-counters") { db in
            // The sign-in throttle's counters, one row each, read and written in the transaction of the attempt
            // they count (LoginThrottle), instead of a snapshot of them all saved every few seconds. The
            // snapshot's counters are carried over, each ending when its window would have (15 minutes; an
            // address known to an account: 30 days).
            try db.create(table: "throttleCounter") { table in
                table.primaryKey("key", .text)
                table.column("failures", .integer).notNull()
                table.column("windowStart", .integer).notNull()
                table.column("lastFailure", .integer).notNull()
                table.column("refused", .integer).notNull()
                table.column("userId", .integer)
                table.column("client", .text)
                table.column("expiresAt", .integer).notNull().indexed()
            }
            try db.execute(
                sql: """
                    INSERT INTO throttleCounter (key, failures, windowStart, lastFailure, refused, userId, client, expiresAt)
                    SELECT counter.key, json_extract(counter.value, '$.failures'), json_extract(counter.value, '$.windowStart'),
                    json_extract(counter.value, '$.lastFailure'), json_extract(counter.value, '$.refused'),
                    json_extract(counter.value, '$.userId'), json_extract(counter.value, '$.client'),
                    CASE WHEN counter.key LIKE 'known:%' THEN json_extract(counter.value, '$.lastFailure') + 2592000
                    WHEN counter.key LIKE 'pair:%' THEN max(json_extract(counter.value, '$.lastFailure'), json_extract(counter.value, '$.windowStart')) + 900
                    ELSE json_extract(counter.value, '$.windowStart') + 900 END
                    FROM throttle_state, json_each(CAST(throttle_state.state AS TEXT)) AS counter
                    """)
            try db.drop(table: "throttle_state")
        }
        return migrator
    }
}
