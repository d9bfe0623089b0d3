import Foundation
import HospitalCore
package import HospitalPostgres
import Logging
package import PostgresNIO

/// The throwaway PostgreSQL server of `make test` (`scripts/with-postgres.sh` starts it and names it in
/// `CHAINVAULT_TEST_DATABASE_URL`). Without that variable the PostgreSQL variants of the tests do not
/// run; `make test` always sets it and fails when the server cannot start.
package enum TestPostgres {
    /// The server, when the tests have one.
    package static var url: DatabaseURL? {
        ProcessInfo.processInfo.environment["CHAINVAULT_TEST_DATABASE_URL"].flatMap { try? DatabaseURL($0) }
    }

    /// Runs `body` with a client of a fresh schema of its own (migrated), dropped afterwards: tests run
    /// side by side on one server without seeing each other's rows.
    package static func withClient<T: Sendable>(
        _ body: @escaping @Sendable (PostgresClient) async throws -> T
    ) async throws -> T {
        guard let url else { throw Unavailable() }
        let schema = "test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        var configuration = try url.configuration(password: nil)
        configuration.options.additionalStartupParameters.append(("search_path", schema))
        configuration.options.maximumConnections = 8
        let logger = Logger(label: "test.postgres")
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                await client.run()
                return nil
            }
            defer { group.cancelAll() }
            try await client.query("CREATE SCHEMA \(unescaped: schema)")
            do {
                try await PostgresSchema.migrate(client, logger: logger)
                let result = try await body(client)
                try await client.query("DROP SCHEMA \(unescaped: schema) CASCADE")
                return result
            } catch {
                try? await client.query("DROP SCHEMA \(unescaped: schema) CASCADE")
                throw error
            }
        }
    }

    /// Runs `body` with the hospital's storage on a fresh schema.
    package static func withStorage<T: Sendable>(
        _ body: @escaping @Sendable (PostgresHospitalStorage, PostgresClient) async throws -> T
    ) async throws -> T {
        try await withClient { client in
            try await body(PostgresHospitalStorage(client: client, logger: Logger(label: "test.postgres")), client)
        }
    }

    /// `CHAINVAULT_TEST_DATABASE_URL` is not set.
    package struct Unavailable: Error {}
}
