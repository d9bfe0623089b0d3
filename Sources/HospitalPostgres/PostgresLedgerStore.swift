import Foundation
import HospitalCore
import NIOCore
import PostgresNIO
import Transparency

/// The ledger on PostgreSQL. Appends from every instance serialize on `audit_head`, one row that a
/// write transaction locks when it reads the newest entry (``newestEntry()``) and moves when it
/// inserts the next: the entries get one order and no gaps, and the Merkle tree one shape, whichever
/// instance appends.
struct PostgresLedgerStore: LedgerStore {
    let connection: PostgresTransaction

    func newestEntry() async throws -> (id: Int64, hash: Data)? {
        let lock = connection.writes ? " FOR UPDATE" : ""
        guard let row = try await connection.rows("SELECT id, hash FROM audit_head\(unescaped: lock)").first else { return nil }
        let (id, hash) = try row.decode((Int64, Data?).self)
        guard id > 0, let hash else { return nil }
        return (id: id, hash: hash)
    }

    func leafNames(actor: Int64?, patient: Int64?, reportId: Int64?) async throws -> AuditEntry.Names {
        guard
            let row = try await connection.rows(
                """
                SELECT (SELECT name FROM users WHERE id = \(actor)), (SELECT name FROM users WHERE id = \(patient)),
                (SELECT title FROM reports WHERE id = \(reportId))
                """
            ).first
        else { return AuditEntry.Names(actor: "", patient: "", report: "") }
        let (actorName, patientName, title) = try row.decode((String?, String?, String?).self)
        return AuditEntry.Names(actor: actorName ?? "", patient: patientName ?? "", report: title ?? "")
    }

    func insert(_ entry: AuditEntry, subtrees: [AuditTree.Node: MerkleTree.Hash]) async throws {
        try await connection.execute(try PostgresRowEncoder.insert(into: "audit", entry))
        if !subtrees.isEmpty {
            let nodes = Array(subtrees)
            try await connection.execute(
                """
                INSERT INTO audit_tree (level, position, hash)
                SELECT * FROM unnest(\(nodes.map { Int64($0.key.level) })::bigint[], \(nodes.map { Int64($0.key.position) })::bigint[],
                \(nodes.map { ByteBuffer(bytes: $0.value) })::bytea[])
                """)
        }
        try await connection.execute("UPDATE audit_head SET id = \(entry.id), hash = \(entry.hash)")
    }

    func entry(id: Int64) async throws -> AuditEntry? {
        try await connection.record(AuditEntry.self, "SELECT * FROM audit WHERE id = \(id)")
    }

    func entries(after: Int64, patientId: Int64?, limit: Int) async throws -> [AuditEntry] {
        if let patientId {
            try await connection.records(
                AuditEntry.self, "SELECT * FROM audit WHERE patient_id = \(patientId) AND id > \(after) ORDER BY id LIMIT \(limit)")
        } else {
            try await connection.records(AuditEntry.self, "SELECT * FROM audit WHERE id > \(after) ORDER BY id LIMIT \(limit)")
        }
    }

    func search(_ filter: AuditLedger.Filter, limit: Int) async throws -> [AuditLedger.NamedEntry] {
        let actor = PostgresPattern.containing(filter.actor.lowercased())
        let patient = PostgresPattern.containing(filter.patient.lowercased())
        return try await connection.rows(
            """
            SELECT audit.*, actor.name AS actor_name, patient.name AS patient_name, reports.title AS report_title FROM audit
            LEFT JOIN users AS actor ON actor.id = audit.actor_id LEFT JOIN users AS patient ON patient.id = audit.patient_id
            LEFT JOIN reports ON audit.subject = 'report:' || reports.id
            WHERE (\(filter.actor) = '' OR lower(actor.name) LIKE \(actor) ESCAPE '\\')
            AND (\(filter.patient) = '' OR lower(patient.name) LIKE \(patient) ESCAPE '\\')
            AND (\(filter.action?.rawValue)::text IS NULL OR audit.action = \(filter.action?.rawValue))
            AND (\(filter.outcome?.rawValue)::text IS NULL OR audit.outcome = \(filter.outcome?.rawValue))
            AND (\(filter.from)::bigint IS NULL OR audit.time >= \(filter.from))
            AND (\(filter.until)::bigint IS NULL OR audit.time < \(filter.until))
            ORDER BY audit.id DESC LIMIT \(limit)
            """
        ).map { row in
            let names = row.makeRandomAccess()
            return AuditLedger.NamedEntry(
                entry: try PostgresRowDecoder.decode(AuditEntry.self, from: row), actorName: try names["actor_name"].decode(String?.self),
                patientName: try names["patient_name"].decode(String?.self), reportTitle: try names["report_title"].decode(String?.self))
        }
    }

