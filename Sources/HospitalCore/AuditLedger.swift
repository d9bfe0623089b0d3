import Crypto
package import Foundation
package import Transparency

/// What the ledger records: who did what to which subject, and how it went.
package enum AuditAction: String, Codable, Sendable, CaseIterable {
    case login, upload
    case accessRequest = "access_request"
    case codeIssued = "code_issued"
    case redeem, grant, deny, revoke, download
    /// A doctor was shown the titles of a patient's reports (to ask for access to one).
    case listReports = "list_reports"
    /// Account administration, each by an admin (a doctor's registration has no actor).
    case accountCreated = "account_created"
    case accountApproved = "account_approved"
    case accountRefused = "account_refused"
    case accountDisabled = "account_disabled"
    case accountEnabled = "account_enabled"
    case throttleCleared = "throttle_cleared"
    /// A person changed their password (every session ended).
    case passwordChanged = "password_changed"
    /// A doctor changed what their public page says (specialization, description); the detail names the fields.
    case profileChanged = "profile_changed"
    /// A patient downloaded all their data (their right of access).
    case dataExported = "data_exported"
    /// A password-reset link was sent to an account's address.
    case passwordResetSent = "password_reset_sent"
    /// Someone signed up with an address: its link was e-mailed (success), or the address has an account
    /// and its owner was told (denied). The account itself is `account_created` once the link is opened.
    case accountRequested = "account_requested"
    /// An admin exported the ledger (CSV).
    case ledgerExported = "ledger_exported"
    /// A person turned sign-in's second step on (authenticator app and recovery codes).
    case secondFactorEnabled = "second_factor_enabled"
    /// A patient turned it off.
    case secondFactorDisabled = "second_factor_disabled"
    /// An admin reset someone's second step (a lost device).
    case secondFactorReset = "second_factor_reset"
    /// The key that signs the ledger's checkpoints was made; the detail is its verifier key.
    case auditKeyCreated = "audit_key_created"
    /// An operator accepted a database restored from a backup (`chainvault audit accept-restore`); the
    /// detail is their reason.
    case restoreAccepted = "restore_accepted"
    /// The signing key was rotated (`chainvault audit rotate-signing-key`); the detail is the new verifier key.
    case auditKeyRotated = "audit_key_rotated"
    /// A doctor opened a report without consent in an emergency; the detail is their reason.
    case emergency
    /// An admin reviewed an emergency access.
    case emergencyReviewed = "emergency_reviewed"
}

/// How an audited action ended.
package enum AuditOutcome: String, Codable, Sendable, CaseIterable {
    /// Done as asked.
    case success
    /// Refused: wrong credentials or code, no consent, no such thing for this caller.
    case denied
    /// Attempted but failed on the server's side (a chain that would not read, a code that could not be sent).
    case failed
}

