import Foundation
import HospitalCore
import PostgresNIO

/// Decodes a hospital record (`Codable`, as the SQLite engine reads it through GRDB) from a row whose
/// columns are its properties in snake case: `passwordHash` is the column `password_hash`. Only what
/// the records hold: integers, text, booleans, bytes, optionals and `String`-backed enums.
struct PostgresRowDecoder {
    static func decode<T: Decodable>(_ type: T.Type, from row: PostgresRow) throws -> T {
        try T(from: RowDecoder(row: row.makeRandomAccess()))
    }

    /// `camelCase` as `snake_case`, an initialism as one word: `codeMAC` is `code_mac`.
    static func column(_ key: String) -> String { HospitalTable.column(key) }
}

/// A value the record has and the row does not, or one of a type the decoder does not read.
struct PostgresRowDecodingError: Error, CustomStringConvertible {
    var column: String
    var reason: String
    var description: String { "column \(column): \(reason)" }
}

private struct RowDecoder: Decoder {
    let row: PostgresRandomAccessRow
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(Columns<Key>(row: row))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw PostgresRowDecodingError(column: "-", reason: "a row is not a list")
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        throw PostgresRowDecodingError(column: "-", reason: "a row is not a single value")
    }
}

private struct Columns<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let row: PostgresRandomAccessRow
    var codingPath: [any CodingKey] { [] }
    var allKeys: [Key] { [] }

    func cell(_ key: Key) throws -> PostgresCell {
        let column = PostgresRowDecoder.column(key.stringValue)
        guard row.contains(column) else { throw PostgresRowDecodingError(column: column, reason: "not in the row") }
        return row[column]
    }

    func contains(_ key: Key) -> Bool { row.contains(PostgresRowDecoder.column(key.stringValue)) }

    func decodeNil(forKey key: Key) throws -> Bool { try cell(key).bytes == nil }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try cell(key).decode(Bool.self) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try cell(key).decode(String.self) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try cell(key).decode(Int.self) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try cell(key).decode(Int64.self) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try cell(key).decode(Int32.self) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try cell(key).decode(Double.self) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { throw unsupported(type, key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { throw unsupported(type, key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { throw unsupported(type, key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { throw unsupported(type, key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { throw unsupported(type, key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { throw unsupported(type, key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { throw unsupported(type, key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { throw unsupported(type, key) }

    func unsupported(_ type: Any.Type, _ key: Key) -> PostgresRowDecodingError {
        PostgresRowDecodingError(column: PostgresRowDecoder.column(key.stringValue), reason: "\(type) is not a column type")
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        if type == Data.self { return try cell(key).decode(Data.self) as! T }
        // A `String`-backed enum (a role, a status) decodes from its text through a single value.
        return try T(from: Cell(cell: try cell(key), column: PostgresRowDecoder.column(key.stringValue)))
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        throw PostgresRowDecodingError(column: key.stringValue, reason: "nested values are not columns")
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        throw PostgresRowDecodingError(column: key.stringValue, reason: "lists are not columns")
    }

    func superDecoder() throws -> any Decoder { throw PostgresRowDecodingError(column: "-", reason: "no super decoder") }
    func superDecoder(forKey key: Key) throws -> any Decoder { try superDecoder() }
}

/// One cell as a single value: what a `String`-backed enum's synthesized `init(from:)` asks for.
private struct Cell: Decoder, SingleValueDecodingContainer {
    let cell: PostgresCell
    let column: String
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        throw PostgresRowDecodingError(column: column, reason: "a cell is not a row")
    }
    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw PostgresRowDecodingError(column: column, reason: "a cell is not a list")
    }
    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    func decodeNil() -> Bool { cell.bytes == nil }
    func decode(_ type: String.Type) throws -> String { try cell.decode(String.self) }
    func decode(_ type: Int64.Type) throws -> Int64 { try cell.decode(Int64.self) }
    func decode(_ type: Int.Type) throws -> Int { try cell.decode(Int.self) }
    func decode(_ type: Bool.Type) throws -> Bool { try cell.decode(Bool.self) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { throw unsupported(type) }
    func decode(_ type: Float.Type) throws -> Float { throw unsupported(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { throw unsupported(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { throw unsupported(type) }
    func decode(_ type: UInt.Type) throws -> UInt { throw unsupported(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { throw unsupported(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { throw unsupported(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { throw unsupported(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { throw unsupported(type) }
    func decode(_ type: Double.Type) throws -> Double { throw unsupported(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { throw unsupported(type) }

    func unsupported(_ type: Any.Type) -> PostgresRowDecodingError {
        PostgresRowDecodingError(column: column, reason: "\(type) is not a column type")
    }
}
