package import Crypto
package import Foundation
import Metrics

/// Where a doctor's request to read a report stands.
package enum AccessRequestStatus: String, Codable, Sendable {
    /// The code went to the patient and may be redeemed.
    case pending
    /// The code was redeemed: a grant exists.
    case granted
    /// The patient said no.
    case denied
    /// Too many wrong codes, expired, superseded by a newer request, or the code could not be sent.
    case void
}

/// A doctor's request for one report, with the code's MAC (never the code).
package struct AccessRequest: Codable, Sendable, Equatable {
    package var id: Int64?
    package var reportId: Int64
    package var doctorId: Int64
    package var codeMAC: Data
    package var status: AccessRequestStatus
    package var attempts: Int
    package var createdAt: Int64
    package var expiresAt: Int64
    package var decidedAt: Int64?
}

/// Time-limited permission for a doctor to read one report, until it expires or the patient revokes it.
package struct Grant: Codable, Sendable, Equatable {
    package var id: Int64?
    package var reportId: Int64
    package var doctorId: Int64
    package var requestId: Int64
    package var createdAt: Int64
    package var expiresAt: Int64
    package var revokedAt: Int64?
}

/// An access request or a grant with what lists show about its report and doctor.
package struct ConsentListing<Record: Sendable & Equatable>: Sendable, Equatable {
    package var record: Record
    package var reportTitle: String
    package var patientId: Int64
    package var doctorName: String
    package var doctorSpecialization: String?
    package var patientName: String

    package init(
        record: Record, reportTitle: String, patientId: Int64, doctorName: String, doctorSpecialization: String?, patientName: String
    ) {
        self.record = record
        self.reportTitle = reportTitle
        self.patientId = patientId
        self.doctorName = doctorName
        self.doctorSpecialization = doctorSpecialization
        self.patientName = patientName
    }
}

package typealias AccessRequestListing = ConsentListing<AccessRequest>
package typealias GrantListing = ConsentListing<Grant>

