import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// One transaction's connection, and the few shapes every store's statements take: rows, records, a
/// value, and a statement's affected row count.
final class PostgresTransaction: Sendable {
    let connection: PostgresConnection
    let logger: Logger
    /// A write transaction (rows may be locked); false in a read-only snapshot.
    let writes: Bool
    /// Longest wait for a statement's answer (``NoAnswer``); longer than the server's statement timeout.
    let answerTimeout: Duration
    /// A statement sent ahead (``sendAhead(_:)``) whose answer is still to be checked.
    private let ahead = Mutex<EventLoopFuture<PostgresQueryResult>?>(nil)

    init(connection: PostgresConnection, logger: Logger, writes: Bool, answerTimeout: Duration) {
        self.connection = connection
        self.logger = logger
        self.writes = writes
        self.answerTimeout = answerTimeout
    }

    /// A statement got no answer: its connection closed under it, or nothing came within
    /// ``answerTimeout`` (the connection is then closed, and the pool opens another).
    struct NoAnswer: Error, CustomStringConvertible {
        let closed: Bool
        var description: String {
            closed ? "the connection closed before the statement was answered" : "no answer within the client's time limit"
        }
    }

    /// Sends `query` (a `BEGIN`) without waiting for its answer: the connection runs what it is sent in
    /// order, so it goes out with the next statement and a transaction costs no round trip of its own.
    /// Its answer is checked when the next statement's has come (``rows(_:)``) or by ``settle()``: what
    /// follows it may not act on its outcome before then.
    func sendAhead(_ query: PostgresQuery) {
        let sent = send(query)
        ahead.withLock { $0 = sent }
    }

    /// Sends `query` and does not wait for its answer: a read's `COMMIT` (nothing to make durable) or the
    /// `ROLLBACK` of a failed transaction. Whoever uses the connection next is answered after it.
    func sendAndForget(_ query: PostgresQuery) {
        _ = send(query)
    }

    /// Waits for the answer of the statement sent ahead, if any; its error if it failed.
    func settle() async throws {
        if let sent = ahead.withLock({ value in
            defer { value = nil }
            return value
        }) {
            _ = try await sent.get()
        }
    }

    private func send(_ query: PostgresQuery) -> EventLoopFuture<PostgresQueryResult> {
        connection.answer(query, logger: logger, within: answerTimeout)
    }

    func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        let answer = send(query)
        let rows: [PostgresRow]
        do {
            rows = try await answer.get().rows
        } catch {
            try await settle()  // a failed BEGIN is the reason, not what followed it
            throw error
        }
        try await settle()
        return rows
    }

    /// Runs a statement that returns nothing.
    func execute(_ query: PostgresQuery) async throws {
        _ = try await rows(query)
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

extension PostgresConnection {
    /// Sends `query`; its answer, or ``PostgresTransaction/NoAnswer``. postgres-nio leaves a statement
    /// unanswered forever when it is written as the connection closes (a server shutting down), and
    /// nothing answers a server that stopped answering: both end here, on the connection's event loop
    /// (after `limit` the connection is closed), instead of holding a request, a connection and a lock.
    func answer(_ query: PostgresQuery, logger: Logger, within limit: Duration) -> EventLoopFuture<PostgresQueryResult> {
        // All of it on the loop in one go: the statement is written there at once, and the watches are
        // set up without a hop each (every one made from another thread would wake the loop).
        let connection = self
        return eventLoop.flatSubmit {
            let answer = connection.eventLoop.makePromise(of: PostgresQueryResult.self)
            connection.query(query, logger: logger).cascade(to: answer)
            ClosingWatch.fail(answer, when: connection)
            let deadline = connection.eventLoop.scheduleTask(in: .nanoseconds(Int64(limit / .nanoseconds(1)))) {
                answer.fail(PostgresTransaction.NoAnswer(closed: false))
                connection.close().whenComplete { _ in }
            }
            answer.futureResult.whenComplete { _ in deadline.cancel() }
            return answer.futureResult
        }
    }
}

/// The answers awaited on each open connection, failed together when it closes. One callback on a
/// connection's `closeFuture` for its whole life: one per statement would pile up for as long as the
/// connection lives.
private enum ClosingWatch {
    typealias Answer = EventLoopPromise<PostgresQueryResult>
    /// By connection, its answers still awaited (by their future). A connection's entry goes when it closes.
    private static let awaited = Mutex<[ObjectIdentifier: [ObjectIdentifier: Answer]]>([:])

    static func fail(_ answer: Answer, when connection: PostgresConnection) {
        let key = ObjectIdentifier(connection)
        let id = ObjectIdentifier(answer.futureResult)
        let first = awaited.withLock { all in
            defer { all[key, default: [:]][id] = answer }
            return all[key] == nil
        }
        if first {
            // Runs at once when the connection is already closed (and takes this answer with it).
            connection.closeFuture.whenComplete { _ in
                let pending = awaited.withLock { $0.removeValue(forKey: key) } ?? [:]
                for answer in pending.values { answer.fail(PostgresTransaction.NoAnswer(closed: true)) }
            }
        }
        answer.futureResult.whenComplete { _ in
            awaited.withLock { all in _ = all[key]?.removeValue(forKey: id) }
        }
    }
}
