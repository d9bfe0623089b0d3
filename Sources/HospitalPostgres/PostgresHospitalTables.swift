import Foundation
import Hex
package import HospitalCore
import PostgresNIO

/// The hospital's tables in PostgreSQL as plain rows (``HospitalTables``), for `chainvault hospital
/// migrate`. Rows travel as JSON (`to_jsonb` out, `jsonb_populate_recordset` in), so that PostgreSQL
/// converts each value to its column's type; byte columns are `\x`-hex text there.
package struct PostgresHospitalTables: HospitalTables {
    let storage: PostgresHospitalStorage

    package init(storage: PostgresHospitalStorage) {
        self.storage = storage
    }

    /// PostgreSQL's name of each table: the case's name in snake case (`mailQueue` → `mail_queue`).
    static func name(_ table: HospitalTable) -> String { HospitalTable.column(table.rawValue) }

    package func count(_ table: HospitalTable) async throws -> Int {
        try await query("SELECT count(*) FROM \(unescaped: Self.name(table))").first?.decode(Int.self) ?? 0
    }

    package func rows(_ table: HospitalTable, after: TableRow?, limit: Int) async throws -> [TableRow] {
        let name = Self.name(table)
        let types = Dictionary(
            uniqueKeysWithValues: try await query(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = \(name)"
            ).map { try $0.decode((String, String).self) })
        let key = table.key.joined(separator: ", ")
        var binds = PostgresBindings()
        var sql = "SELECT to_jsonb(row)::text FROM \(name) AS row"
        if let after {
            for column in table.key {
                switch after[column] ?? .null {
                case .integer(let number): try binds.append(number)
                case .text(let text): try binds.append(text)
                case .blob(let bytes): try binds.append(bytes)
                case .real(let number): try binds.append(number)
                case .null: binds.appendNull()
                }
            }
            sql += " WHERE (\(key)) > (\((1...table.key.count).map { "$\($0)" }.joined(separator: ", ")))"
        }
        try binds.append(limit)
        sql += " ORDER BY \(key) LIMIT $\(after == nil ? 1 : table.key.count + 1)"
        return try await query(PostgresQuery(unsafeSQL: sql, binds: binds)).map { row in
            let text = try row.decode(String.self)
            guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
                throw PostgresRowDecodingError(column: name, reason: "a row is not a JSON object")
            }
            var values: TableRow = [:]
            for (column, value) in object {
                values[column] = try Self.cell(value, type: types[column] ?? "text", column: column)
            }
            return values
        }
    }

    package func insert(_ rows: [TableRow], into table: HospitalTable) async throws {
        guard !rows.isEmpty else { return }
        let objects = rows.map { row in
            row.mapValues { cell -> Any in
                switch cell {
                case .null: NSNull()
                case .integer(let number): NSNumber(value: number)
                case .real(let number): NSNumber(value: number)
                case .text(let text): text
                case .blob(let bytes): "\\x" + Hex.encode(Array(bytes))
                }
            }
        }
        let json = String(decoding: try JSONSerialization.data(withJSONObject: objects), as: UTF8.self)
        let name = Self.name(table)
        _ = try await query(
            "INSERT INTO \(unescaped: name) OVERRIDING SYSTEM VALUE SELECT * FROM jsonb_populate_recordset(NULL::\(unescaped: name), \(json)::jsonb)"
        )
    }

    package func finishImport() async throws {
        for table in HospitalTable.allCases where table.key == ["id"] {
            let name = Self.name(table)
            _ = try await query(
                "SELECT setval(pg_get_serial_sequence(\(name), 'id'), coalesce(max(id), 0) + 1, false) FROM \(unescaped: name)")
        }
        _ = try await query(
            """
            UPDATE audit_head SET id = coalesce((SELECT max(id) FROM audit), 0), hash = (SELECT hash FROM audit ORDER BY id DESC LIMIT 1)
            """)
    }

    /// A JSON value of a column of this type as a cell.
    static func cell(_ value: Any, type: String, column: String) throws -> CellValue {
        if value is NSNull { return .null }
        switch type {
        case "bytea":
            guard let text = value as? String, text.hasPrefix("\\x"), let bytes = Hex.decode(String(text.dropFirst(2))) else {
                throw PostgresRowDecodingError(column: column, reason: "not \\x-hex bytes")
            }
            return .blob(Data(bytes))
        case "boolean":
            guard let flag = value as? Bool else { throw PostgresRowDecodingError(column: column, reason: "not a boolean") }
            return .integer(flag ? 1 : 0)
        case "bigint", "integer", "smallint":
            guard let number = value as? NSNumber else { throw PostgresRowDecodingError(column: column, reason: "not a number") }
            return .integer(number.int64Value)
        case "double precision", "real", "numeric":
            guard let number = value as? NSNumber else { throw PostgresRowDecodingError(column: column, reason: "not a number") }
            return .real(number.doubleValue)
        default:
            guard let text = value as? String else { throw PostgresRowDecodingError(column: column, reason: "not text") }
            return .text(text)
        }
    }

    private func query(_ query: PostgresQuery) async throws -> [PostgresRow] {
        try await storage.statement(query)
    }
}
