import ChunkChain
package import Foundation
import Hex
package import NIOCore

/// A report's row: who it is about, who wrote it, and where its chain starts. The bytes are only in
/// the chain.
package struct Report: Codable, Sendable, Equatable {
    package var id: Int64?
    package var patientId: Int64
    package var doctorId: Int64
    /// The completed checkup it reports on.
    package var slotId: Int64
    package var title: String
    package var contentType: String
    package var size: Int64
    /// Lowercase hex SHA-256 of the report's bytes.
    package var sha256: String
    /// The chain's head pointer, `A:<hex>` or `B:<hex>`.
    package var head: String
    package var createdAt: Int64
    /// When the chain was last verified intact (at upload, then by `chain verify --all`).
    package var verifiedAt: Int64?
    /// When a verification last found the chain damaged or missing; nil once it verifies again.
    package var damagedAt: Int64?
}

/// A report with the names of its patient and author, as lists show it.
package struct ReportListing: Sendable, Equatable {
    package var report: Report
    package var patientName: String
    package var doctorName: String

    package init(report: Report, patientName: String, doctorName: String) {
        self.report = report
        self.patientName = patientName
        self.doctorName = doctorName
    }
}

extension Report {
    /// Records what a verification of chains found, by head pointer: intact chains get `verifiedAt`,
    /// damaged or missing ones `damagedAt`. Heads no report has are ignored.
    package static func recordVerification(_ results: [String: Bool], at time: Int64, in storage: any HospitalStorage) async throws {
        try await storage.write { transaction in
            for (head, intact) in results { try await transaction.reports.recordVerification(head: head, intact: intact, at: time) }
        }
    }

    /// Every report's id and head pointer, in id order: what `chain verify --all` and `audit verify`
    /// check against the chains, so that a chain deleted together with its index record is found.
    package static func heads(in storage: any HospitalStorage) async throws -> [(id: Int64, head: String)] {
        try await storage.read { try await $0.reports.heads() }
    }
}

