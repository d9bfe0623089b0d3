import Foundation
import Logging
import PostgresNIO
import TestSupport
import Testing

@testable import HospitalCore
@testable import HospitalPostgres

/// One instance at a time holds each role among those sharing a database; another takes it when the
/// holder stops or its session dies.
@Suite(.enabled(if: TestPostgres.url != nil, "needs CHAINVAULT_TEST_DATABASE_URL (make unit starts a server)"), .serialized)
struct PostgresLeadershipTests {
    let logger = Logger(label: "test.postgres")

    func instance() throws -> PostgresLeadership {
        PostgresLeadership(configuration: try #require(TestPostgres.url).connectionConfiguration(password: nil), logger: logger)
    }

    @Test func oneInstanceHoldsARoleAndAnotherTakesItWhenItStops() async throws {
        let (one, two) = (try instance(), try instance())
        #expect(await one.holds(.checkpointPublisher))
        #expect(await one.holds(.checkpointPublisher))
        #expect(await !two.holds(.checkpointPublisher))
        #expect(await two.holds(.reportVerifier))
        await one.close()
        #expect(await two.holds(.checkpointPublisher))
        #expect(await !one.holds(.checkpointPublisher))
        await two.close()
    }

    /// The publisher's and the verifier's looks at once, on an instance not yet connected: one session for both.
    @Test func twoRolesLookedForAtOnceShareOneSession() async throws {
        let one = try instance()
        async let publisher = one.holds(.checkpointPublisher)
        async let verifier = one.holds(.reportVerifier)
        let (holdsPublisher, holdsVerifier) = await (publisher, verifier)
        #expect(holdsPublisher && holdsVerifier)
        await one.close()
    }

    /// The holder's session is killed (its instance died, or the server dropped it): the role is free for
    /// another instance, and the old holder knows at its next look that it no longer holds it.
    @Test func aRoleIsFreedWhenItsHoldersSessionDies() async throws {
        let (one, two) = (try instance(), try instance())
        #expect(await one.holds(.checkpointPublisher))
        let key = PostgresLeadership.lockKey(.checkpointPublisher)
        try await TestPostgres.withClient(migrated: false) { client in
            let rows = try await client.query(
                """
                SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted
                AND classid = \(key >> 32)::oid AND objid = \(key & 0xFFFF_FFFF)::oid AND objsubid = 1
                """
            ).collect()
            #expect(rows.count == 1)
        }
        try await Task.sleep(for: .milliseconds(200))
        #expect(await two.holds(.checkpointPublisher))
        #expect(await !one.holds(.checkpointPublisher))
        await one.close()
        await two.close()
    }
}
