import Foundation
import GRDB
import Transparency

// Transitional: the sync GRDB paths of services not yet moved onto HospitalStorage. Removed once all are.
extension AuditLedger {
    static func append(_ event: Event, time: Int64, in db: Database) throws {
        _ = try appendEntry(event, time: time, in: db)
    }

    static func appendEntry(_ event: Event, time: Int64, in db: Database) throws -> Int64 {
        let last = try Row.fetchOne(try db.cachedStatement(sql: "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1"))
        let id: Int64 = (last?[0] ?? 0) + 1
        let previous: Data = last?[1] ?? genesis
        func name(of user: Int64?) throws -> String {
            guard let user else { return "" }
            return try String.fetchOne(try db.cachedStatement(sql: "SELECT name FROM user WHERE id = ?"), arguments: [user]) ?? ""
        }
        var title = ""
        if event.subject.hasPrefix("report:"), let report = Int64(event.subject.dropFirst("report:".count)) {
            title = try String.fetchOne(try db.cachedStatement(sql: "SELECT title FROM report WHERE id = ?"), arguments: [report]) ?? ""
        }
        var entry = AuditEntry(
            id: id, time: time, actorId: event.actorId, action: event.action, subject: event.subject, patientId: event.patientId,
            outcome: event.outcome, detail: event.detail, previousHash: previous, hash: Data(), leafVersion: 2,
            leafActorName: try name(of: event.actorId), leafPatientName: try name(of: event.patientId), leafReportTitle: title)
        entry.hash = AuditEntry.digest(previous: previous, fields: entry.canonicalFields)
        try entry.insert(db)
        let siblings = try SQLiteAuditTree.subtrees(Set(AuditTree.siblings(ofLeaf: Int(id - 1))), in: db)
        try SQLiteAuditTree.insert(try AuditTree.nodes(appending: entry.leafHash, at: Int(id - 1), siblings: siblings), in: db)
        return id
    }
}
