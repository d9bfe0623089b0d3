import ChunkChain
import Foundation
import GRDB
import Hex
import NIOCore

/// A report's row: who it is about, who wrote it, and where its chain starts. The bytes are only in
/// the chain.
public struct Report: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public var id: Int64?
    public var patientId: Int64
    public var doctorId: Int64
    /// The completed checkup it reports on.
    public var slotId: Int64
    public var title: String
    public var contentType: String
    public var size: Int64
    /// Lowercase hex SHA-256 of the report's bytes.
    public var sha256: String
    /// The chain's head pointer, `A:<hex>` or `B:<hex>`.
    public var head: String
    public var createdAt: Int64
    /// When the chain was last verified intact (at upload, then by `chain verify --all`).
    public var verifiedAt: Int64?
    /// When a verification last found the chain damaged or missing; nil once it verifies again.
    public var damagedAt: Int64?

    public static let databaseTableName = "report"

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// A report with the names of its patient and author, as lists show it.
public struct ReportListing: Sendable, Equatable, FetchableRecord {
    public var report: Report
    public var patientName: String
    public var doctorName: String

    public init(row: Row) throws {
        report = try Report(row: row)
        patientName = row["patientName"]
        doctorName = row["doctorName"]
    }

    static let select = """
        SELECT report.*, patient.name AS patientName, doctor.name AS doctorName FROM report
        JOIN user AS patient ON patient.id = report.patientId JOIN user AS doctor ON doctor.id = report.doctorId
        """

    static func fetch(_ id: Int64, in db: Database) throws -> ReportListing? {
        try fetchOne(db, sql: select + " WHERE report.id = ?", arguments: [id])
    }
}

extension Report {
    /// Records what a verification of chains found, by head pointer: intact chains get `verifiedAt`,
    /// damaged or missing ones `damagedAt`. Heads no report has are ignored.
    public static func recordVerification(_ results: [String: Bool], at time: Int64, in database: HospitalDatabase) async throws {
        try await database.write { db in
            for (head, intact) in results {
                if intact {
                    try db.execute(sql: "UPDATE report SET verifiedAt = ?, damagedAt = NULL WHERE head = ?", arguments: [time, head])
                } else {
                    try db.execute(sql: "UPDATE report SET damagedAt = ? WHERE head = ?", arguments: [time, head])
                }
            }
        }
    }

    /// Every report's id and head pointer, in id order: what `chain verify --all` and `audit verify`
    /// check against the chains, so that a chain deleted together with its index record is found.
    public static func heads(in database: HospitalDatabase) async throws -> [(id: Int64, head: String)] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT id, head FROM report ORDER BY id").map { (id: $0["id"], head: $0["head"]) }
        }
    }
}

/// Reports: doctors upload them after a completed checkup, patients and their authors read them, other
/// doctors only under a grant from the patient (``Consent``). Every upload, download and refusal is audited.
public struct Reports: Sendable {
    let database: HospitalDatabase
    let vault: ReportVault
    let clock: @Sendable () -> Int64
    /// The e-mail telling a patient that a report was added.
    let notices: Notices
    /// The largest report accepted, in bytes.
    public let maxSize: Int64

    /// The default size limit: 1 GiB.
    public static let defaultMaxSize: Int64 = 1 << 30

    public init(
        database: HospitalDatabase, vault: ReportVault, maxSize: Int64 = defaultMaxSize, clock: @escaping @Sendable () -> Int64,
        notices: Notices = .init()
    ) {
        self.notices = notices
        self.database = database
        self.vault = vault
        self.maxSize = maxSize
        self.clock = clock
    }

    /// What a doctor sends with the bytes.
    public struct Upload: Sendable {
        public var patientId: Int64
        public var title: String
        public var contentType: String
        /// The Content-Length, when the client sent one: refused before reading beyond the limit.
        public var declaredLength: Int64?

        public init(patientId: Int64, title: String, contentType: String?, declaredLength: Int64?) {
            self.patientId = patientId
            self.title = title
            self.contentType = contentType ?? "application/octet-stream"
            self.declaredLength = declaredLength
        }
    }

