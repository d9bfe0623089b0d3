import Foundation
import GRDB
import HospitalCore
import Transparency

struct SQLiteLedgerStore: LedgerStore {
    let connection: SQLiteTransaction

    func newestEntry() async throws -> (id: Int64, hash: Data)? {
        try await connection.run { db in
            try Row.fetchOne(try db.cachedStatement(sql: "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")).map { ($0[0], $0[1]) }
        }
    }

    func leafNames(actor: Int64?, patient: Int64?, reportId: Int64?) async throws -> AuditEntry.Names {
        try await connection.run { db in
            let name = try db.cachedStatement(sql: "SELECT name FROM user WHERE id = ?")
            let title = try db.cachedStatement(sql: "SELECT title FROM report WHERE id = ?")
            return AuditEntry.Names(
                actor: try actor.flatMap { try String.fetchOne(name, arguments: [$0]) } ?? "",
                patient: try patient.flatMap { try String.fetchOne(name, arguments: [$0]) } ?? "",
                report: try reportId.flatMap { try String.fetchOne(title, arguments: [$0]) } ?? "")
        }
    }

    func insert(_ entry: AuditEntry, subtrees: [AuditTree.Node: MerkleTree.Hash]) async throws {
        try await connection.run { db in
            // A cached statement: GRDB's record insert builds its statement from the schema every time,
            // a quarter of an append's cost.
            try db.cachedStatement(
                sql: """
                    INSERT INTO audit (id, time, actorId, action, subject, patientId, outcome, detail, previousHash, hash, leafVersion,
                    leafActorName, leafPatientName, leafReportTitle) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(arguments: [
                entry.id, entry.time, entry.actorId, entry.action.rawValue, entry.subject, entry.patientId, entry.outcome.rawValue,
                entry.detail, entry.previousHash, entry.hash, entry.leafVersion, entry.leafActorName, entry.leafPatientName,
                entry.leafReportTitle,
            ])
            try SQLiteAuditTree.insert(subtrees, in: db)
        }
    }

    func entry(id: Int64) async throws -> AuditEntry? {
        try await connection.run { db in try AuditEntry.fetchOne(db, key: id) }
    }

    func entries(after: Int64, patientId: Int64?, limit: Int) async throws -> [AuditEntry] {
        try await connection.run { db in
            if let patientId {
                try AuditEntry.fetchAll(
                    db, sql: "SELECT * FROM audit WHERE patientId = ? AND id > ? ORDER BY id LIMIT ?", arguments: [patientId, after, limit])
            } else {
                try AuditEntry.fetchAll(db, sql: "SELECT * FROM audit WHERE id > ? ORDER BY id LIMIT ?", arguments: [after, limit])
            }
        }
    }

    func search(_ filter: AuditLedger.Filter, limit: Int) async throws -> [AuditLedger.NamedEntry] {
        let actor = "%" + SQLitePattern.escaped(filter.actor.lowercased()) + "%"
        let patient = "%" + SQLitePattern.escaped(filter.patient.lowercased()) + "%"
        return try await connection.run { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT audit.*, actor.name AS actorName, patient.name AS patientName, report.title AS reportTitle FROM audit
                    LEFT JOIN user AS actor ON actor.id = audit.actorId LEFT JOIN user AS patient ON patient.id = audit.patientId
                    LEFT JOIN report ON audit.subject = 'report:' || report.id
                    WHERE (? = '' OR lower(actor.name) LIKE ? ESCAPE '\\') AND (? = '' OR lower(patient.name) LIKE ? ESCAPE '\\')
                    AND (? IS NULL OR audit.action = ?) AND (? IS NULL OR audit.outcome = ?)
                    AND (? IS NULL OR audit.time >= ?) AND (? IS NULL OR audit.time < ?)
                    ORDER BY audit.id DESC LIMIT ?
                    """,
                arguments: [
                    filter.actor, actor, filter.patient, patient, filter.action?.rawValue, filter.action?.rawValue,
                    filter.outcome?.rawValue,
                    filter.outcome?.rawValue, filter.from, filter.from, filter.until, filter.until, limit,
                ]
            ).map { row in
                AuditLedger.NamedEntry(
                    entry: try AuditEntry(row: row), actorName: row["actorName"], patientName: row["patientName"],
                    reportTitle: row["reportTitle"])
            }
        }
    }

    func count(actorId: Int64, action: AuditAction, outcome: AuditOutcome, after time: Int64) async throws -> Int {
        try await connection.run { db in
            try Int.fetchOne(
                db, sql: "SELECT count(*) FROM audit WHERE actorId = ? AND action = ? AND outcome = ? AND time > ?",
                arguments: [actorId, action.rawValue, outcome.rawValue, time]) ?? 0
        }
    }

