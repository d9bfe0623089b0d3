import ArgumentParser
import Foundation
import HospitalCore
import HospitalPostgres
import HospitalSQLite
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle
import Settings

/// Where the hospital keeps its state: SQLite in the data root (the default), or the PostgreSQL
/// database of `--database-url`, which several instances share.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .setting(.databaseURL), help: .setting(.databaseURL))
    var databaseURL: String?

    @Option(name: .setting(.databaseCAFile), help: .setting(.databaseCAFile))
    var databaseCAFile: String?

    @Option(name: .setting(.databasePoolSize), help: .setting(.databasePoolSize))
    var databasePoolSize: Int = settings.number(.databasePoolSize)

    @Option(name: .setting(.databaseStatementTimeout), help: .setting(.databaseStatementTimeout))
    var databaseStatementTimeout: Int = settings.number(.databaseStatementTimeout)

    /// --database-url, else the environment or file; nil: SQLite.
    var resolvedURL: String? { databaseURL ?? settings.given(.databaseURL) }

    func validate() throws {
        if let text = resolvedURL {
            do {
                _ = try DatabaseURL(text)
            } catch {
                throw ValidationError("--database-url: \(error)")
            }
        }
        guard (1...500).contains(databasePoolSize) else { throw ValidationError("--database-pool-size is 1 to 500.") }
        guard (1...3600).contains(databaseStatementTimeout) else {
            throw ValidationError("--database-statement-timeout is 1 to 3600 seconds.")
        }
    }

    /// The hospital's storage: SQLite in the data root, or PostgreSQL — checked (a clear reason when it
    /// cannot be used: ``DatabaseUnavailable``), migrated once across instances, and its client, already
    /// running, as the service that closes it when the program stops.
    func storage(root: DataRoot, logger: Logger) async throws -> HospitalStorageChoice {
        let databaseLogger = Logger(label: "chainvault.database")
        guard let (client, url) = try postgresClient(logger: databaseLogger) else {
            return HospitalStorageChoice(storage: SQLiteHospitalStorage(try HospitalDatabase.open(path: root.hospitalDatabase)))
        }
        let password = try settings.secret(.databasePassword, trimming: .newlines)
        let running = Task { await client.run() }
        do {
            try await DatabaseCheck.probe(
                url, configuration: try url.connectionConfiguration(password: password, caFile: resolvedCAFile),
                timeout: .seconds(databaseStatementTimeout), logger: databaseLogger)
            try await PostgresSchema.migrate(client, logger: databaseLogger)
        } catch {
            running.cancel()
            if error is PostgresSchema.NewerSchema || error is PostgresSchema.ForeignDatabase || error is DatabaseUnavailable {
                throw error
            }
            throw DatabaseUnavailable(url: url, error: error)
        }
        logger.info("hospital database: \(url)")
        return HospitalStorageChoice(
            storage: PostgresHospitalStorage(client: client, logger: databaseLogger), service: RunningClient(running: running),
            shared: client)
    }

    var resolvedCAFile: String? { databaseCAFile ?? settings.given(.databaseCAFile) }

    /// Runs a command's `body` with the hospital's storage: SQLite in the data root (which must hold a
    /// hospital database already unless `creating`), or the PostgreSQL database, checked and migrated
    /// as `serve` does and closed afterwards. A database that cannot be used exits 75 or 78 with its reason.
    func withStorage<T: Sendable>(
        root: DataRoot, creating: Bool = false, _ body: @escaping @Sendable (any HospitalStorage) async throws -> T
    ) async throws -> T {
        guard resolvedURL != nil else {
            let path = root.hospitalDatabase
            guard creating || FileManager.default.fileExists(atPath: path) else {
                throw ValidationError("there is no hospital database at \(path): check --data (or CHAINVAULT_DATA), or --database-url.")
            }
            return try await body(SQLiteHospitalStorage(try HospitalDatabase.open(path: path)))
        }
        let choice: HospitalStorageChoice
        do {
            choice = try await storage(root: root, logger: Logger(label: "chainvault"))
        } catch let error as DatabaseUnavailable {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            throw ExitCode(75)
        } catch let error as PostgresSchema.ForeignDatabase {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            throw ExitCode(78)
        } catch let error as PostgresSchema.NewerSchema {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            throw ExitCode(78)
        }
        let closing = (choice.service as? RunningClient)?.running
        defer { closing?.cancel() }
        return try await body(choice.storage)
    }

    /// The PostgreSQL client of `--database-url` (not yet running), or nil for SQLite.
    func postgresClient(logger: Logger) throws -> (client: PostgresClient, url: DatabaseURL)? {
        guard let text = resolvedURL else { return nil }
        let url = try DatabaseURL(text)
        let password = try settings.secret(.databasePassword, trimming: .newlines)
        var configuration = try url.configuration(password: password, caFile: resolvedCAFile)
        configuration.options.maximumConnections = databasePoolSize
        Gauge(label: "chainvault_database_pool_size").record(databasePoolSize)
        // The wait for the writers' lock counts too: a stuck writer fails requests instead of piling them up.
        configuration.options.additionalStartupParameters.append(("statement_timeout", "\(databaseStatementTimeout * 1000)"))
        return (PostgresClient(configuration: configuration, backgroundLogger: logger), url)
    }
}

/// The hospital's storage as `serve` composes it.
struct HospitalStorageChoice {
    var storage: any HospitalStorage
    /// The database client's service (PostgreSQL), closed when the program stops.
    var service: (any Service)?
    /// The shared database's client: the instances' keys are checked against it.
    var shared: PostgresClient?

    init(storage: any HospitalStorage, service: (any Service)? = nil, shared: PostgresClient? = nil) {
        self.storage = storage
        self.service = service
        self.shared = shared
    }
}

/// The database client, started before the listeners (the schema is migrated first), as a service of
/// the group: when the program stops it closes the client, after the services listed after it.
struct RunningClient: Service {
    let running: Task<Void, Never>

    func run() async throws {
        try? await gracefulShutdown()
        running.cancel()
        await running.value
    }
}
