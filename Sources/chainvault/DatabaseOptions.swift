import ArgumentParser
import ChunkChain
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
        guard let text = resolvedURL else {
            return HospitalStorageChoice(storage: SQLiteHospitalStorage(try HospitalDatabase.open(path: root.hospitalDatabase)))
        }
        let databaseLogger = Logger(label: "chainvault.database")
        let url = try DatabaseURL(text)
        let password = try settings.secret(.databasePassword, trimming: .newlines)
        var configuration = try url.configuration(password: password, caFile: resolvedCAFile)
        configuration.options.maximumConnections = databasePoolSize
        Gauge(label: "chainvault_database_pool_size").record(databasePoolSize)
        // The wait for the writers' lock counts too: a stuck writer fails requests instead of piling them up.
        configuration.options.additionalStartupParameters.append(("statement_timeout", "\(databaseStatementTimeout * 1000)"))
        let client = PostgresClient(configuration: configuration, backgroundLogger: databaseLogger)
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
        let leadership = PostgresLeadership(
            configuration: try url.connectionConfiguration(password: password, caFile: resolvedCAFile), logger: databaseLogger)
        let storage = PostgresHospitalStorage(
            client: client, logger: databaseLogger, answerTimeout: .seconds(databaseStatementTimeout + 15))
        return HospitalStorageChoice(
            storage: storage, database: RunningClient(client: client, running: running, leadership: leadership),
            sharedIndex: PostgresChainIndex(storage: storage), tables: PostgresHospitalTables(storage: storage))
    }

    /// Runs `work`, turning a database that cannot be used into the reason on standard error and the
    /// exit status: 75 (`EX_TEMPFAIL`, it may pass: a supervisor tries again) when it cannot be reached,
    /// 78 (`EX_CONFIG`) for another application's database, a newer schema or keys that differ.
    static func exitingWhenRefused<T>(_ work: () async throws -> T) async throws -> T {
        do {
            return try await work()
        } catch let error as DatabaseUnavailable {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            throw ExitCode(75)
        } catch let error
            where error is PostgresSchema.ForeignDatabase || error is PostgresSchema.NewerSchema
            || error is PostgresSchema.KeyMismatch
        {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            throw ExitCode(78)
        }
    }

    var resolvedCAFile: String? { databaseCAFile ?? settings.given(.databaseCAFile) }

    /// Runs a command's `body` with the hospital's storage: SQLite in the data root (which must hold a
    /// hospital database already unless `creating`), or the PostgreSQL database, checked and migrated
    /// as `serve` does and closed afterwards. A database that cannot be used exits 75 or 78 with its reason.
    func withStorage<T: Sendable>(
        root: DataRoot, creating: Bool = false, _ body: @escaping @Sendable (any HospitalStorage) async throws -> T
    ) async throws -> T {
        if !creating { try requireHospital(root: root) }
        return try await withChoice(root: root) { try await body($0.storage) }
    }

    /// Refuses a data root without a hospital database when no shared database is named.
    func requireHospital(root: DataRoot) throws {
        let path = root.hospitalDatabase
        guard resolvedURL != nil || FileManager.default.fileExists(atPath: path) else {
            throw ValidationError("there is no hospital database at \(path): check --data (or CHAINVAULT_DATA), or --database-url.")
        }
    }

    /// Runs `body` with the storage choice: SQLite in the data root (made when missing), or the
    /// PostgreSQL database with its chain index, closed afterwards.
    func withChoice<T: Sendable>(root: DataRoot, _ body: @escaping @Sendable (HospitalStorageChoice) async throws -> T) async throws -> T {
        let choice = try await Self.exitingWhenRefused { try await storage(root: root, logger: Logger(label: "chainvault")) }
        defer { choice.database?.running.cancel() }
        return try await body(choice)
    }

}

/// The hospital's storage as `serve` composes it.
struct HospitalStorageChoice: Sendable {
    var storage: any HospitalStorage
    /// The shared database's running client (PostgreSQL): the service that closes it when the program
    /// stops, and what the instances' keys are checked against.
    var database: RunningClient?

    /// The chain index the instances share (in the database); nil: the data root's.
    var sharedIndex: (any ChainIndex)?

    /// The database's tables as plain rows (`hospital migrate`); nil for SQLite, which the command opens itself.
    var tables: (any HospitalTables)?

    init(
        storage: any HospitalStorage, database: RunningClient? = nil, sharedIndex: (any ChainIndex)? = nil,
        tables: (any HospitalTables)? = nil
    ) {
        self.storage = storage
        self.database = database
        self.sharedIndex = sharedIndex
        self.tables = tables
    }

    /// The chains' index: the shared database's, or the data root's directory.
    func chainIndex(root: DataRoot) throws -> any ChainIndex {
        try sharedIndex ?? ChainIndexDirectory(directory: root.chains)
    }

    /// Which instance does the work one instance at a time does.
    var leadership: any Leadership { database?.leadership ?? SoleInstance() }
}

/// The database client, started before the listeners (the schema is migrated first), as a service of
/// the group: when the program stops it closes the client, after the services listed after it.
struct RunningClient: Service {
    let client: PostgresClient
    let running: Task<Void, Never>
    /// The roles this instance holds among those sharing the database, given up when it stops.
    let leadership: PostgresLeadership

    func run() async throws {
        try? await gracefulShutdown()
        await leadership.close()
        running.cancel()
        await running.value
    }
}
