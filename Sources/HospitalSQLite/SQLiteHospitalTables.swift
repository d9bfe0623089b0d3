import Foundation
import GRDB
package import HospitalCore

/// The hospital's tables in SQLite as plain rows (``HospitalTables``), for `chainvault hospital migrate`.
package struct SQLiteHospitalTables: HospitalTables {
    let database: HospitalDatabase

    package init(_ database: HospitalDatabase) {
        self.database = database
    }

    /// SQLite's name of each table.
    static func name(_ table: HospitalTable) -> String {
        switch table {
        case .users: "user"
        case .registrations: "registration"
        case .passwordResets: "passwordReset"
        case .recoveryCodes: "recoveryCode"
        case .loginChallenges: "loginChallenge"
        case .sessions: "session"
        case .slots: "slot"
        case .reports: "report"
        case .accessRequests: "accessRequest"
        case .grants: "grant"
        case .emergencyAccesses: "emergencyAccess"
        case .mailQueue: "mailQueue"
        case .audit: "audit"
        case .auditTree: "auditTree"
        case .auditCheckpoints: "auditCheckpoint"
        case .throttleCounters: "throttleCounter"
        }
    }

    /// The table's columns by their snake-case names.
    static func columns(_ table: HospitalTable, in db: Database) throws -> [String: String] {
        Dictionary(uniqueKeysWithValues: try db.columns(in: name(table)).map { (HospitalTable.column($0.name), $0.name) })
    }

    package func count(_ table: HospitalTable) async throws -> Int {
        try await database.writer.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM \"\(Self.name(table))\"") ?? 0 }
    }

    package func rows(_ table: HospitalTable, after: TableRow?, limit: Int) async throws -> [TableRow] {
        try await database.writer.read { db in
            let columns = try Self.columns(table, in: db)
            let key = try table.key.map { name in
                guard let column = columns[name] else { throw DatabaseError(message: "\(Self.name(table)) has no column \(name)") }
                return "\"\(column)\""
            }
            var sql = "SELECT * FROM \"\(Self.name(table))\""
            var arguments: [any DatabaseValueConvertible] = []
            if let after {
                sql += " WHERE (\(key.joined(separator: ", "))) > (\(key.map { _ in "?" }.joined(separator: ", ")))"
                arguments = table.key.map { Self.value(after[$0] ?? .null) }
            }
            sql += " ORDER BY \(key.joined(separator: ", ")) LIMIT ?"
            arguments.append(limit)
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map { row in
                var values: TableRow = [:]
                for (column, value) in row {
                    values[HospitalTable.column(column)] =
                        switch value.storage {
                        case .null: .null
                        case .int64(let number): .integer(number)
                        case .double(let number): .real(number)
                        case .string(let text): .text(text)
                        case .blob(let bytes): .blob(bytes)
                        }
                }
                return values
            }
        }
    }

    package func insert(_ rows: [TableRow], into table: HospitalTable) async throws {
        guard !rows.isEmpty else { return }
        try await database.writer.write { db in
            let columns = try Self.columns(table, in: db)
            for row in rows {
                let names = try row.keys.sorted().map { name in
                    guard let column = columns[name] else { throw DatabaseError(message: "\(Self.name(table)) has no column \(name)") }
                    return column
                }
                try db.execute(
                    sql: """
                        INSERT INTO "\(Self.name(table))" (\(names.map { "\"\($0)\"" }.joined(separator: ", ")))
                        VALUES (\(names.map { _ in "?" }.joined(separator: ", ")))
                        """,
                    arguments: StatementArguments(row.keys.sorted().map { Self.value(row[$0] ?? .null) }))
            }
        }
    }

    /// SQLite derives nothing: AUTOINCREMENT counters follow the highest ids inserted.
    package func finishImport() async throws {}

    static func value(_ cell: CellValue) -> DatabaseValue {
        switch cell {
        case .null: .null
        case .integer(let number): number.databaseValue
        case .real(let number): number.databaseValue
        case .text(let text): text.databaseValue
        case .blob(let bytes): bytes.databaseValue
        }
    }
}
