package import HospitalCore
package import Logging
import Metrics
package import PostgresNIO
import Synchronization
import _ConnectionPoolModule

/// ``HospitalStorage`` on PostgreSQL (postgres-nio's pooled `PostgresClient`), shared by every
/// ChainVault instance of a hospital.
///
/// A read is a `REPEATABLE READ, READ ONLY` snapshot and runs beside everything. A write first takes
/// one transaction-scoped advisory lock, so writes of every instance run one after another, as on
/// SQLite's single writer: a body's "is the slot still open" still holds when it commits, and the
/// ledger's appends (nearly every write makes one, all on the same head row) never race. Writes are
/// short (statements only, no other I/O: anything else waits for ``HospitalTransaction/afterCommit(_:)``),
/// the lock is released by the commit or by the server when a connection dies, and the wait for it
/// is bounded by the statement timeout. A serialization failure or deadlock, which this order should
/// not produce, runs the body again rather than failing the action.
package struct PostgresHospitalStorage: HospitalStorage {
    let client: PostgresClient
    let logger: Logger
    /// Longest wait for a connection from the pool: a database that went away fails requests after this
    /// (`database_unavailable`) rather than when the pool gives up (a minute or more).
    let leaseTimeout: Duration
    /// Longest wait for one statement's answer before its connection is given up: longer than the
    /// server's statement timeout, which ends a slow statement (or lock wait) with an answer first.
    let answerTimeout: Duration
    /// Times a write runs before its serialization failure is the answer.
    static let attempts = 10
    /// The advisory lock every write holds (any constant of this program's own).
    static let writerLock: Int64 = 0x4368_6169_6E56_0002

    /// - Parameters:
    ///   - client: Run by the caller (`client.run()`, a ServiceLifecycle service).
    ///   - answerTimeout: More than the connections' `statement_timeout` (30 s unless set).
    package init(client: PostgresClient, logger: Logger, leaseTimeout: Duration = .seconds(10), answerTimeout: Duration = .seconds(45)) {
        self.client = client
        self.logger = logger
        self.leaseTimeout = leaseTimeout
        self.answerTimeout = answerTimeout
    }

    package func read<T: Sendable>(_ body: @escaping @Sendable (HospitalTransaction) async throws -> T) async throws -> T {
        do {
            return try await withConnection { connection in
                let transaction = PostgresTransaction(connection: connection, logger: logger, writes: false, answerTimeout: answerTimeout)
                return try await Self.run(transaction, begin: "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY") { hospital in
                    try await body(hospital)
                }.0
            }
        } catch {
            throw Self.unavailable(error, logger: logger)
        }
    }

    @discardableResult
    package func write<T: Sendable>(_ body: @escaping @Sendable (HospitalTransaction) async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do {
                let (result, hospital) = try await withConnection { connection in
                    let transaction = PostgresTransaction(
                        connection: connection, logger: logger, writes: true, answerTimeout: answerTimeout)
                    return try await Self.run(transaction, begin: "BEGIN", lock: true, body)
                }
                hospital.committed()
                return result
            } catch let error where Self.isConflict(error) && attempt < Self.attempts {
                attempt += 1
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...(5 * attempt))))
            } catch {
                throw Self.unavailable(error, logger: logger)
            }
        }
    }

    /// Runs one statement on its own (no transaction around it) on a pooled connection: its rows. A
    /// database out of reach is `database_unavailable`, as for ``read(_:)``.
    package func statement(_ query: PostgresQuery) async throws -> [PostgresRow] {
        do {
            return try await withConnection { connection in
                try await connection.answer(query, logger: logger, within: answerTimeout).get().rows
            }
        } catch {
            throw Self.unavailable(error, logger: logger)
        }
    }

    /// Thrown when no connection came within ``leaseTimeout``.
    struct LeaseTimeout: Error {}

    /// Runs `body` on a connection of the pool, waiting at most ``leaseTimeout`` for one; the body
    /// itself by the server's statement timeout and, should the server not answer, ``answerTimeout``.
    func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let leased = Leased()
        Self.waiting.increment()
        defer { if !leased.flag.withLock({ $0 }) { Self.waiting.decrement() } }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await client.withConnection { connection in
                    leased.flag.withLock { $0 = true }
                    Self.waiting.decrement()
                    Self.inUse.increment()
                    defer { Self.inUse.decrement() }
                    return try await body(connection)
                }
            }
            group.addTask {
                try await Task.sleep(for: leaseTimeout)
                if !leased.flag.withLock({ $0 }) { throw LeaseTimeout() }
                return nil
            }
            defer { group.cancelAll() }
            while let next = try await group.next() {
                if let result = next { return result }
            }
            throw LeaseTimeout()
        }
    }

    /// The pool's gauges in `/-/metrics`: transactions holding a connection, and those waiting for one.
    static let inUse = Meter(label: "chainvault_database_connections_in_use")
    static let waiting = Meter(label: "chainvault_database_connections_waiting")

    private final class Leased: Sendable {
        let flag = Mutex(false)
    }

    /// Runs `body` between `begin` and `COMMIT`, rolling back when it throws.
    ///
    /// Round trips are most of what a transaction costs here, so `begin` goes out with the first
    /// statement (the writers' lock, or the body's first) and its answer is checked before anything else
    /// runs; a read's `COMMIT` and any `ROLLBACK` are sent without waiting (the next user of the connection
    /// is answered after them). A write waits for its `COMMIT`: nothing is acknowledged before it is durable.
    private static func run<T: Sendable>(
        _ transaction: PostgresTransaction, begin: PostgresQuery, lock: Bool = false,
        _ body: @Sendable (HospitalTransaction) async throws -> T
    ) async throws -> (T, HospitalTransaction) {
        let hospital = Self.hospital(transaction)
        transaction.sendAhead(begin)
        let result: T
        do {
            if lock { try await transaction.execute("SELECT pg_advisory_xact_lock(\(Self.writerLock))") }
            result = try await body(hospital)
            try await transaction.settle()
        } catch {
            transaction.sendAndForget("ROLLBACK")
            throw error
        }
        if transaction.writes {
            try await transaction.execute("COMMIT")
        } else {
            transaction.sendAndForget("COMMIT")
        }
        return (result, hospital)
    }

    static func hospital(_ transaction: PostgresTransaction) -> HospitalTransaction {
        HospitalTransaction(
            accounts: PostgresAccountStore(connection: transaction), sessions: PostgresSessionStore(connection: transaction),
            scheduling: PostgresSchedulingStore(connection: transaction), mail: PostgresMailStore(connection: transaction),
            ledger: PostgresLedgerStore(connection: transaction), reports: PostgresReportStore(connection: transaction),
            consent: PostgresConsentStore(connection: transaction), emergency: PostgresEmergencyStore(connection: transaction))
    }

    /// `error` as the services' callers see it: the database out of reach (no connection, the server gone
    /// or shutting down, a statement or the writers' lock over the statement timeout) is
    /// `database_unavailable`, a 503 with `Retry-After`, logged without the request's data; anything
    /// else (the body's own errors included) passes unchanged.
    static func unavailable(_ error: any Error, logger: Logger) -> any Error {
        guard isUnavailable(error) else { return error }
        logger.warning("the hospital database cannot be used: \(DatabaseUnavailable.reason(error, database: "", user: ""))")
        return HospitalError(
            .databaseUnavailable, "The hospital's database cannot be reached; nothing was changed. Try again shortly.", retryAfter: 5)
    }

    static func isUnavailable(_ error: any Error) -> Bool {
        // The pool's own refusals (no connection could be made for a while: its circuit breaker), no
        // connection within the lease timeout, or a connection lost under a statement.
        if error is ConnectionPoolError || error is LeaseTimeout || error is PostgresTransaction.NoAnswer { return true }
        guard let error = error as? PSQLError else { return false }
        if let state = error.serverInfo?[.sqlState] {
            // Class 08: connection exceptions; 57: operator intervention (shutdown, a cancelled statement).
            return state.hasPrefix("08") || state.hasPrefix("57") || state == "53300"
        }
        switch error.code {
        case .connectionError, .serverClosedConnection, .uncleanShutdown, .poolClosed, .clientClosedConnection, .sslUnsupported,
            .failedToAddSSLHandler:
            return true
        default: return false
        }
    }

    /// PostgreSQL's SQLSTATE of `error`, when the server sent one.
    static func state(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    /// A serialization failure or a deadlock: the transaction runs again.
    static func isConflict(_ error: any Error) -> Bool {
        let state = state(error)
        return state == PostgresError.Code.serializationFailure.raw || state == PostgresError.Code.deadlockDetected.raw
    }
}