    func contains(action: AuditAction) async throws -> Bool {
        try await connection.run { db in
            try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM audit WHERE action = ?)", arguments: [action.rawValue]) ?? false
        }
    }

    func storedEntries(after: Int64, limit: Int) async throws -> [AuditLedger.StoredEntry] {
        try await connection.run { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT audit.*, auditTree.hash AS leaf FROM audit
                    LEFT JOIN auditTree ON auditTree.level = 0 AND auditTree.position = audit.id - 1
                    WHERE audit.id > ? ORDER BY audit.id LIMIT ?
                    """, arguments: [after, limit]
            ).map { row in
                AuditLedger.StoredEntry(
                    id: row["id"], time: row["time"], actorId: row["actorId"], action: row["action"], subject: row["subject"],
                    patientId: row["patientId"], outcome: row["outcome"], detail: row["detail"], previousHash: row["previousHash"],
                    hash: row["hash"], leafVersion: row["leafVersion"], leafActorName: row["leafActorName"],
                    leafPatientName: row["leafPatientName"], leafReportTitle: row["leafReportTitle"], storedLeaf: row["leaf"])
            }
        }
    }

    func treeSize() async throws -> Int {
        try await connection.run { db in try SQLiteAuditTree.size(in: db) }
    }

    func subtrees(_ nodes: Set<AuditTree.Node>) async throws -> [AuditTree.Node: MerkleTree.Hash] {
        try await connection.run { db in try SQLiteAuditTree.subtrees(nodes, in: db) }
    }

    func latestCheckpoint() async throws -> RecordedCheckpoint? {
        try await connection.run { db in
            try Row.fetchOne(db, sql: "SELECT id, note FROM auditCheckpoint ORDER BY id DESC LIMIT 1").map {
                RecordedCheckpoint(number: $0[0], note: $0[1])
            }
        }
    }

    func recordCheckpoint(_ note: String, size: Int, isStatement: Bool) async throws {
        try await connection.run { db in
            try db.execute(
                sql: "INSERT INTO auditCheckpoint (size, note, isStatement) VALUES (?, ?, ?)", arguments: [size, note, isStatement])
        }
    }

    func checkpoints(after: Int64, statementsOnly: Bool, limit: Int) async throws -> [RecordedCheckpoint] {
        try await connection.run { db in
            try Row.fetchAll(
                db, sql: "SELECT id, note FROM auditCheckpoint WHERE id > ? AND (isStatement OR NOT ?) ORDER BY id LIMIT ?",
                arguments: [after, statementsOnly, limit]
            ).map { RecordedCheckpoint(number: $0[0], note: $0[1]) }
        }
    }

    func containsCheckpoint(_ note: String, size: Int) async throws -> Bool {
        try await connection.run { db in
            try Bool.fetchOne(
                db, sql: "SELECT EXISTS (SELECT 1 FROM auditCheckpoint WHERE size = ? AND note = ?)", arguments: [size, note]) ?? false
        }
    }
}

/// The audit tree's table (``AuditTree``): row `(level, position)` is a perfect subtree's hash.
/// Statements are cached: compiling one costs more than running it.
enum SQLiteAuditTree {
    static func createTable(in db: Database) throws {
        try db.create(table: "auditTree", options: .withoutRowID) { table in
            table.column("level", .integer).notNull()
            table.column("position", .integer).notNull()
            table.column("hash", .blob).notNull()
            table.primaryKey(["level", "position"])
        }
    }

    static func size(in db: Database) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT MAX(position) + 1 FROM auditTree WHERE level = 0") ?? 0
    }

    static func subtrees(_ nodes: Set<AuditTree.Node>, in db: Database) throws -> [AuditTree.Node: MerkleTree.Hash] {
        let select = try db.cachedStatement(sql: "SELECT hash FROM auditTree WHERE level = ? AND position = ?")
        var found: [AuditTree.Node: MerkleTree.Hash] = [:]
        for node in nodes {
            if let data = try Data.fetchOne(select, arguments: [node.level, node.position]) { found[node] = Array(data) }
        }
        return found
    }

    static func insert(_ nodes: [AuditTree.Node: MerkleTree.Hash], in db: Database) throws {
        let insert = try db.cachedStatement(sql: "INSERT INTO auditTree (level, position, hash) VALUES (?, ?, ?)")
        for (node, hash) in nodes { try insert.execute(arguments: [node.level, node.position, Data(hash)]) }
    }

    /// Builds the tree of a ledger kept before there was one (migration v7): every entry becomes a leaf, in id order.
    static func takeOver(in db: Database) throws {
        let cursor = try AuditEntry.fetchCursor(db, sql: "SELECT * FROM audit ORDER BY id")
        var index = 0
        while let entry = try cursor.next() {
            let siblings = try subtrees(Set(AuditTree.siblings(ofLeaf: index)), in: db)
            try insert(try AuditTree.nodes(appending: entry.leafHash, at: index, siblings: siblings), in: db)
            index += 1
        }
    }
}
