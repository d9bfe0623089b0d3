import Foundation
import Metrics

/// Emergency access ("break the glass", HIPAA §164.312(a)(2)(ii)): a doctor without the patient's
/// consent — an emergency admission the doctor has never seen — finds the patient by name and date of
/// birth, writes why, and reads that patient's reports for a short time. The access is an `emergency` ledger
/// entry, the patient is e-mailed at once with the reason (and the entry's proof), every download under
/// it is audited as any other, and admins see each one in a review list until one of them marks it
/// reviewed. A doctor may break the glass only a few times a day.
package struct EmergencyAccess: Sendable {
    package struct Policy: Sendable {
        /// How long an emergency access lasts.
        package var lifetime: Duration
        /// Emergency accesses one doctor may open in 24 hours.
        package var perDay: Int

        package init(lifetime: Duration = .seconds(3600), perDay: Int = 3) {
            self.lifetime = lifetime
            self.perDay = perDay
        }
    }

    /// The shortest and longest reason, in characters.
    package static let reasonLength = 10...300

    let storage: any HospitalStorage
    let notices: Notices
    package let policy: Policy
    let clock: @Sendable () -> Int64

    init(storage: any HospitalStorage, notices: Notices, policy: Policy, clock: @escaping @Sendable () -> Int64) {
        self.storage = storage
        self.notices = notices
        self.policy = policy
        self.clock = clock
    }

    /// One emergency access as a table row.
    package struct Record: Codable, Sendable {
        package var id: Int64?
        package var reportId: Int64
        package var doctorId: Int64
        package var patientId: Int64
        package var reason: String
        package var createdAt: Int64
        package var expiresAt: Int64
        package var reviewedAt: Int64?
        package var reviewerId: Int64?
        /// The `emergency` ledger entry.
        package var auditEntryId: Int64
    }

    /// A record with the names and title it is about.
    package struct Listing: Sendable {
        package var record: Record
        package var reportTitle: String
        package var doctorName: String
        package var patientName: String
        package var reviewerName: String?

        package init(record: Record, reportTitle: String, doctorName: String, patientName: String, reviewerName: String?) {
            self.record = record
            self.reportTitle = reportTitle
            self.doctorName = doctorName
            self.patientName = patientName
            self.reviewerName = reviewerName
        }
    }

    /// The reason as stored: trimmed, on one line, 10 to 300 characters.
    static func checkedReason(_ text: String) throws(HospitalError) -> String {
        let reason = text.split(whereSeparator: \.isNewline).joined(separator: " ").trimmingCharacters(in: .whitespaces)
        guard reason.count >= reasonLength.lowerBound, reason.count <= reasonLength.upperBound,
            !reason.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw .invalid("reason", "Write why this is an emergency: \(reasonLength.lowerBound) to \(reasonLength.upperBound) characters.")
        }
        return reason
    }

    /// Failed look-ups (no patient has the name and date of birth) one doctor may make in 24 hours: break
    /// the glass is no way to find out who is a patient here.
    static let lookupsPerDay = 10

    /// Breaks the glass for a patient the doctor may never have seen (an emergency admission): the
    /// patient is found by name and date of birth — never by a report id, which a doctor could guess —
    /// and every report of theirs the doctor cannot read yet opens for ``Policy/lifetime``. One
    /// `emergency` ledger entry with the reason (the patient's own, so their history shows it), one
    /// e-mail to the patient at once, and a record per report opened for the admins' review.
    /// - Parameters:
    ///   - name: The patient's name as registered (case and repeated spaces aside).
    ///   - dateOfBirth: `YYYY-MM-DD`.
    /// - Returns: The reports opened (none when the patient has none the doctor cannot read already).
    /// - Throws: `invalid_field` (reason, dateOfBirth), `not_found` (no such patient; counted: beyond
    ///   ``lookupsPerDay`` in 24 hours, `throttled`), `ambiguous_patient` (409, two patients share both),
    ///   `throttled` (429, more than ``Policy/perDay`` openings in 24 hours).
    package func open(patientNamed name: String, born dateOfBirth: String, reason text: String, by doctor: Identity) async throws
        -> [Listing]
    {
        guard doctor.role == .doctor else { throw HospitalError.forbidden("Only doctors open reports in an emergency.") }
        let reason = try Self.checkedReason(text)
        let now = clock()
        let born = try Validation.dateOfBirth(dateOfBirth.trimmingCharacters(in: .whitespaces), now: now)
        let wanted = Self.comparable(name)
        let policy = self.policy
        let notices = self.notices
        let outcome = try await storage.write { transaction -> Result<[Listing], HospitalError> in
            func count(_ outcome: AuditOutcome) async throws -> Int {
                try await transaction.ledger.count(actorId: doctor.userId, action: .emergency, outcome: outcome, after: now - 86400)
            }
            guard try await count(.denied) < Self.lookupsPerDay else { return .failure(.throttled(retryAfter: 3600)) }
            let patients = try await transaction.accounts.patients(bornOn: born).filter {
                $0.status == .active && Self.comparable($0.name) == wanted
            }
            guard let patient = patients.first, let patientId = patient.id else {
                // Refused look-ups are recorded (without the name typed) and counted.
                try await AuditLedger.append(
                    .init(
                        actor: doctor.userId, .emergency, subject: "patient", outcome: .denied,
                        detail: "no patient with that name and date of birth"),
                    time: now, in: transaction)
                return .failure(.notFound("patient"))
            }
            guard patients.count == 1 else {
                return .failure(
                    HospitalError(.ambiguousPatient, "More than one patient has this name and date of birth: ask the hospital's admins."))
            }
            let reports = try await transaction.reports.reports(patientId: patientId)
            var closed: [Int64] = []
            for report in reports where report.doctorId != doctor.userId {
                guard let id = report.id, try await !Reports.grantedOrEmergency(id, doctor: doctor.userId, now: now, in: transaction)
                else { continue }
                closed.append(id)
            }
            guard !closed.isEmpty || reports.isEmpty else {
                return .failure(HospitalError(.alreadyHasAccess, "You can read every report of this patient already."))
            }
            guard try await count(.success) < policy.perDay else { return .failure(.throttled(retryAfter: 3600)) }
            let entry = try await AuditLedger.append(
                .init(actor: doctor.userId, .emergency, subject: "patient:\(patientId)", patient: patientId, detail: reason), time: now,
                in: transaction)
            var opened: [Listing] = []
            for reportId in closed {
                let id = try await transaction.emergency.insert(
                    Record(
                        reportId: reportId, doctorId: doctor.userId, patientId: patientId, reason: reason, createdAt: now,
                        expiresAt: now + policy.lifetime.wholeSeconds, auditEntryId: entry))
                opened.append(try await transaction.emergency.listing(id: id)!)
            }
            try await notices.queue(
                .emergencyAccess, to: patientId, values: ["doctor": doctor.name, "reason": reason],
                time: now + policy.lifetime.wholeSeconds,
                path: "/history", auditEntry: entry, now: now, in: transaction)
            return .success(opened)
        }
        if case .success = outcome { Counter(label: "chainvault_hospital_emergency_accesses_total").increment() }
        return try outcome.get()
    }

    /// A name as the look-up compares it: case folded, spaces trimmed and collapsed.
    static func comparable(_ name: String) -> String {
        name.split(whereSeparator: \.isWhitespace).joined(separator: " ").lowercased()
    }

    /// Emergency accesses, newest first: every one for an admin (only those not yet reviewed when
    /// `unreviewed`), a doctor's own, those about a patient's data.
    package func list(for identity: Identity, unreviewed: Bool = false, limit: Int = 500) async throws -> [Listing] {
        let party = Party(identity)
        return try await storage.read { try await $0.emergency.listings(of: party, unreviewed: unreviewed, limit: limit) }
    }

    /// An admin marks an emergency access reviewed (an `emergency_reviewed` ledger entry).
    /// - Throws: `not_found`, `already_reviewed` (409).
    package func review(_ id: Int64, by admin: Identity) async throws -> Listing {
        guard admin.role == .admin else { throw HospitalError.forbidden("Only admins review emergency accesses.") }
        let now = clock()
        return try await storage.write { transaction in
            guard let listing = try await transaction.emergency.listing(id: id) else { throw HospitalError.notFound("emergency access") }
            guard listing.record.reviewedAt == nil else {
                throw HospitalError(.alreadyReviewed, "This emergency access was reviewed already.")
            }
            try await transaction.emergency.markReviewed(id: id, by: admin.userId, at: now)
            try await AuditLedger.append(
                .init(actor: admin.userId, .emergencyReviewed, subject: "emergency:\(id)", patient: listing.record.patientId), time: now,
                in: transaction)
            return try await transaction.emergency.listing(id: id)!
        }
    }
}