    func count(actorId: Int64, action: AuditAction, outcome: AuditOutcome, after time: Int64) async throws -> Int {
        try await connection.value(
            Int.self,
            """
            SELECT count(*) FROM audit WHERE actor_id = \(actorId) AND action = \(action.rawValue)
            AND outcome = \(outcome.rawValue) AND time > \(time)
            """) ?? 0
    }

    func contains(action: AuditAction) async throws -> Bool {
        try await connection.value(Bool.self, "SELECT EXISTS (SELECT 1 FROM audit WHERE action = \(action.rawValue))") ?? false
    }

    func storedEntries(after: Int64, limit: Int) async throws -> [AuditLedger.StoredEntry] {
        try await connection.rows(
            """
            SELECT audit.id, audit.time, audit.actor_id, audit.action, audit.subject, audit.patient_id, audit.outcome, audit.detail,
            audit.previous_hash, audit.hash, audit.leaf_version, audit.leaf_actor_name, audit.leaf_patient_name,
            audit.leaf_report_title, audit_tree.hash AS leaf FROM audit
            LEFT JOIN audit_tree ON audit_tree.level = 0 AND audit_tree.position = audit.id - 1
            WHERE audit.id > \(after) ORDER BY audit.id LIMIT \(limit)
            """
        ).map { row in
            let (id, time, actorId, action, subject, patientId, outcome, detail, previousHash, hash, leafVersion) = try row.decode(
                (Int64, Int64, Int64?, String, String, Int64?, String, String, Data, Data, Int).self)
            let names = row.makeRandomAccess()
            return AuditLedger.StoredEntry(
                id: id, time: time, actorId: actorId, action: action, subject: subject, patientId: patientId, outcome: outcome,
                detail: detail, previousHash: previousHash, hash: hash, leafVersion: leafVersion,
                leafActorName: try names["leaf_actor_name"].decode(String?.self),
                leafPatientName: try names["leaf_patient_name"].decode(String?.self),
                leafReportTitle: try names["leaf_report_title"].decode(String?.self), storedLeaf: try names["leaf"].decode(Data?.self))
        }
    }

    func treeSize() async throws -> Int {
        try await connection.value(Int.self, "SELECT max(position) + 1 FROM audit_tree WHERE level = 0") ?? 0
    }

    func subtrees(_ nodes: Set<AuditTree.Node>) async throws -> [AuditTree.Node: MerkleTree.Hash] {
        guard !nodes.isEmpty else { return [:] }
        let list = Array(nodes)
        var found: [AuditTree.Node: MerkleTree.Hash] = [:]
        for row in try await connection.rows(
            """
            SELECT audit_tree.level, audit_tree.position, audit_tree.hash FROM audit_tree
            JOIN unnest(\(list.map { Int64($0.level) })::bigint[], \(list.map { Int64($0.position) })::bigint[]) AS wanted (level, position)
            ON audit_tree.level = wanted.level AND audit_tree.position = wanted.position
            """)
        {
            let (level, position, hash) = try row.decode((Int64, Int64, Data).self)
            found[AuditTree.Node(level: Int(level), position: Int(position))] = Array(hash)
        }
        return found
    }

    func latestCheckpoint() async throws -> RecordedCheckpoint? {
        try await connection.rows("SELECT id, note FROM audit_checkpoints ORDER BY id DESC LIMIT 1").first.map {
            let (number, note) = try $0.decode((Int64, String).self)
            return RecordedCheckpoint(number: number, note: note)
        }
    }

    func recordCheckpoint(_ note: String, size: Int, isStatement: Bool) async throws {
        try await connection.execute("INSERT INTO audit_checkpoints (size, note, is_statement) VALUES (\(size), \(note), \(isStatement))")
    }

    func checkpoints(after: Int64, statementsOnly: Bool, limit: Int) async throws -> [RecordedCheckpoint] {
        try await connection.rows(
            """
            SELECT id, note FROM audit_checkpoints WHERE id > \(after) AND (is_statement OR NOT \(statementsOnly))
            ORDER BY id LIMIT \(limit)
            """
        ).map {
            let (number, note) = try $0.decode((Int64, String).self)
            return RecordedCheckpoint(number: number, note: note)
        }
    }

    func containsCheckpoint(_ note: String, size: Int) async throws -> Bool {
        try await connection.value(
            Bool.self, "SELECT EXISTS (SELECT 1 FROM audit_checkpoints WHERE size = \(size) AND note = \(note))") ?? false
    }
}