    /// Stores a report: checks that the doctor completed a checkup with the patient, writes the body as a
    /// chain (streamed through an encrypted spool file), then records the row and its ledger entry together.
    /// - Throws: `invalid_field` (title, contentType), `no_completed_checkup` (also for an unknown patient),
    ///   413 `too_large`, 507 `insufficient_storage`.
    public func upload<Body: AsyncSequence>(_ upload: Upload, body: Body, by doctor: Identity) async throws -> ReportListing
    where Body.Element == ByteBuffer {
        let title = try Validation.title(upload.title)
        let contentType = try Validation.contentType(upload.contentType)
        if let declared = upload.declaredLength, declared > maxSize { throw Self.tooLarge(maxSize) }
        let slotId = try await database.read { db in
            try Int64.fetchOne(
                db,
                sql: "SELECT id FROM slot WHERE doctorId = ? AND patientId = ? AND status = 'completed' ORDER BY startsAt DESC LIMIT 1",
                arguments: [doctor.userId, upload.patientId])
        }
        guard let slotId else {
            throw HospitalError(
                .noCompletedCheckup, "You upload reports for patients whose checkup with you is marked completed.", field: "patientId")
        }
        let head: ChainHead
        do {
            head = try await vault.write(body, limit: maxSize)
        } catch SpoolError.tooLarge {
            throw Self.tooLarge(maxSize)
        } catch let error as ChainError {
            // Nothing is kept: the spool file is gone and the chunks written so far no chain reaches
            // (`chain orphans --delete` removes them).
            throw HospitalError(error)
        }
        let now = clock()
        return try await database.write { db in
            var report = Report(
                patientId: upload.patientId, doctorId: doctor.userId, slotId: slotId, title: title, contentType: contentType,
                size: head.length, sha256: Hex.encode(head.sha256), head: head.pointer.description, createdAt: now, verifiedAt: now)
            try report.insert(db)
            let entry = try AuditLedger.appendEntry(
                .init(
                    actor: doctor.userId, .upload, subject: "report:\(report.id!)", patient: upload.patientId,
                    detail: "\(head.length) bytes"),
                time: now, in: db)
            try notices.queue(
                .newReport, to: upload.patientId, values: ["doctor": doctor.name], path: "/reports", auditEntry: entry, now: now, in: db)
            return try ReportListing.fetch(report.id!, in: db)!
        }
    }

    static func tooLarge(_ limit: Int64) -> HospitalError {
        HospitalError(.tooLarge, "A report has at most \(limit) bytes.")
    }

    /// The reports the caller may read: a patient's own, a doctor's own and those granted to them.
    public func list(for identity: Identity) async throws -> [ReportListing] {
        let now = clock()
        return try await database.read { db in try Self.list(for: identity, now: now, in: db) }
    }

    /// The reports `identity` may read, newest first (statements cached: pages list them on every load).
    static func list(for identity: Identity, now: Int64, in db: Database) throws -> [ReportListing] {
        switch identity.role {
        case .patient:
            return try ReportListing.fetchAll(
                db,
                SQLRequest(
                    sql: ReportListing.select + " WHERE report.patientId = ? ORDER BY report.id DESC LIMIT \(Page.size)",
                    arguments: [identity.userId], cached: true))
        case .doctor:
            return try ReportListing.fetchAll(
                db,
                SQLRequest(
                    sql: ReportListing.select + """
                          WHERE report.doctorId = ? OR report.id IN
                        (SELECT reportId FROM "grant" WHERE doctorId = ? AND revokedAt IS NULL AND expiresAt > ?)
                        OR report.id IN (SELECT reportId FROM emergencyAccess WHERE doctorId = ? AND expiresAt > ?)
                        ORDER BY report.id DESC LIMIT \(Page.size)
                        """, arguments: [identity.userId, identity.userId, now, identity.userId, now], cached: true))
        case .admin:
            return []
        }
    }

    /// One report's row, for a caller who may read it.
    /// - Throws: `not_found` for a report that does not exist or is another patient's; `consent_required`
    ///   (403) for a doctor without a grant — doctors learn that the report exists, so that they can ask.
    public func report(_ id: Int64, for identity: Identity) async throws -> ReportListing {
        let now = clock()
        let decision = try await database.read { db in try Self.decide(id, for: identity, now: now, in: db) }
        switch decision {
        case .allowed(let listing): return listing
        case .refused(let error, _): throw error
        }
    }

