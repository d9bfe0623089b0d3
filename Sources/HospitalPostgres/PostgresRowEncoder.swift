import Foundation
import PostgresNIO

/// A hospital record's properties as columns and bindings (the inverse of ``PostgresRowDecoder``), for
/// an `INSERT`: `passwordHash` binds the column `password_hash`. A `nil` optional is left out, so its
/// column takes its default (`NULL`, or the next id).
struct PostgresRowEncoder {
    /// `INSERT INTO table (columns) VALUES ($1, …)` for `record`, then `suffix` (such as `RETURNING id`).
    static func insert(into table: String, _ record: some Encodable, _ suffix: String = "") throws -> PostgresQuery {
        let columns = Columns()
        try record.encode(to: RowEncoder(columns: columns))
        let placeholders = (1...max(1, columns.names.count)).map { "$\($0)" }.prefix(columns.names.count)
        return PostgresQuery(
            unsafeSQL:
                "INSERT INTO \(table) (\(columns.names.joined(separator: ", "))) VALUES (\(placeholders.joined(separator: ", "))) \(suffix)",
            binds: columns.binds)
    }
}

private final class Columns {
    var names: [String] = []
    var binds = PostgresBindings()

    func append(_ key: some CodingKey, _ value: some PostgresThrowingDynamicTypeEncodable) throws {
        names.append(PostgresRowDecoder.column(key.stringValue))
        try binds.append(value)
    }
}

private struct RowEncoder: Encoder {
    let columns: Columns
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(Keyed<Key>(columns: columns))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer { fatalError("a record is a row, not a list") }
    func singleValueContainer() -> any SingleValueEncodingContainer { fatalError("a record is a row, not a value") }
}

private struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let columns: Columns
    var codingPath: [any CodingKey] { [] }

    mutating func encodeNil(forKey key: Key) throws {
        columns.names.append(PostgresRowDecoder.column(key.stringValue))
        columns.binds.appendNull()
    }

    mutating func encode(_ value: Bool, forKey key: Key) throws { try columns.append(key, value) }
    mutating func encode(_ value: String, forKey key: Key) throws { try columns.append(key, value) }
    mutating func encode(_ value: Int, forKey key: Key) throws { try columns.append(key, value) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { try columns.append(key, value) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { try columns.append(key, value) }
    mutating func encode(_ value: Double, forKey key: Key) throws { try columns.append(key, value) }
    mutating func encode(_ value: Float, forKey key: Key) throws { throw unsupported(value, key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { throw unsupported(value, key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { throw unsupported(value, key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { throw unsupported(value, key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { throw unsupported(value, key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { throw unsupported(value, key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { throw unsupported(value, key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { throw unsupported(value, key) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        if let data = value as? Data { return try columns.append(key, data) }
        // A `String`-backed enum (a role, a status) binds its text.
        let single = Single()
        try value.encode(to: single)
        guard let text = single.text else { throw unsupported(value, key) }
        try columns.append(key, text)
    }

    func unsupported(_ value: Any, _ key: Key) -> PostgresRowDecodingError {
        PostgresRowDecodingError(column: PostgresRowDecoder.column(key.stringValue), reason: "\(type(of: value)) is not a column type")
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<
        NestedKey
    > {
        fatalError("nested values are not columns")
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer { fatalError("lists are not columns") }
    mutating func superEncoder() -> any Encoder { fatalError("no super encoder") }
    mutating func superEncoder(forKey key: Key) -> any Encoder { fatalError("no super encoder") }
}

/// What a `String`-backed enum encodes: its text.
private final class Single: Encoder, SingleValueEncodingContainer {
    var text: String?
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> { fatalError("not a column value") }
    func unkeyedContainer() -> any UnkeyedEncodingContainer { fatalError("not a column value") }
    func singleValueContainer() -> any SingleValueEncodingContainer { self }

    func encode(_ value: String) throws { text = value }
    func encodeNil() throws { throw notText(0) }
    func encode<T: Encodable>(_ value: T) throws { throw notText(value) }
    func encode(_ value: Bool) throws { throw notText(value) }
    func encode(_ value: Double) throws { throw notText(value) }
    func encode(_ value: Float) throws { throw notText(value) }
    func encode(_ value: Int) throws { throw notText(value) }
    func encode(_ value: Int8) throws { throw notText(value) }
    func encode(_ value: Int16) throws { throw notText(value) }
    func encode(_ value: Int32) throws { throw notText(value) }
    func encode(_ value: Int64) throws { throw notText(value) }
    func encode(_ value: UInt) throws { throw notText(value) }
    func encode(_ value: UInt8) throws { throw notText(value) }
    func encode(_ value: UInt16) throws { throw notText(value) }
    func encode(_ value: UInt32) throws { throw notText(value) }
    func encode(_ value: UInt64) throws { throw notText(value) }

    func notText(_ value: Any) -> EncodingError {
        EncodingError.invalidValue(value, .init(codingPath: [], debugDescription: "only text-backed values are columns"))
    }
}
