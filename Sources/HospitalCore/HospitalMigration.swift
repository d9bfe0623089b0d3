package import Transparency

/// Moves a hospital from one engine to another (`chainvault hospital migrate`): every table copied
/// row for row into an empty database, then the copy proved — the same rows in every table, the
/// ledger's entries matching its tree, and the same Merkle root and newest checkpoint as the source.
package enum HospitalMigration {
    /// What a migration copied and proved.
    package struct Copied: Sendable {
        package var rows: [(table: HospitalTable, count: Int)]
        package var entries: Int
        package var root: MerkleTree.Hash
        /// The newest checkpoint of the log, the same in both (nil: none yet).
        package var checkpoint: Checkpoint?
    }

    /// Why a migration stopped.
    package enum Refusal: Error, Equatable, CustomStringConvertible {
        case targetNotEmpty(table: HospitalTable, rows: Int)
        case countsDiffer(table: HospitalTable, source: Int, target: Int)
        case rootsDiffer(source: Int, target: Int)
        case checkpointsDiffer
        case ledger([String])

        package var description: String {
            switch self {
            case .targetNotEmpty(let table, let rows):
                "the target database is not empty (\(table.rawValue) holds \(rows) rows): migrate into a new, empty database"
            case .countsDiffer(let table, let source, let target):
                "the copy of \(table.rawValue) has \(target) rows, the source \(source)"
            case .rootsDiffer(let source, let target):
                "the copied ledger's Merkle tree (\(target) entries) is not the source's (\(source) entries)"
            case .checkpointsDiffer: "the copied checkpoint log's newest checkpoint is not the source's"
            case .ledger(let problems): "the copied ledger does not verify: \(problems.joined(separator: "; "))"
            }
        }
    }

    /// Copies every table of `source` into `target` (which must be empty), a page at a time, and proves the copy.
    /// - Parameter progress: Told each table once copied, with its rows.
    package static func copy(
        from source: (tables: any HospitalTables, storage: any HospitalStorage),
        to target: (tables: any HospitalTables, storage: any HospitalStorage),
        progress: (HospitalTable, Int) -> Void = { _, _ in }
    ) async throws -> Copied {
        for table in HospitalTable.allCases {
            let rows = try await target.tables.count(table)
            guard rows == 0 else { throw Refusal.targetNotEmpty(table: table, rows: rows) }
        }
        var copied: [(table: HospitalTable, count: Int)] = []
        for table in HospitalTable.allCases {
            var last: TableRow?
            var count = 0
            while true {
                let page = try await source.tables.rows(table, after: last, limit: 1000)
                try await target.tables.insert(page, into: table)
                count += page.count
                guard page.count == 1000 else { break }
                last = page.last
            }
            copied.append((table, count))
            progress(table, count)
        }
        try await target.tables.finishImport()
        // The proof.
        for (table, count) in copied {
            let (source, target) = (try await source.tables.count(table), try await target.tables.count(table))
            guard source == count, target == count else { throw Refusal.countsDiffer(table: table, source: source, target: target) }
        }
        let (sourceHead, sourceCheckpoint) = try await source.storage.read { transaction in
            (try await AuditTree.head(in: transaction.ledger), try await transaction.ledger.latestCheckpoint()?.note)
        }
        let (targetHead, targetCheckpoint, problems) = try await target.storage.read { transaction in
            (
                try await AuditTree.head(in: transaction.ledger), try await transaction.ledger.latestCheckpoint()?.note,
                try await AuditVerifier.walkEntries(transaction.ledger, rootsAt: []).problems
            )
        }
        guard problems.isEmpty else { throw Refusal.ledger(problems.map(\.description)) }
        guard sourceHead.size == targetHead.size, sourceHead.root == targetHead.root else {
            throw Refusal.rootsDiffer(source: sourceHead.size, target: targetHead.size)
        }
        guard sourceCheckpoint == targetCheckpoint else { throw Refusal.checkpointsDiffer }
        let checkpoint = try targetCheckpoint.map { try SignedCheckpoint(parsing: Array($0.utf8)).checkpoint }
        return Copied(rows: copied, entries: targetHead.size, root: targetHead.root, checkpoint: checkpoint)
    }
}
