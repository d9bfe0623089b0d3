import Foundation
import Logging
import PostgresNIO
import TestSupport
import Testing

@testable import HospitalPostgres

/// The PostgreSQL schema's migrations: once across instances that start together, a newer version's
/// additive migrations tolerated and its breaking ones refused, another application's tables left alone.
@Suite(.enabled(if: TestPostgres.url != nil, "needs CHAINVAULT_TEST_DATABASE_URL (make unit starts a server)"))
struct PostgresSchemaTests {
    let logger = Logger(label: "test.postgres")

    @Test func instancesStartingTogetherMigrateOnce() async throws {
        try await TestPostgres.withClient(migrated: false) { client in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 { group.addTask { try await PostgresSchema.migrate(client, logger: Logger(label: "test")) } }
                try await group.waitForAll()
            }
            let applied = try await client.query("SELECT id FROM chainvault_migrations ORDER BY id").collect().map {
                try $0.decode(String.self)
            }
            #expect(applied == PostgresSchema.migrations.map(\.id).sorted())
        }
    }

    @Test func aNewerVersionsAdditiveMigrationIsToleratedAndABreakingOneRefused() async throws {
        try await TestPostgres.withClient { client in
            try await client.query("INSERT INTO chainvault_migrations (id, breaks_older) VALUES ('v99-additive', false)")
            try await PostgresSchema.migrate(client, logger: logger)
            try await client.query("INSERT INTO chainvault_migrations (id, breaks_older) VALUES ('v100-breaking', true)")
            await #expect(throws: PostgresSchema.NewerSchema(migrations: ["v100-breaking"])) {
                try await PostgresSchema.migrate(client, logger: logger)
            }
        }
    }

    @Test func anotherApplicationsDatabaseIsNotWrittenInto() async throws {
        try await TestPostgres.withClient(migrated: false) { client in
            try await client.query("CREATE TABLE orders (id int)")
            await #expect(throws: PostgresSchema.ForeignDatabase.self) { try await PostgresSchema.migrate(client, logger: logger) }
            let tables = try await client.query(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'users'"
            ).collect()
            #expect(try tables.first?.decode(Int.self) == 0)
        }
    }
}
