import Dispatch
import GRDB
import HospitalCore
import Synchronization

/// A GRDB transaction that an `async` body drives.
///
/// GRDB hands out a connection only inside a synchronous closure on its own dispatch queue, while
/// ``HospitalStorage`` runs an `async` body (the shape PostgreSQL's client has). So the closure stays
/// open on GRDB's queue until the body ends, and the transaction is also the body's task executor:
/// the body runs on that same thread, between the statements it sends. A statement is then a call on
/// the thread that already holds the connection, not a hop between threads — the body reads and writes
/// at the speed of the synchronous closures it replaces, and waits for nothing but SQLite. The
/// transaction commits if the body returned and rolls back if it threw.
final class SQLiteTransaction: TaskExecutor, Sendable {
    /// A statement: runs against the connection, or fails when there is none.
    private struct Statement {
        var run: @Sendable (Database) -> Void
        var fail: @Sendable (any Error) -> Void
    }

    private enum Work {
        /// A slice of the body's task.
        case task(UnownedJob)
        case statement(Statement)
    }

    private struct State {
        var work: [Work] = []
        /// Set once the body ended (`rollback`: it threw).
        var ended = false
        var rollback = false
        /// Set once the connection is gone (the transaction ended, or never began).
        var closed: (any Error)?
    }

    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)

    /// Runs `body` in a transaction of `writer`: a write transaction, or a read-only snapshot when `write` is false.
    static func run<T: Sendable>(
        _ writer: any DatabaseWriter, write: Bool, _ body: @escaping @Sendable (SQLiteTransaction) async throws -> T
    ) async throws -> T {
        let transaction = SQLiteTransaction()
        async let connection: Void = {
            do {
                if write {
                    try await writer.write { db in
                        if transaction.serve(db) { throw RolledBack() }
                    }
                } else {
                    try await writer.read { db in _ = transaction.serve(db) }
                }
                transaction.close(Ended())
            } catch {
                transaction.close(error)
                if !(error is RolledBack) { throw error }
            }
        }()
        let result: Result<T, any Error>
        do {
            result = .success(try await withTaskExecutorPreference(transaction) { try await body(transaction) })
        } catch {
            result = .failure(error)
        }
        transaction.end(rollback: (try? result.get()) == nil)
        try await connection  // a failed COMMIT is the answer, not the body's result
        return try result.get()
    }

    /// Runs `job` on the transaction's connection.
    func run<T: Sendable>(_ job: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let statement = Statement(
                run: { db in continuation.resume(with: Result { try job(db) }) }, fail: { continuation.resume(throwing: $0) })
            if let closed = submit(.statement(statement)) { continuation.resume(throwing: closed) }
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        // Once the connection is gone, the task carries on on the shared executor.
        if submit(.task(job)) != nil { globalConcurrentExecutor.enqueue(ExecutorJob(job)) }
    }

    /// Queues `work` for the connection's thread; the error the connection closed with when there is none.
    private func submit(_ work: Work) -> (any Error)? {
        let closed: (any Error)? = state.withLock { state in
            if let closed = state.closed { return closed }
            state.work.append(work)
            return nil
        }
        if closed == nil { wake.signal() }
        return closed
    }

    /// On GRDB's queue: runs the body and its statements until the body ends; true when it threw.
    private func serve(_ db: Database) -> Bool {
        while true {
            wake.wait()
            let (work, ended, rollback) = state.withLock { state in
                (state.work.isEmpty ? nil : state.work.removeFirst(), state.ended, state.rollback)
            }
            switch work {
            case .task(let job): job.runSynchronously(on: asUnownedTaskExecutor())
            case .statement(let statement): statement.run(db)
            case nil: if ended { return rollback }
            }
        }
    }

    private func end(rollback: Bool) {
        state.withLock { state in
            state.ended = true
            state.rollback = rollback
        }
        wake.signal()
    }

    /// The connection went away: later statements fail with `error`, and the body's task moves on.
    private func close(_ error: any Error) {
        let waiting = state.withLock { state in
            state.closed = error
            defer { state.work = [] }
            return state.work
        }
        for work in waiting {
            switch work {
            case .task(let job): globalConcurrentExecutor.enqueue(ExecutorJob(job))
            case .statement(let statement): statement.fail(error)
            }
        }
    }

    /// The body threw: GRDB rolls back when the closure throws this.
    struct RolledBack: Error {}

    /// A statement sent after the transaction ended (a task the body left running).
    struct Ended: Error {}
}
