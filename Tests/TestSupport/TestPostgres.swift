import Foundation
package import HospitalCore
package import HospitalPostgres
import Logging
package import PostgresNIO
package import Testing

/// The throwaway PostgreSQL server of `make test` (`scripts/with-postgres.sh` starts it and names it in
/// `CHAINVAULT_TEST_DATABASE_URL`). Without that variable the PostgreSQL variants of the tests do not
/// run; `make test` always sets it and fails when the server cannot start.
package enum TestPostgres {
    /// The server, when the tests have one.
    package static var url: DatabaseURL? {
        ProcessInfo.processInfo.environment["CHAINVAULT_TEST_DATABASE_URL"].flatMap { try? DatabaseURL($0) }
    }

    /// Runs `body` with a client of a fresh schema of its own (migrated), dropped afterwards: tests run
    /// side by side on one server without seeing each other's rows. Its connections' `application_name`
    /// is `name` when given, for a test that finds them in `pg_stat_activity`.
    package static func withClient<T: Sendable>(
        migrated: Bool = true, name: String? = nil, _ body: @escaping @Sendable (PostgresClient) async throws -> T
    ) async throws -> T {
        guard let url else { throw Unavailable() }
        let schema = "test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        var configuration = try url.configuration(password: nil)
        configuration.options.additionalStartupParameters.append(("search_path", schema))
        if let name { configuration.options.additionalStartupParameters.append(("application_name", name)) }
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
                if migrated { try await PostgresSchema.migrate(client, logger: logger) }
                let result = try await body(client)
                try await client.query("DROP SCHEMA \(unescaped: schema) CASCADE")
                return result
            } catch {
                _ = try? await client.query("DROP SCHEMA \(unescaped: schema) CASCADE")
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

    /// Whether the hospital's tests run on PostgreSQL in this run: `CHAINVAULT_TEST_HOSPITAL_ENGINE=postgres`
    /// (`make unit` runs the hospital's suite a second time so). ``HospitalFixture`` then keeps its state there.
    package static var hospitalOnPostgres: Bool {
        ProcessInfo.processInfo.environment["CHAINVAULT_TEST_HOSPITAL_ENGINE"] == "postgres"
    }

    /// A storage on a fresh schema of its own, for a fixture made without `await`: the client runs from
    /// the start, and every transaction waits for the schema's migration first. The schema stays until
    /// the throwaway server goes; idle connections close after a second.
    package static func storage() -> any HospitalStorage {
        let schema = "test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let logger = Logger(label: "test.postgres")
        guard let url, var configuration = try? url.configuration(password: nil) else {
            return Deferred(setup: Task { throw Unavailable() })
        }
        configuration.options.additionalStartupParameters.append(("search_path", schema))
        configuration.options.maximumConnections = 4
        configuration.options.connectionIdleTimeout = .seconds(1)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        Task { await client.run() }
        return Deferred(
            setup: Task {
                try await client.query("CREATE SCHEMA \(unescaped: schema)")
                try await PostgresSchema.migrate(client, logger: logger)
                return PostgresHospitalStorage(client: client, logger: logger)
            })
    }

    /// A storage that waits for its set-up before each transaction.
    struct Deferred: HospitalStorage {
        let setup: Task<PostgresHospitalStorage, any Error>

        func read<T: Sendable>(_ body: @escaping @Sendable (HospitalTransaction) async throws -> T) async throws -> T {
            try await setup.value.read(body)
        }

        func write<T: Sendable>(_ body: @escaping @Sendable (HospitalTransaction) async throws -> T) async throws -> T {
            try await setup.value.write(body)
        }
    }
}

extension Trait where Self == ConditionTrait {
    /// A test that reads or edits SQLite's tables itself (``HospitalFixture/database``): it runs in the
    /// SQLite pass of the hospital's suite only.
    package static var sqliteSchema: Self {
        .disabled(if: TestPostgres.hospitalOnPostgres, "reads or edits SQLite's tables directly")
    }
}