/// Patient consent by one-time code: a doctor asks for one report, the patient receives a code through
/// the ``CodeSender``, the doctor redeems it for a time-limited grant the patient can revoke.
///
/// Codes come from the injected CSPRNG, are stored only as an HMAC-SHA256 under a server key kept outside
/// the database, compared in constant time, expire, are single use, and allow a bounded number of attempts.
package struct Consent: Sendable {
    package struct Policy: Sendable {
        /// Digits per code (6 to 12).
        package var codeDigits = 8
        /// How long a code is valid (at most ten minutes).
        package var codeLifetime: Duration = .seconds(600)
        /// Wrong codes before a request is void.
        package var maxAttempts = 5
        /// How long a grant lasts.
        package var grantLifetime: Duration
        /// Requests one doctor may make for one report per day, so that a patient is not flooded with codes.
        package var requestsPerDay = 5

        package init(grantLifetime: Duration = .seconds(3600)) {
            self.grantLifetime = grantLifetime
        }
    }

    let storage: any HospitalStorage
    let sender: any CodeSender
    let macKey: SymmetricKey
    package let policy: Policy
    /// Adds the proof of the request's ledger entry to the code's e-mail.
    let notary: AuditNotary?
    /// The site's name, its address for the e-mail's link, and the zone of patients without one.
    let portal: PortalConfiguration
    let clock: @Sendable () -> Int64
    let random: @Sendable (Int) -> [UInt8]

    package init(
        storage: any HospitalStorage, sender: any CodeSender, macKey: SymmetricKey, policy: Policy = Policy(), notary: AuditNotary? = nil,
        portal: PortalConfiguration = .init(), clock: @escaping @Sendable () -> Int64, random: @escaping @Sendable (Int) -> [UInt8]
    ) {
        self.notary = notary
        self.portal = portal
        precondition(
            (6...12).contains(policy.codeDigits) && (.seconds(1)...Duration.seconds(600)).contains(policy.codeLifetime), "code policy")
        precondition(policy.maxAttempts >= 1 && policy.grantLifetime > .zero, "consent policy")
        self.storage = storage
        self.sender = sender
        self.macKey = macKey
        self.policy = policy
        self.clock = clock
        self.random = random
    }

    /// A doctor asks to read a report: a code goes to the patient. An earlier pending request of the same
    /// doctor for the same report is void from then on. Only a doctor with an appointment (booked or
    /// completed) with the report's patient may ask.
    /// - Throws: `not_found` (also for a report of a patient the doctor has no appointment with), `already_has_access` (the author, or an active grant), `throttled`,
    ///   503 `code_not_sent`.
    package func request(reportId: Int64, by doctor: Identity) async throws -> AccessRequestListing {
        let now = clock()
        let code = makeCode()
        let policy = self.policy
        let macKey = self.macKey
        let portal = self.portal
        let (listing, unsigned, entry) = try await storage.write { transaction -> (AccessRequestListing, CodeMessage, Int64) in
            guard let report = try await transaction.reports.report(id: reportId) else { throw HospitalError.notFound("report") }
            // A doctor may ask only for the reports of a patient they have an appointment with (booked or
            // completed); any other report is refused exactly as one that does not exist, telling nothing.
            let treats = try await transaction.scheduling.hasAppointment(doctorId: doctor.userId, patientId: report.patientId)
            guard treats || report.doctorId == doctor.userId else { throw HospitalError.notFound("report") }
            let granted = try await transaction.consent.hasGrant(reportId: reportId, doctorId: doctor.userId, at: now)
            guard report.doctorId != doctor.userId, !granted else {
                throw HospitalError(.alreadyHasAccess, "You can read this report already.")
            }
            let recent = try await transaction.consent.requestCount(reportId: reportId, doctorId: doctor.userId, after: now - 86400)
            guard recent < policy.requestsPerDay else { throw HospitalError.throttled(retryAfter: 3600) }
            try await transaction.consent.voidPendingRequests(reportId: reportId, doctorId: doctor.userId, at: now)
            var request = AccessRequest(
                reportId: reportId, doctorId: doctor.userId, codeMAC: Data(), status: .pending, attempts: 0, createdAt: now,
                expiresAt: now + policy.codeLifetime.wholeSeconds)
            let requestId = try await transaction.consent.insert(request)
            request.id = requestId
            request.codeMAC = Self.mac(code, requestId: requestId, key: macKey)
            try await transaction.consent.update(request)
            let entry = try await AuditLedger.append(
                .init(actor: doctor.userId, .accessRequest, subject: "report:\(reportId)", patient: report.patientId), time: now,
                in: transaction)
            guard let patient = try await transaction.accounts.user(id: report.patientId) else { throw HospitalError.notFound("report") }
            let message = CodeMessage(
                requestId: requestId, patientName: patient.name, patientEmail: patient.email, patientPhone: patient.phone,
                doctorName: doctor.name, code: code, issuedAt: now, expiresAt: request.expiresAt,
                timeZone: patient.timeZone.flatMap(TimeZone.init(identifier:)) ?? portal.timeZone, link: portal.link("/consent"),
                siteName: portal.siteName)
            return (try await transaction.consent.requestListing(id: requestId)!, message, entry)
        }
        var signed = unsigned
        signed.footer = await notary?.footer(entry: entry)
        let message = signed
        do {
            try await sender.send(message)
        } catch {
            try await storage.write { transaction in
                if var request = try await transaction.consent.request(id: message.requestId) {
                    request.status = .void
                    request.decidedAt = now
                    try await transaction.consent.update(request)
                }
                try await AuditLedger.append(
                    .init(
                        actor: doctor.userId, .codeIssued, subject: "request:\(message.requestId)", patient: listing.patientId,
                        outcome: .failed, detail: "not delivered"), time: now, in: transaction)
            }
            Counter(label: "chainvault_hospital_codes_total", dimensions: [("outcome", "not_sent")]).increment()
            throw HospitalError(.codeNotSent, "The code could not be sent to the patient; try again later.")
        }
        try await AuditLedger.record(
            actor: doctor.userId, .codeIssued, subject: "request:\(message.requestId)", patient: listing.patientId, detail: "",
            time: now, in: storage)
        Counter(label: "chainvault_hospital_codes_total", dimensions: [("outcome", "issued")]).increment()
        return listing
    }

    /// The reports a doctor may ask to read: those of patients they have an appointment with (booked or
    /// completed), by other authors; titles, authors and dates only. Each patient whose titles are shown
    /// gets a ledger entry, so that they see who looked at their list.
    /// - Parameter patient: Only this patient's; without an appointment with them, `not_found`.
    package func requestableReports(for doctor: Identity, patient: Int64? = nil) async throws -> [ReportListing] {
        let now = clock()
        return try await storage.write { transaction in
            if let patient {
                guard try await transaction.scheduling.hasAppointment(doctorId: doctor.userId, patientId: patient) else {
                    throw HospitalError.notFound("patient")
                }
            }
            let reports = try await transaction.reports.listings(requestableByDoctor: doctor.userId, patientId: patient, limit: Page.size)
            for patientId in Set(reports.map(\.report.patientId)).sorted() {
                let count = reports.filter { $0.report.patientId == patientId }.count
                try await AuditLedger.append(
                    .init(
                        actor: doctor.userId, .listReports, subject: "patient:\(patientId)", patient: patientId, detail: "\(count) titles"),
                    time: now, in: transaction)
            }
            return reports
        }
    }

    /// One of the doctor's own requests.
    /// - Throws: `not_found` (also another doctor's).
    package func request(_ id: Int64, of doctor: Identity) async throws -> AccessRequestListing {
        let listing = try await storage.read { try await $0.consent.requestListing(id: id) }
        guard let listing, listing.record.doctorId == doctor.userId else { throw HospitalError.notFound("access request") }
        return listing
    }

    /// A doctor redeems the code of their request for a grant.
    /// - Throws: `not_found` (also another doctor's request), `invalid_field` (not a code), `wrong_code` (403,
    ///   the attempt counts), `request_void`, `request_denied`, `request_used`, 410 `code_expired`.
    package func redeem(requestId: Int64, code: String, by doctor: Identity) async throws -> GrantListing {
        let now = clock()
        let policy = self.policy
        guard code.count == policy.codeDigits, code.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw HospitalError.invalid("code", "The code has \(policy.codeDigits) digits.")
        }
        let macKey = self.macKey
        // Refusals that change state (an attempt counted, a request voided) commit before they are thrown.
        let outcome = try await storage.write { transaction -> Result<GrantListing, HospitalError> in
            guard var request = try await transaction.consent.request(id: requestId), request.doctorId == doctor.userId else {
                return .failure(.notFound("access request"))
            }
            let patientId = try await transaction.reports.report(id: request.reportId)?.patientId
            func audit(_ outcome: AuditOutcome, _ detail: String) async throws {
                try await AuditLedger.append(
                    .init(
                        actor: doctor.userId, .redeem, subject: "request:\(requestId)", patient: patientId, outcome: outcome, detail: detail
                    ),
                    time: now, in: transaction)
            }
            switch request.status {
            case .pending: break
            case .granted:
                try await audit(.denied, "used")
                return .failure(HospitalError(.requestUsed, "This code was redeemed already; codes are single use."))
            case .denied:
                try await audit(.denied, "denied by the patient")
                return .failure(HospitalError(.requestDenied, "The patient denied this request."))
            case .void:
                try await audit(.denied, "void")
                return .failure(HospitalError(.requestVoid, "This request is void; make a new one."))
            }
            guard now < request.expiresAt else {
                request.status = .void
                request.decidedAt = now
                try await transaction.consent.update(request)
                try await audit(.denied, "expired")
                return .failure(HospitalError(.codeExpired, "The code expired; make a new request."))
            }
            guard HMAC<SHA256>.isValidAuthenticationCode(request.codeMAC, authenticating: Self.macInput(code, requestId), using: macKey)
            else {
                request.attempts += 1
                if request.attempts >= policy.maxAttempts {
                    request.status = .void
                    request.decidedAt = now
                }
                try await transaction.consent.update(request)
                try await audit(.denied, "wrong code, attempt \(request.attempts) of \(policy.maxAttempts)")
                let left = policy.maxAttempts - request.attempts
                return .failure(
                    HospitalError(
                        .wrongCode, left > 0 ? "Wrong code; \(left) attempts left." : "Wrong code; the request is now void.", field: "code",
                        values: ["left": "\(left)"]))
            }
            request.status = .granted
            request.decidedAt = now
            try await transaction.consent.update(request)
            let grantId = try await transaction.consent.insert(
                Grant(
                    reportId: request.reportId, doctorId: doctor.userId, requestId: requestId, createdAt: now,
                    expiresAt: now + policy.grantLifetime.wholeSeconds))
            try await audit(.success, "")
            try await AuditLedger.append(
                .init(actor: doctor.userId, .grant, subject: "report:\(request.reportId)", patient: patientId, detail: "grant \(grantId)"),
                time: now, in: transaction)
            return .success(try await transaction.consent.grantListing(id: grantId)!)
        }
        switch outcome {
        case .success:
            Counter(label: "chainvault_hospital_code_redemptions_total", dimensions: [("outcome", "granted")]).increment()
            Counter(label: "chainvault_hospital_grants_total").increment()
        case .failure(let error):
            Counter(label: "chainvault_hospital_code_redemptions_total", dimensions: [("outcome", error.code.rawValue)]).increment()
        }
        return try outcome.get()
    }

    /// The patient allows a pending request for one of their reports in the portal: a grant exactly like
    /// a redeemed code's (same lifetime), and the code is spent with it. The ledger's grant entry is the
    /// patient's own and says it was approved in the portal.
    /// - Throws: `not_found`, `request_closed` (not pending, or its code expired).
    package func approve(requestId: Int64, by patient: Identity) async throws -> GrantListing {
        let now = clock()
        let lifetime = policy.grantLifetime.wholeSeconds
        let grant = try await storage.write { transaction in
            let request = try await Self.pendingRequest(requestId, of: patient, at: now, verb: "allowed", in: transaction)
            let grantId = try await transaction.consent.insert(
                Grant(
                    reportId: request.reportId, doctorId: request.doctorId, requestId: requestId, createdAt: now,
                    expiresAt: now + lifetime))
            try await Self.decide(request, .granted, at: now, in: transaction)
            try await AuditLedger.append(
                .init(
                    actor: patient.userId, .grant, subject: "report:\(request.reportId)", patient: patient.userId,
                    detail: "grant \(grantId) to user:\(request.doctorId), approved by the patient in the portal"),
                time: now, in: transaction)
            return try await transaction.consent.grantListing(id: grantId)!
        }
        Counter(label: "chainvault_hospital_grants_total").increment()
        return grant
    }

    /// The patient denies a pending request for one of their reports.
    /// - Throws: `not_found`, `request_closed`.
    package func deny(requestId: Int64, by patient: Identity) async throws -> AccessRequestListing {
        let now = clock()
        return try await storage.write { transaction in
            let request = try await Self.pendingRequest(requestId, of: patient, at: now, verb: "denied", in: transaction)
            try await Self.decide(request, .denied, at: now, in: transaction)
            try await AuditLedger.append(
                .init(actor: patient.userId, .deny, subject: "request:\(requestId)", patient: patient.userId), time: now, in: transaction)
            return try await transaction.consent.requestListing(id: requestId)!
        }
    }

    /// A pending, unexpired request on one of the patient's reports.
    /// - Throws: `not_found`, `request_closed`.
    static func pendingRequest(_ id: Int64, of patient: Identity, at now: Int64, verb: String, in transaction: HospitalTransaction)
        async throws -> AccessRequest
    {
        guard let listing = try await transaction.consent.requestListing(id: id), listing.patientId == patient.userId else {
            throw HospitalError.notFound("access request")
        }
        guard listing.record.status == .pending, now < listing.record.expiresAt else {
            throw HospitalError(.requestClosed, "Only a pending request can be \(verb).")
        }
        return listing.record
    }

    /// Closes a request with the patient's decision.
    static func decide(_ request: AccessRequest, _ status: AccessRequestStatus, at now: Int64, in transaction: HospitalTransaction)
        async throws
    {
        var request = request
        request.status = status
        request.decidedAt = now
        try await transaction.consent.update(request)
    }

    /// The patient revokes a grant on one of their reports; revoking twice changes nothing.
    /// - Throws: `not_found`.
    package func revoke(grantId: Int64, by patient: Identity) async throws -> GrantListing {
        let now = clock()
        return try await storage.write { transaction in
            guard let listing = try await transaction.consent.grantListing(id: grantId), listing.patientId == patient.userId else {
                throw HospitalError.notFound("grant")
            }
            if listing.record.revokedAt == nil {
                Counter(label: "chainvault_hospital_revocations_total").increment()
                try await transaction.consent.revoke(grant: grantId, at: now)
                try await AuditLedger.append(
                    .init(
                        actor: patient.userId, .revoke, subject: "report:\(listing.record.reportId)", patient: patient.userId,
                        detail: "grant \(grantId)"), time: now, in: transaction)
            }
            return try await transaction.consent.grantListing(id: grantId)!
        }
    }

    /// A patient's requests (on their reports) or a doctor's own.
    package func requests(for identity: Identity, status: AccessRequestStatus? = nil) async throws -> [AccessRequestListing] {
        guard let party = Party(identity) else { return [] }
        return try await storage.read { try await $0.consent.requestListings(of: party, status: status, limit: Page.size) }
    }

    /// A patient's grants (on their reports) or a doctor's own.
    package func grants(for identity: Identity) async throws -> [GrantListing] {
        guard let party = Party(identity) else { return [] }
        return try await storage.read { try await $0.consent.grantListings(of: party, limit: Page.size) }
    }

    /// A uniformly random code of `codeDigits` digits (rejection sampling: no digit is likelier than another).
    func makeCode() -> String {
        var digits = ""
        while digits.count < policy.codeDigits {
            for byte in random(policy.codeDigits * 2) where byte < 250 && digits.count < policy.codeDigits {
                digits.append(Character(String(byte % 10)))
            }
        }
        return digits
    }

    static func mac(_ code: String, requestId: Int64, key: SymmetricKey) -> Data {
        Data(HMAC<SHA256>.authenticationCode(for: Self.macInput(code, requestId), using: key))
    }

    /// The request id is part of the MAC: a code's MAC says nothing about another request's.
    static func macInput(_ code: String, _ requestId: Int64) -> Data { Data("chainvault-code-v1:\(requestId):\(code)".utf8) }
}

extension Party {
    /// The party an identity is in consent lists; nil for an admin, who has none.
    init?(_ identity: Identity) {
        switch identity.role {
        case .patient: self = .patient(identity.userId)
        case .doctor: self = .doctor(identity.userId)
        case .admin: return nil
        }
    }
}
