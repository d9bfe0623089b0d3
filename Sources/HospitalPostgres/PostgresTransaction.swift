import Foundation
import Logging
import PostgresNIO

/// One transaction's connection, and the few shapes every store's statements take: rows, records, a
/// value, and a statement's affected row count.
final class PostgresTransaction: Sendable {
    let connection: PostgresConnection
    let logger: Logger
    /// A write transaction (rows may be locked); false in a read-only snapshot.
    let writes: Bool

    init(connection: PostgresConnection, logger: Logger, writes: Bool) {
        self.connection = connection
        self.logger = logger
        self.writes = writes
    }

    func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        try await connection.query(query, logger: logger).collect()
    }

    /// Runs a statement that returns nothing.
    func execute(_ query: PostgresQuery) async throws {
        _ = try await connection.query(query, logger: logger).collect()
    }

    /// How many rows a statement ending in `RETURNING 1` (or any `RETURNING`) changed.
    func changes(_ query: PostgresQuery) async throws -> Int {
        try await rows(query).count
    }

    func records<T: Decodable>(_ type: T.Type, _ query: PostgresQuery) async throws -> [T] {
        try await rows(query).map { try PostgresRowDecoder.decode(T.self, from: $0) }
    }

    func record<T: Decodable>(_ type: T.Type, _ query: PostgresQuery) async throws -> T? {
        try await records(T.self, query).first
    }

    /// The first column of the first row; nil when there is no row (or the value is `NULL`).
    func value<T: PostgresDecodable>(_ type: T.Type, _ query: PostgresQuery) async throws -> T? {
        guard let cell = try await rows(query).first?.makeRandomAccess()[0], cell.bytes != nil else { return nil }
        return try cell.decode(T.self)
    }

    /// The first column of every row.
    func values<T: PostgresDecodable>(_ type: T.Type, _ query: PostgresQuery) async throws -> [T] {
        try await rows(query).map { try $0.makeRandomAccess()[0].decode(T.self) }
    }

    /// Inserts `record` into `table`; the new row's `id`.
    func insert(into table: String, _ record: some Encodable) async throws -> Int64 {
        guard let id = try await value(Int64.self, try PostgresRowEncoder.insert(into: table, record, "RETURNING id")) else {
            throw PostgresRowDecodingError(column: "id", reason: "the insert returned no id")
        }
        return id
    }
}

/// Text for a `LIKE … ESCAPE '\'` pattern: `text` with its `\`, `%` and `_` matching only themselves.
enum PostgresPattern {
    static func containing(_ text: String) -> String {
        "%"
            + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(
                of: "_", with: "\\_") + "%"
    }
}