/// One entry of the audit ledger. Each carries the SHA-256 of the entry before it, so that editing,
/// removing or reordering entries breaks the chain at the first entry touched.
package struct AuditEntry: Codable, Sendable, Equatable {
    package var id: Int64
    /// Seconds since 1970.
    package var time: Int64
    /// The user who acted; nil when nobody was authenticated (a failed login for an unknown e-mail).
    package var actorId: Int64?
    package var action: AuditAction
    /// What was acted on, such as `report:12`, `user:3` or `request:5`.
    package var subject: String
    /// The patient whose data the subject is, so that they can see who looked at it.
    package var patientId: Int64?
    package var outcome: AuditOutcome
    /// A short note (the e-mail of a failed login, the reason of a refusal); never a secret or a code.
    package var detail: String
    package var previousHash: Data
    package var hash: Data
    /// 2 for an entry whose leaf also carries the names below (appended since migration v11), 1 before:
    /// what a page shows beside the entry's ✓ is then what the signed tree covers, not the current rows of
    /// other tables (which an insider could swap).
    package var leafVersion: Int
    /// The actor's name when the entry was appended (version 2; empty when there was no actor).
    package var leafActorName: String?
    /// The patient's name when the entry was appended (version 2; empty when there was no patient).
    package var leafPatientName: String?
    /// The report's title when the subject is a report (version 2; else empty).
    package var leafReportTitle: String?

    package init(
        id: Int64, time: Int64, actorId: Int64?, action: AuditAction, subject: String, patientId: Int64?, outcome: AuditOutcome,
        detail: String, previousHash: Data, hash: Data, leafVersion: Int = 1, leafActorName: String? = nil,
        leafPatientName: String? = nil, leafReportTitle: String? = nil
    ) {
        self.id = id
        self.time = time
        self.actorId = actorId
        self.action = action
        self.subject = subject
        self.patientId = patientId
        self.outcome = outcome
        self.detail = detail
        self.previousHash = previousHash
        self.hash = hash
        self.leafVersion = leafVersion
        self.leafActorName = leafActorName
        self.leafPatientName = leafPatientName
        self.leafReportTitle = leafReportTitle
    }

    /// Decodes a row of any schema since v1: a ledger read before migration v11 (the tree's take-over at
    /// v7) has no leaf names, and its entries are version 1.
    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try container.decode(Int64.self, forKey: .id), time: try container.decode(Int64.self, forKey: .time),
            actorId: try container.decodeIfPresent(Int64.self, forKey: .actorId),
            action: try container.decode(AuditAction.self, forKey: .action), subject: try container.decode(String.self, forKey: .subject),
            patientId: try container.decodeIfPresent(Int64.self, forKey: .patientId),
            outcome: try container.decode(AuditOutcome.self, forKey: .outcome), detail: try container.decode(String.self, forKey: .detail),
            previousHash: try container.decode(Data.self, forKey: .previousHash), hash: try container.decode(Data.self, forKey: .hash),
            leafVersion: try container.decodeIfPresent(Int.self, forKey: .leafVersion) ?? 1,
            leafActorName: try container.decodeIfPresent(String.self, forKey: .leafActorName),
            leafPatientName: try container.decodeIfPresent(String.self, forKey: .leafPatientName),
            leafReportTitle: try container.decodeIfPresent(String.self, forKey: .leafReportTitle))
    }

    /// The chain hash: the SHA-256 of the previous entry's hash and every field of this one
    /// (``canonicalFields``, the tag excepted: the chain has its own), each length-prefixed so that no two
    /// different entries serialize alike.
    static func digest(previous: Data, fields: [String]) -> Data {
        var hasher = SHA256()
        hasher.update(data: Array("chainvault-audit-v1".utf8))
        hasher.update(data: previous)
        for field in fields.dropFirst() {
            let bytes = Array(field.utf8)
            withUnsafeBytes(of: UInt32(bytes.count).bigEndian) { hasher.update(bufferPointer: $0) }
            hasher.update(data: bytes)
        }
        return Data(hasher.finalize())
    }

    /// The hash this entry should carry, computed from its stored fields.
    var expectedHash: Data { Self.digest(previous: previousHash, fields: canonicalFields) }

    /// The tag that starts a version-1 entry's canonical encoding.
    static let canonicalTag = "chainvault-audit-entry-v1"
    /// The tag that starts a version-2 entry's canonical encoding (the names appended).
    static let canonicalTagV2 = "chainvault-audit-entry-v2"

    /// The entry's bytes as a leaf of the ledger's Merkle tree: length-prefixed fields (a 4-byte
    /// big-endian length, then UTF-8). Version 1, nine: the tag `chainvault-audit-entry-v1`, id, time,
    /// actor id, action, subject, patient id, outcome, detail. Numbers are decimal; an absent actor or
    /// patient is `-`. Version 2, twelve: the tag `chainvault-audit-entry-v2`, the same eight, then the
    /// actor's name, the patient's name and the report's title as they were when the entry was appended
    /// (empty when there is none). docs/hospital.md works an example through.
    package var canonicalBytes: [UInt8] { Self.canonicalBytes(canonicalFields) }

    /// Each field as a 4-byte big-endian length and its UTF-8.
    static func canonicalBytes(_ fields: [String]) -> [UInt8] {
        var bytes: [UInt8] = []
        for field in fields {
            let utf8 = Array(field.utf8)
            bytes += withUnsafeBytes(of: UInt32(utf8.count).bigEndian, Array.init)
            bytes += utf8
        }
        return bytes
    }

    var canonicalFields: [String] {
        Self.canonicalFields(
            id: id, time: time, actorId: actorId, action: action.rawValue, subject: subject, patientId: patientId,
            outcome: outcome.rawValue, detail: detail, names: names)
    }

    /// The names a version-2 entry carries; nil for version 1.
    package var names: Names? {
        leafVersion >= 2 ? Names(actor: leafActorName ?? "", patient: leafPatientName ?? "", report: leafReportTitle ?? "") : nil
    }

    /// What a version-2 leaf says of the people and the report an entry is about.
    package struct Names: Sendable, Equatable {
        package var actor: String
        package var patient: String
        package var report: String

        package init(actor: String, patient: String, report: String) {
            self.actor = actor
            self.patient = patient
            self.report = report
        }
    }

    /// The tag and the eight fields, as text, and the three names for version 2.
    static func canonicalFields(
        id: Int64, time: Int64, actorId: Int64?, action: String, subject: String, patientId: Int64?, outcome: String, detail: String,
        names: Names? = nil
    ) -> [String] {
        let fields = [
            String(id), String(time), actorId.map(String.init) ?? "-", action, subject, patientId.map(String.init) ?? "-", outcome, detail,
        ]
        guard let names else { return [canonicalTag] + fields }
        return [canonicalTagV2] + fields + [names.actor, names.patient, names.report]
    }

    /// The names of the canonical fields after the tag, for people reading a decoded entry (the last three
    /// only in version 2).
    package static let canonicalFieldNames = [
        "id", "time", "actor", "action", "subject", "patient", "outcome", "detail", "actor name", "patient name", "report title",
    ]

    /// The fields of a canonical encoding after its tag (what `chainvault audit check-proof` shows), or
    /// nil when `bytes` is not one: the tag first, then exactly its version's fields (eight or eleven),
    /// nothing after the last.
    package static func canonicalFields(decoding bytes: [UInt8]) -> [String]? {
        guard bytes.count <= 64 * 1024 else { return nil }
        var fields: [String] = []
        var position = 0
        while position < bytes.count {
            guard fields.count < 12, bytes.count - position >= 4 else { return nil }
            let length = bytes[position..<(position + 4)].reduce(0) { $0 << 8 | Int($1) }
            position += 4
            guard bytes.count - position >= length, let field = String(validating: bytes[position..<(position + length)], as: UTF8.self)
            else { return nil }
            fields.append(field)
            position += length
        }
        guard (fields.count == 9 && fields.first == canonicalTag) || (fields.count == 12 && fields.first == canonicalTagV2) else {
            return nil
        }
        return Array(fields.dropFirst())
    }

    /// The entry's Merkle leaf hash: `SHA-256(0x00 ‖ canonicalBytes)`.
    package var leafHash: MerkleTree.Hash { MerkleTree.leafHash(canonicalBytes) }

}