/// Reports: doctors upload them after a completed checkup, patients and their authors read them, other
/// doctors only under a grant from the patient (``Consent``). Every upload, download and refusal is audited.
package struct Reports: Sendable {
    let storage: any HospitalStorage
    let vault: ReportVault
    let clock: @Sendable () -> Int64
    /// The e-mail telling a patient that a report was added.
    let notices: Notices
    /// The largest report accepted, in bytes.
    package let maxSize: Int64

    /// The default size limit: 1 GiB.
    package static let defaultMaxSize: Int64 = 1 << 30

    package init(
        storage: any HospitalStorage, vault: ReportVault, maxSize: Int64 = defaultMaxSize, clock: @escaping @Sendable () -> Int64,
        notices: Notices = .init()
    ) {
        self.notices = notices
        self.storage = storage
        self.vault = vault
        self.maxSize = maxSize
        self.clock = clock
    }

    /// What a doctor sends with the bytes.
    package struct Upload: Sendable {
        package var patientId: Int64
        package var title: String
        package var contentType: String
        /// The Content-Length, when the client sent one: refused before reading beyond the limit.
        package var declaredLength: Int64?

        package init(patientId: Int64, title: String, contentType: String?, declaredLength: Int64?) {
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
    package func upload<Body: AsyncSequence>(_ upload: Upload, body: Body, by doctor: Identity) async throws -> ReportListing
    where Body.Element == ByteBuffer {
        let title = try Validation.title(upload.title)
        let contentType = try Validation.contentType(upload.contentType)
        if let declared = upload.declaredLength, declared > maxSize { throw Self.tooLarge(maxSize) }
        let slotId = try await storage.read {
            try await $0.scheduling.latestCompletedSlot(doctorId: doctor.userId, patientId: upload.patientId)
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
        return try await storage.write { [notices] transaction in
            let id = try await transaction.reports.insert(
                Report(
                    patientId: upload.patientId, doctorId: doctor.userId, slotId: slotId, title: title, contentType: contentType,
                    size: head.length, sha256: Hex.encode(head.sha256), head: head.pointer.description, createdAt: now, verifiedAt: now))
            let entry = try await AuditLedger.append(
                .init(actor: doctor.userId, .upload, subject: "report:\(id)", patient: upload.patientId, detail: "\(head.length) bytes"),
                time: now, in: transaction)
            try await notices.queue(
                .newReport, to: upload.patientId, values: ["doctor": doctor.name], path: "/reports", auditEntry: entry, now: now,
                in: transaction)
            return try await transaction.reports.listing(report: id)!
        }
    }

    static func tooLarge(_ limit: Int64) -> HospitalError {
        HospitalError(.tooLarge, "A report has at most \(limit) bytes.")
    }

    /// The reports the caller may read: a patient's own, a doctor's own and those granted to them.
    package func list(for identity: Identity) async throws -> [ReportListing] {
        let now = clock()
        return try await storage.read { try await Self.list(for: identity, now: now, in: $0) }
    }

    /// The reports `identity` may read, newest first.
    static func list(for identity: Identity, now: Int64, in transaction: HospitalTransaction) async throws -> [ReportListing] {
        switch identity.role {
        case .patient: try await transaction.reports.listings(patientId: identity.userId, limit: Page.size)
        case .doctor: try await transaction.reports.listings(readableByDoctor: identity.userId, at: now, limit: Page.size)
        case .admin: []
        }
    }

    /// One report's row, for a caller who may read it.
    /// - Throws: `not_found` for a report that does not exist or is another patient's; `consent_required`
    ///   (403) for a doctor without a grant — doctors learn that the report exists, so that they can ask.
    package func report(_ id: Int64, for identity: Identity) async throws -> ReportListing {
        let now = clock()
        let decision = try await storage.read { try await Self.decide(id, for: identity, now: now, in: $0) }
        switch decision {
        case .allowed(let listing): return listing
        case .refused(let error, _): throw error
        }
    }

    /// Opens a report for download: checks access and writes the ledger entry (a refusal too), then
    /// returns the row; the bytes follow from ``read(_:consume:)``.
    package func openForDownload(_ id: Int64, by identity: Identity) async throws -> ReportListing {
        let now = clock()
        let decision = try await storage.write { transaction in
            let decision = try await Self.decide(id, for: identity, now: now, in: transaction)
            switch decision {
            case .allowed(let listing):
                // A download under an emergency access says so (the patient and the admins' review see it).
                let granted = try await transaction.consent.hasGrant(reportId: id, doctorId: identity.userId, at: now)
                let emergency = identity.role == .doctor && listing.report.doctorId != identity.userId && !granted
                try await AuditLedger.append(
                    .init(
                        actor: identity.userId, .download, subject: "report:\(id)", patient: listing.report.patientId,
                        detail: emergency ? "emergency access" : ""), time: now, in: transaction)
            case .refused(let error, let patientId?):
                try await AuditLedger.append(
                    .init(
                        actor: identity.userId, .download, subject: "report:\(id)", patient: patientId, outcome: .denied,
                        detail: error.code.rawValue), time: now, in: transaction)
            case .refused(let error, nil):
                // Recorded as a refusal of an existing report is: the same work, so the time of the answer
                // does not tell whether the report exists.
                try await AuditLedger.append(
                    .init(actor: identity.userId, .download, subject: "report:\(id)", outcome: .denied, detail: error.code.rawValue),
                    time: now, in: transaction)
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
    package func checkReadable(_ report: Report, by identity: Identity) async throws {
        do {
            guard let head = ChunkPointer(report.head) else { throw ChainError.malformedChunk(index: 0, reason: "bad head pointer") }
            try await vault.checkHead(head)
        } catch {
            await recordFailedDownload(report, by: identity, reason: "\(error)")
            throw HospitalError.reportUnavailable
        }
    }

    /// Streams a report's bytes, each piece only after its chunk authenticated.
    package func read(_ report: Report, consume: (Data) async throws -> Void) async throws {
        guard let head = ChunkPointer(report.head) else { throw HospitalError.internalError }
        try await vault.read(head: head, consume: consume)
    }

    /// Records that a download the ledger saw start did not finish.
    package func recordFailedDownload(_ report: Report, by identity: Identity, reason: String) async {
        let now = clock()
        _ = try? await AuditLedger.record(
            actor: identity.userId, .download, subject: "report:\(report.id ?? 0)", patient: report.patientId, outcome: .failed,
            detail: reason, time: now, in: storage)
    }

    enum Decision: Sendable {
        case allowed(ReportListing)
        /// The error to answer, and the patient whose report it is when it exists (for the ledger).
        case refused(HospitalError, patientId: Int64?)
    }

    /// Whether `doctor` holds a grant to the report or an emergency access that has not expired.
    static func grantedOrEmergency(_ id: Int64, doctor: Int64, now: Int64, in transaction: HospitalTransaction) async throws -> Bool {
        if try await transaction.consent.hasGrant(reportId: id, doctorId: doctor, at: now) { return true }
        return try await transaction.emergency.hasAccess(reportId: id, doctorId: doctor, at: now)
    }

    /// Who may read a report: its patient, its author, and a doctor holding an unexpired, unrevoked grant
    /// or an unexpired emergency access. A doctor who may ask for it (an appointment with its patient) is
    /// told consent is needed; anyone else is refused exactly as for a report that does not exist, so that
    /// report ids cannot be enumerated.
    static func decide(_ id: Int64, for identity: Identity, now: Int64, in transaction: HospitalTransaction) async throws -> Decision {
        guard let listing = try await transaction.reports.listing(report: id) else { return .refused(.notFound("report"), patientId: nil) }
        let report = listing.report
        switch identity.role {
        case .patient where report.patientId == identity.userId, .doctor where report.doctorId == identity.userId:
            return .allowed(listing)
        case .doctor:
            if try await grantedOrEmergency(id, doctor: identity.userId, now: now, in: transaction) { return .allowed(listing) }
            guard try await transaction.scheduling.hasAppointment(doctorId: identity.userId, patientId: report.patientId) else {
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
