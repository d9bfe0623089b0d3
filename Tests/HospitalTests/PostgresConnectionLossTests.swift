import Foundation
import HospitalCore
import Logging
import PostgresNIO
import TestSupport
import Testing

@testable import HospitalPostgres

/// A statement that gets no answer — the server stopped answering, or its connection went under it —
/// ends the action as `database_unavailable`, and the storage goes on with other connections.
@Suite(.enabled(if: TestPostgres.url != nil, "needs CHAINVAULT_TEST_DATABASE_URL (make unit starts a server)"))
struct PostgresConnectionLossTests {
    let logger = Logger(label: "test.postgres")

    /// Holds the writers' lock on a connection of its own until `body` returns, so that a write waits.
    func holdingTheWritersLock<T: Sendable>(_ client: PostgresClient, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await client.withConnection { holder in
            try await holder.query("BEGIN", logger: logger)
            try await holder.query("SELECT pg_advisory_xact_lock(\(PostgresHospitalStorage.writerLock))", logger: logger)
            do {
                let result = try await body()
                try await holder.query("ROLLBACK", logger: logger)
                return result
            } catch {
                _ = try? await holder.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    func expectUnavailable(_ action: @escaping @Sendable () async throws -> Void) async {
        let error = await #expect(throws: HospitalError.self) { try await action() }
        #expect(error?.code == .databaseUnavailable)
    }

    @Test(.timeLimit(.minutes(1))) func aStatementWithoutAnswerEndsWithinTheAnswerTimeout() async throws {
        try await TestPostgres.withClient { client in
            // The test server sets no statement timeout: without the client's own limit this write waits forever.
            let storage = PostgresHospitalStorage(client: client, logger: logger, answerTimeout: .milliseconds(500))
            let waited = try await holdingTheWritersLock(client) {
                let started = ContinuousClock.now
                await expectUnavailable { try await storage.write { _ in } }
                return ContinuousClock.now - started
            }
            #expect(waited < .seconds(10))
            // The connection that waited was closed; the next write gets another and commits (with the usual
            // limit: other tests' writes queue for the same lock).
            try await PostgresHospitalStorage(client: client, logger: logger).write {
                try await $0.sessions.removeThrottleCounter(key: "nobody")
            }
        }
    }

    @Test(.timeLimit(.minutes(1))) func aConnectionEndedByTheServerUnderAStatementEndsTheAction() async throws {
        let name = "chainvault-test-" + UUID().uuidString
        try await TestPostgres.withClient(name: name) { client in
            let storage = PostgresHospitalStorage(client: client, logger: logger)
            try await holdingTheWritersLock(client) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { await expectUnavailable { try await storage.write { _ in } } }
                    // The waiting write's server process is ended (as a server shutting down ends them all); only
                    // this test's: other tests' writes wait for the same lock.
                    var ended = false
                    while !ended {
                        try await Task.sleep(for: .milliseconds(50))
                        let rows = try await client.query(
                            """
                            SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                            WHERE application_name = \(name) AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()
                            """, logger: logger
                        ).collect()
                        ended = !rows.isEmpty
                    }
                    try await group.waitForAll()
                }
            }
            try await storage.write { try await $0.sessions.removeThrottleCounter(key: "nobody") }
        }
    }
}