/// The hash-chained audit ledger in the hospital database.
package enum AuditLedger {
    /// The previous hash of the first entry.
    static let genesis = Data(repeating: 0, count: 32)

    /// What an action adds to the ledger.
    package struct Event: Sendable {
        var actorId: Int64?
        var action: AuditAction
        var subject: String
        var patientId: Int64?
        var outcome: AuditOutcome
        var detail: String

        init(
            actor: Int64?, _ action: AuditAction, subject: String, patient: Int64? = nil, outcome: AuditOutcome = .success,
            detail: String = ""
        ) {
            self.actorId = actor
            self.action = action
            self.subject = subject
            self.patientId = patient
            self.outcome = outcome
            self.detail = String(detail.prefix(300))
        }
    }

    /// Appends an entry in the caller's write transaction, so that the action and its entry commit
    /// together (a write transaction is serializable: the chain never forks), and adds it to the Merkle
    /// tree as leaf `id - 1`. Gives the new entry's id (for a notice that carries its proof).
    @discardableResult
    static func append(_ event: Event, time: Int64, in transaction: HospitalTransaction) async throws -> Int64 {
        let ledger = transaction.ledger
        let last = try await ledger.newestEntry()
        let id = (last?.id ?? 0) + 1
        let previous = last?.hash ?? genesis
        // The names as they are now go into the leaf, so that a page shows what the signed tree covers.
        let report = event.subject.hasPrefix("report:") ? Int64(event.subject.dropFirst("report:".count)) : nil
        let names = try await ledger.leafNames(actor: event.actorId, patient: event.patientId, reportId: report)
        var entry = AuditEntry(
            id: id, time: time, actorId: event.actorId, action: event.action, subject: event.subject, patientId: event.patientId,
            outcome: event.outcome, detail: event.detail, previousHash: previous, hash: Data(), leafVersion: 2,
            leafActorName: names.actor, leafPatientName: names.patient, leafReportTitle: names.report)
        entry.hash = AuditEntry.digest(previous: previous, fields: entry.canonicalFields)
        // The leaf and the subtrees it completes, from its left siblings (one read, one write).
        let index = Int(id - 1)
        let siblings = try await ledger.subtrees(Set(AuditTree.siblings(ofLeaf: index)))
        try await ledger.insert(entry, subtrees: try AuditTree.nodes(appending: entry.leafHash, at: index, siblings: siblings))
        return id
    }

    /// The entry with this id, if there is one.
    package static func entry(_ id: Int64, in storage: any HospitalStorage) async throws -> AuditEntry? {
        try await storage.read { try await $0.ledger.entry(id: id) }
    }

    /// Entries after `after` (an entry id), oldest first: an admin sees all, a patient those about their
    /// own data ("who looked at my reports"), anyone else none.
    package static func entries(for identity: Identity, after: Int64, limit: Int, in storage: any HospitalStorage) async throws
        -> [AuditEntry]
    {
        switch identity.role {
        case .admin:
            return try await storage.read { try await $0.ledger.entries(after: after, patientId: nil, limit: limit) }
        case .patient:
            return try await storage.read { try await $0.ledger.entries(after: after, patientId: identity.userId, limit: limit) }
        case .doctor:
            return []
        }
    }

    /// What an admin filters the ledger by; empty text and nil match everything.
    package struct Filter: Sendable {
        /// Part of the patient's name.
        package var patient = ""
        /// Part of the actor's name.
        package var actor = ""
        package var action: AuditAction?
        package var outcome: AuditOutcome?
        /// Seconds since 1970, inclusive start and exclusive end.
        package var from: Int64?
        package var until: Int64?

        package init() {}
    }

    /// An entry with the names behind its ids.
    package struct NamedEntry: Sendable {
        package var entry: AuditEntry
        package var actorName: String?
        package var patientName: String?
        /// The title of the report the subject names, if it is one.
        package var reportTitle: String?

        package init(entry: AuditEntry, actorName: String?, patientName: String?, reportTitle: String?) {
            self.entry = entry
            self.actorName = actorName
            self.patientName = patientName
            self.reportTitle = reportTitle
        }
    }

    /// An entry as stored, its fields as text (what ``AuditVerifier`` recomputes, even from an edited row).
    package struct StoredEntry: Sendable {
        package var id: Int64
        package var time: Int64
        package var actorId: Int64?
        package var action: String
        package var subject: String
        package var patientId: Int64?
        package var outcome: String
        package var detail: String
        package var previousHash: Data
        package var hash: Data
        package var leafVersion: Int
        package var leafActorName: String?
        package var leafPatientName: String?
        package var leafReportTitle: String?
        /// The tree's stored leaf for the entry; nil when the tree lacks it.
        package var storedLeaf: Data?

        package init(
            id: Int64, time: Int64, actorId: Int64?, action: String, subject: String, patientId: Int64?, outcome: String, detail: String,
            previousHash: Data, hash: Data, leafVersion: Int, leafActorName: String?, leafPatientName: String?, leafReportTitle: String?,
            storedLeaf: Data?
        ) {
            self.id = id
            self.time = time
            self.actorId = actorId
            self.action = action
            self.subject = subject
            self.patientId = patientId
            self.outcome = outcome
            self.detail = detail
            self.previousHash = previousHash
            self.hash = hash
            self.leafVersion = leafVersion
            self.leafActorName = leafActorName
            self.leafPatientName = leafPatientName
            self.leafReportTitle = leafReportTitle
            self.storedLeaf = storedLeaf
        }

        /// The canonical fields its stored values make.
        var canonicalFields: [String] {
            let names =
                leafVersion >= 2
                ? AuditEntry.Names(actor: leafActorName ?? "", patient: leafPatientName ?? "", report: leafReportTitle ?? "") : nil
            return AuditEntry.canonicalFields(
                id: id, time: time, actorId: actorId, action: action, subject: subject, patientId: patientId, outcome: outcome,
                detail: detail, names: names)
        }
    }

    /// Entries matching `filter`, newest first, at most `limit`, with names and report titles.
    package static func search(_ filter: Filter, limit: Int, in storage: any HospitalStorage) async throws -> [NamedEntry] {
        try await storage.read { try await $0.ledger.search(filter, limit: limit) }
    }

    /// The inclusion proof of entry `id` in the tree `checkpoint` signed, as a C2SP tlog proof whose
    /// extra data is the entry's canonical encoding; nil when the checkpoint does not cover the entry or
    /// there is no such entry.
    package static func proof(entry id: Int64, in checkpoint: SignedCheckpoint, storage: any HospitalStorage) async throws -> TlogProof? {
        try await storage.read { try await proofs(of: [id], in: checkpoint, $0.ledger)[id] }
    }

    /// The proofs of the entries `ids` that `checkpoint` covers, by id, in one read (O(log n) each).
    static func proofs(of ids: [Int64], in checkpoint: SignedCheckpoint, _ ledger: any LedgerStore) async throws -> [Int64: TlogProof] {
        let size = checkpoint.checkpoint.size
        var proofs: [Int64: TlogProof] = [:]
        for id in ids where id >= 1 && id <= Int64(size) {
            guard let entry = try await ledger.entry(id: id) else { continue }
            let hashes = try await AuditTree.withSubtrees(in: ledger) { try MerkleTree.inclusionProof(index: Int(id - 1), size: size, $0) }
            proofs[id] = TlogProof(extra: entry.canonicalBytes, index: Int(id - 1), hashes: hashes, checkpoint: checkpoint)
        }
        return proofs
    }

    /// Appends an entry on its own (an action whose only record is the entry, such as an export).
    package static func record(
        actor: Int64?, _ action: AuditAction, subject: String, patient: Int64? = nil, outcome: AuditOutcome = .success, detail: String,
        time: Int64, in storage: any HospitalStorage
    ) async throws {
        try await storage.write { transaction in
            try await append(
                .init(actor: actor, action, subject: subject, patient: patient, outcome: outcome, detail: detail), time: time,
                in: transaction)
        }
    }

    /// Every entry ``entries(for:after:limit:in:)`` gives `identity` that `matching` accepts, oldest
    /// first, read a page at a time; only the last `keepingLast` are kept while reading.
    package static func allEntries(
        for identity: Identity, in storage: any HospitalStorage, matching: (AuditEntry) -> Bool = { _ in true },
        keepingLast: Int = .max
    ) async throws -> [AuditEntry] {
        var entries: [AuditEntry] = []
        var after: Int64 = 0
        while true {
            let page = try await Self.entries(for: identity, after: after, limit: 1000, in: storage)
            entries += page.filter(matching)
            if entries.count > keepingLast { entries.removeFirst(entries.count - keepingLast) }
            guard page.count == 1000, let last = page.last else { return entries }
            after = last.id
        }
    }

    /// The result of checking the whole ledger.
    package enum Verification: Sendable, Equatable {
        case intact(entries: Int)
        /// The first entry whose hash, link or number is wrong, and why.
        case broken(entryId: Int64, reason: String)
    }

    /// Walks the ledger from the first entry, recomputing every hash.
    package static func verify(_ storage: any HospitalStorage) async throws -> Verification {
        try await storage.read { transaction in
            var previous = genesis
            var expectedId: Int64 = 1
            while true {
                let page = try await transaction.ledger.storedEntries(after: expectedId - 1, limit: 1000)
                for entry in page {
                    guard entry.id == expectedId else {
                        return .broken(
                            entryId: entry.id, reason: "entry \(expectedId) is missing (found \(entry.id) after \(expectedId - 1))")
                    }
                    guard AuditAction(rawValue: entry.action) != nil, AuditOutcome(rawValue: entry.outcome) != nil else {
                        return .broken(entryId: entry.id, reason: "the entry does not decode: its action or outcome is unknown")
                    }
                    guard entry.previousHash == previous else {
                        return .broken(entryId: entry.id, reason: "its previous-hash does not match entry \(entry.id - 1)")
                    }
                    guard AuditEntry.digest(previous: previous, fields: entry.canonicalFields) == entry.hash else {
                        return .broken(entryId: entry.id, reason: "its fields do not match its hash (edited)")
                    }
                    previous = entry.hash
                    expectedId += 1
                }
                if page.count < 1000 { return .intact(entries: Int(expectedId - 1)) }
            }
        }
    }
}
