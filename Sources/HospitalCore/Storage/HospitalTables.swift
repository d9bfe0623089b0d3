package import Foundation

/// A hospital's tables as plain rows, whatever the engine: what `chainvault hospital migrate` copies
/// from one engine to the other. Each engine names tables and columns its own way (SQLite `user.passwordHash`,
/// PostgreSQL `users.password_hash`); rows here name columns in snake case (``column(_:)``) and tables
/// by ``HospitalTable``.
package protocol HospitalTables: Sendable {
    /// How many rows the table holds.
    func count(_ table: HospitalTable) async throws -> Int
    /// Up to `limit` rows after the row whose key columns (``HospitalTable/key``) are those of `after`
    /// (nil: from the first), in key order.
    func rows(_ table: HospitalTable, after: TableRow?, limit: Int) async throws -> [TableRow]
    /// Inserts rows as they are (ids included).
    func insert(_ rows: [TableRow], into table: HospitalTable) async throws
    /// After inserting every table: what the engine derives from them (identity counters past the
    /// highest ids, the ledger's head row).
    func finishImport() async throws
}

/// The tables of a hospital, each after those it refers to.
package enum HospitalTable: String, CaseIterable, Sendable {
    case users, registrations, passwordResets, recoveryCodes, loginChallenges, sessions, slots, reports, accessRequests, grants
    case emergencyAccesses, mailQueue, audit, auditTree, auditCheckpoints, throttleCounters

    /// The columns (snake case) that identify a row and order the table.
    package var key: [String] {
        switch self {
        case .auditTree: ["level", "position"]
        case .passwordResets, .loginChallenges, .sessions: ["token_hash"]
        case .recoveryCodes: ["code_hash"]
        case .throttleCounters: ["key"]
        default: ["id"]
        }
    }

    /// A property or SQLite column name in snake case: `passwordHash` → `password_hash`, `codeMAC` → `code_mac`.
    package static func column(_ name: String) -> String {
        var column = ""
        var previous: Character?
        for character in name {
            if character.isUppercase, let previous, previous.isLowercase || previous.isNumber { column.append("_") }
            column.append(contentsOf: character.lowercased())
            previous = character
        }
        return column
    }
}

/// One value of a row, as both engines hold it.
package enum CellValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob(Data)
}

/// A row by snake-case column name.
package typealias TableRow = [String: CellValue]