    /// Opens a report for download: checks access and writes the ledger entry (a refusal too), then
    /// returns the row; the bytes follow from ``read(_:consume:)``.
    public func openForDownload(_ id: Int64, by identity: Identity) async throws -> ReportListing {
        let now = clock()
        let decision = try await database.write { db in
            let decision = try Self.decide(id, for: identity, now: now, in: db)
            switch decision {
            case .allowed(let listing):
                // A download under an emergency access says so (the patient and the admins' review see it).
                let granted = try Self.granted(id, doctor: identity.userId, now: now, in: db)
                let emergency = identity.role == .doctor && listing.report.doctorId != identity.userId && !granted
                try AuditLedger.append(
                    .init(
                        actor: identity.userId, .download, subject: "report:\(id)", patient: listing.report.patientId,
                        detail: emergency ? "emergency access" : ""), time: now, in: db)
            case .refused(let error, let patientId?):
                try AuditLedger.append(
                    .init(
                        actor: identity.userId, .download, subject: "report:\(id)", patient: patientId, outcome: .denied,
                        detail: error.code.rawValue), time: now, in: db)
            case .refused(let error, nil):
                // Recorded as a refusal of an existing report is: the same work, so the time of the answer
                // does not tell whether the report exists.
                try AuditLedger.append(
                    .init(actor: identity.userId, .download, subject: "report:\(id)", outcome: .denied, detail: error.code.rawValue),
                    time: now, in: db)
            }
            return decision
        }
        switch decision {
        case .allowed(let listing): return listing
        case .refused(let error, _): throw error
        }
    }

    /// Checks that the report's chain can be read at all (its head chunk is there and intact), so that a
    /// download whose chain is gone answers an error status instead of a 200 that ends early. A failure
    /// is recorded in the ledger.
    /// - Throws: ``HospitalError`` `report_unavailable` (500).
    public func checkReadable(_ report: Report, by identity: Identity) async throws {
        do {
            guard let head = ChunkPointer(report.head) else { throw ChainError.malformedChunk(index: 0, reason: "bad head pointer") }
            try await vault.checkHead(head)
        } catch {
            await recordFailedDownload(report, by: identity, reason: "\(error)")
            throw HospitalError.reportUnavailable
        }
    }

    /// Streams a report's bytes, each piece only after its chunk authenticated.
    public func read(_ report: Report, consume: (Data) async throws -> Void) async throws {
        guard let head = ChunkPointer(report.head) else { throw HospitalError.internalError }
        try await vault.read(head: head, consume: consume)
    }

    /// Records that a download the ledger saw start did not finish.
    public func recordFailedDownload(_ report: Report, by identity: Identity, reason: String) async {
        let now = clock()
        _ = try? await database.write { db in
            try AuditLedger.append(
                .init(
                    actor: identity.userId, .download, subject: "report:\(report.id ?? 0)", patient: report.patientId, outcome: .failed,
                    detail: reason), time: now, in: db)
        }
    }

    enum Decision {
        case allowed(ReportListing)
        /// The error to answer, and the patient whose report it is when it exists (for the ledger).
        case refused(HospitalError, patientId: Int64?)
    }

    /// Whether `doctor` holds an unexpired, unrevoked grant to the report.
    static func granted(_ id: Int64, doctor: Int64, now: Int64, in db: Database) throws -> Bool {
        try Bool.fetchOne(
            db,
            sql: """
                SELECT EXISTS (SELECT 1 FROM "grant" WHERE reportId = ? AND doctorId = ? AND revokedAt IS NULL AND expiresAt > ?)
                """, arguments: [id, doctor, now]) ?? false
    }

    /// Whether `doctor` holds a grant to the report or an emergency access that has not expired.
    static func grantedOrEmergency(_ id: Int64, doctor: Int64, now: Int64, in db: Database) throws -> Bool {
        if try granted(id, doctor: doctor, now: now, in: db) { return true }
        return try Bool.fetchOne(
            db, sql: "SELECT EXISTS (SELECT 1 FROM emergencyAccess WHERE reportId = ? AND doctorId = ? AND expiresAt > ?)",
            arguments: [id, doctor, now]) ?? false
    }

    /// Who may read a report: its patient, its author, and a doctor holding an unexpired, unrevoked grant
    /// or an unexpired emergency access. A doctor who may ask for it (an appointment with its patient) is
    /// told consent is needed; anyone else is refused exactly as for a report that does not exist, so that
    /// report ids cannot be enumerated.
    static func decide(_ id: Int64, for identity: Identity, now: Int64, in db: Database) throws -> Decision {
        guard let listing = try ReportListing.fetch(id, in: db) else { return .refused(.notFound("report"), patientId: nil) }
        let report = listing.report
        switch identity.role {
        case .patient where report.patientId == identity.userId, .doctor where report.doctorId == identity.userId:
            return .allowed(listing)
        case .doctor:
            if try grantedOrEmergency(id, doctor: identity.userId, now: now, in: db) { return .allowed(listing) }
            guard try Consent.treats(doctor: identity.userId, patient: report.patientId, in: db) else {
                return .refused(.notFound("report"), patientId: report.patientId)
            }
            return .refused(
                HospitalError(.consentRequired, "Reading this report needs the patient's consent: ask the patient for access to it."),
                patientId: report.patientId)
        case .patient, .admin:
            return .refused(.notFound("report"), patientId: report.patientId)
        }
    }
}
