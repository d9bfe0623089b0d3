import ArgumentParser
import ChunkChain
import Foundation
import HospitalCore
import HospitalPostgres
import HospitalSQLite
import Logging
import Transparency

extension HospitalCommand {
    /// `chainvault hospital migrate --to postgres://…` (the data root's SQLite hospital into an empty
    /// PostgreSQL database) and `--from postgres://… --to sqlite:DATA_ROOT` (back): every table, the chain
    /// index and the checkpoint log, then the copy proved.
    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy the hospital between SQLite and an empty PostgreSQL database, and prove the copy.",
            discussion: """
                With the servers stopped. --to postgres://USER@HOST:PORT/DATABASE copies the data root's hospital \
                (hospital.sqlite, its chain index and checkpoint file) into an empty PostgreSQL database; --from \
                postgres://… --to sqlite:DATA_ROOT copies it back into a data root without a hospital. The copy is then \
                proved: the same rows in every table, the ledger's entries matching its Merkle tree, the same root and \
                newest checkpoint, and every report's chain indexed and whole in the buckets (keyless). The database \
                password comes from CHAINVAULT_DATABASE_PASSWORD_FILE, never the URL.
                """)

        @OptionGroup var dataRoot: DataRootOptions
        @OptionGroup var storage: ChainLocationOptions
        @OptionGroup var audit: AuditOptions

        @Option(help: "Where to: postgres://… (from the data root's SQLite), or sqlite:DATA_ROOT (from --from).")
        var to: String

        @Option(help: "Where from when it is not the data root's SQLite hospital: postgres://….")
        var from: String?

        func validate() throws {
            if from == nil {
                guard to.hasPrefix("postgres://") || to.hasPrefix("postgresql://") else {
                    throw ValidationError("--to is a postgres:// URL (or give --from postgres://… --to sqlite:DATA_ROOT).")
                }
            } else {
                guard to.hasPrefix("sqlite:"), to.count > 7 else { throw ValidationError("with --from, --to is sqlite:DATA_ROOT.") }
            }
        }

        func run() async throws {
            let logger = Logger(label: "chainvault")
            if let from {
                try await toSQLite(from: from, root: try DataRoot.create(String(to.dropFirst("sqlite:".count))), logger: logger)
            } else {
                try await toPostgres(root: try DataRoot.existing(dataRoot.data), logger: logger)
            }
        }

        /// The data root's SQLite hospital into PostgreSQL.
        func toPostgres(root: DataRoot, logger: Logger) async throws {
            guard FileManager.default.fileExists(atPath: root.hospitalDatabase) else {
                throw ValidationError("there is no hospital database at \(root.hospitalDatabase): check --data.")
            }
            let database = try HospitalDatabase.open(path: root.hospitalDatabase)
            let source = SQLiteHospitalStorage(database)
            let store = try await storage.chunkStore(root: root)
            // The ledger is checked against its checkpoints before it moves, and the checkpoint file's records
            // are in the database's log (what the notary does at every start).
            if let signer = try audit.signer(root: root) {
                do {
                    _ = try await AuditNotary(
                        signer: signer, log: audit.fileLog(root: root), storage: source, copies: store, logger: logger)
                } catch let refusal as AuditNotary.Refusal {
                    throw ValidationError("the hospital's ledger does not match its checkpoints, so it is not moved: \(refusal)")
                }
            }
            let localIndex = try ChainIndexDirectory(directory: root.chains)
            let target = try DatabaseOptions.parse(["--database-url", to])
            try await target.withChoice(root: root) { choice in
                guard let shared = choice.sharedIndex, let tables = choice.tables else { throw ValidationError("--to is not PostgreSQL") }
                let indexed = try await shared.all().count
                guard indexed == 0 else {
                    throw ValidationError(
                        "the target database is not empty (its chain index holds \(indexed) chains): migrate into a new, empty database")
                }
                let copied = try await HospitalMigration.copy(
                    from: (SQLiteHospitalTables(database), source), to: (tables, choice.storage), progress: Self.told)
                for entry in try await localIndex.all() { try await shared.put(entry) }
                try await Self.proveReports(storage: choice.storage, index: shared, store: store)
                Self.report(copied)
            }
        }

        /// A PostgreSQL hospital into a data root's SQLite file (which must not hold one yet).
        func toSQLite(from url: String, root: DataRoot, logger: Logger) async throws {
            guard !FileManager.default.fileExists(atPath: root.hospitalDatabase) else {
                throw ValidationError("\(root.hospitalDatabase) exists: migrate into a data root without a hospital.")
            }
            let log = audit.fileLog(root: root)
            guard !log.exists else { throw ValidationError("\(log.path) exists: migrate into a data root without a checkpoint file.") }
            let database = try HospitalDatabase.open(path: root.hospitalDatabase)
            let target = SQLiteHospitalStorage(database)
            let localIndex = try ChainIndexDirectory(directory: root.chains)
            guard try await localIndex.all().isEmpty else { throw ValidationError("\(root.chains) holds a chain index already.") }
            let store = try await storage.chunkStore(root: root)
            let source = try DatabaseOptions.parse(["--database-url", url])
            try await source.withChoice(root: root) { choice in
                guard let shared = choice.sharedIndex, let tables = choice.tables else { throw ValidationError("--from is not PostgreSQL") }
                let copied = try await HospitalMigration.copy(
                    from: (tables, choice.storage), to: (SQLiteHospitalTables(database), target), progress: Self.told)
                for entry in try await shared.all() { try await localIndex.put(entry) }
                // One instance alone keeps its checkpoint log in a file too: the database's records, in order.
                for checkpoint in try await AuditNotary.history(log: nil, storage: target) { try log.append(checkpoint) }
                try await Self.proveReports(storage: target, index: localIndex, store: store)
                Self.report(copied)
            }
        }

        static func told(_ table: HospitalTable, _ rows: Int) { output("copied \(table.rawValue): \(rows) rows") }

        static func report(_ copied: HospitalMigration.Copied) {
            let checkpoint = copied.checkpoint.map { "newest checkpoint \($0.size) entries" } ?? "no checkpoint yet"
            output(
                "proved: every table's rows, the ledger of \(copied.entries) entries (root \(Data(copied.root).base64EncodedString())), \(checkpoint)"
            )
        }

        /// Every report's chain is in the copied index and whole in the buckets (keyless: hashes and headers).
        static func proveReports(storage: any HospitalStorage, index: any ChainIndex, store: any ChunkStore) async throws {
            let maintenance = ChainMaintenance(store: store, index: index)
            let reports = try await Report.heads(in: storage)
            for report in reports {
                guard let head = ChunkPointer(report.head), let entry = try await index.entry(head: head) else {
                    throw ValidationError("report \(report.id): its chain \(report.head) is not in the chain index")
                }
                do {
                    _ = try await maintenance.verify(head: head, entry: entry, keyring: nil)
                } catch {
                    throw ValidationError("report \(report.id): its chain \(report.head) is not whole: \(error)")
                }
            }
            output("proved: \(reports.count) reports' chains indexed and whole")
        }
    }
}
