import Dispatch
import GRDB
import Synchronization

/// A GRDB transaction that an `async` body drives one statement at a time.
///
/// GRDB hands out a connection only inside a synchronous closure on its own dispatch queue, while
/// ``HospitalStorage`` runs an `async` body (the shape PostgreSQL's client has). So the closure stays
/// open on GRDB's queue, serving the statements the body sends, until the body ends: the body's
/// task suspends at each one, and the queue's thread — GRDB's, never one of Swift's cooperative
/// pool — waits between them. The transaction commits if the body returned and rolls back if it threw.
final class SQLiteTransaction: Sendable {
    private struct Job {
        var run: @Sendable (Database) -> Void
        var fail: @Sendable (any Error) -> Void
    }

    private struct State {
        var jobs: [Job] = []
        /// Set once the body ended (`rollback`: it threw) or the connection went away (`closed`).
        var ended = false
        var rollback = false
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
                transaction.close(RolledBack())
            } catch {
                transaction.close(error)
                if !(error is RolledBack) { throw error }
            }
        }()
        let result: Result<T, any Error>
        do {
            result = .success(try await body(transaction))
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
            let closed: (any Error)? = state.withLock { state in
                if let closed = state.closed { return closed }
                state.jobs.append(
                    Job(run: { db in continuation.resume(with: Result { try job(db) }) }, fail: { continuation.resume(throwing: $0) }))
                return nil
            }
            if let closed { continuation.resume(throwing: closed) } else { wake.signal() }
        }
    }

    /// On GRDB's queue: runs jobs until the body ends; true when it threw.
    private func serve(_ db: Database) -> Bool {
        while true {
            wake.wait()
            let (job, ended, rollback) = state.withLock { state in
                (state.jobs.isEmpty ? nil : state.jobs.removeFirst(), state.ended, state.rollback)
            }
            if let job {
                job.run(db)
            } else if ended {
                return rollback
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

    /// The connection went away (the transaction ended, or never began): later jobs fail with `error`.
    private func close(_ error: any Error) {
        let waiting = state.withLock { state in
            state.closed = error
            defer { state.jobs = [] }
            return state.jobs
        }
        // Jobs queued when the connection failed to open: each resumes its caller with the error.
        for job in waiting { job.fail(error) }
    }

    /// The body threw: GRDB rolls back when the closure throws this.
    struct RolledBack: Error {}
}
