import ChunkChain
import Foundation
import Hex
import HospitalCore
package import Hummingbird
package import Transparency

/// `/api/audit`: the ledger's entries, its signed checkpoint, and proofs anyone can check offline with
/// the ledger's public key (`chainvault audit check-proof`).
package struct AuditController {
    let storage: any HospitalStorage
    let notary: AuditNotary?

    struct AuditView: ResponseCodable {
        var id: Int64
        var time: Date
        var actorId: Int64?
        var action: AuditAction
        var subject: String
        var patientId: Int64?
        var outcome: AuditOutcome
        var detail: String
        var hash: String
        /// For a patient: the entry's inclusion proof in a signed checkpoint, as a C2SP tlog proof.
        var proof: String?

        init(_ entry: AuditEntry, proof: TlogProof? = nil) {
            id = entry.id
            time = Date(seconds: entry.time)
            actorId = entry.actorId
            action = entry.action
            subject = entry.subject
            patientId = entry.patientId
            outcome = entry.outcome
            detail = entry.detail
            hash = Hex.encode(entry.hash)
            self.proof = proof?.serialized
        }
    }

    struct ConsistencyView: ResponseCodable {
        var from: Int
        var to: Int
        /// Base64 SHA-256 hashes, RFC 6962 §2.1.2 order.
        var proof: [String]
    }

    func addRoutes(to group: RouterGroup<HospitalRequestContext>) {
        group.get("audit", use: entries)
        group.get("audit/checkpoint", use: checkpoint)
        group.get("audit/entries/:id/proof", use: proof)
        group.get("audit/consistency", use: consistency)
    }

    /// The notary, or 503 when this server signs no checkpoints (a test without one).
    func requireNotary() throws(HospitalError) -> AuditNotary {
        guard let notary else {
            throw HospitalError(.noSigningKey, "This server signs no audit checkpoints.")
        }
        return notary
    }

    /// Runs `body`, answering 503 `ledger_unsigned` when the signer refuses to sign the ledger's head
    /// (the database no longer holds what it signed: an operator must run `chainvault audit verify`;
    /// the publisher logs why every round).
    func signing<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch is AuditNotary.Refusal {
            throw HospitalError(.ledgerUnsigned, "The audit ledger cannot be signed now; the operators are alerted.")
        }
    }

    /// `?after=ID&limit=N` pages through the ledger, oldest first; a patient's entries carry their proofs.
    @Sendable func entries(_ request: Request, context: HospitalRequestContext) async throws -> [AuditView] {
        let identity = try context.requireIdentity(.patient, .admin)
        let after = try request.integerQuery("after", in: 0...Int64.max, "An entry id, 0 or more.") ?? 0
        let limit = try request.integerQuery("limit", in: 1...1000, "1 to 1000 entries.") ?? 100
        let entries = try await AuditLedger.entries(for: identity, after: after, limit: Int(limit), in: storage)
        guard identity.role == .patient, let notary, !entries.isEmpty else { return entries.map { AuditView($0) } }
        let proofs = try await signing { try await notary.proofs(of: entries.map(\.id)) }
        return entries.map { AuditView($0, proof: proofs[$0.id]) }
    }

    /// The latest signed checkpoint (a C2SP signed note; a new one is signed every
    /// `--audit-checkpoint-interval`). Public: it holds a count and a hash, and auditors and witnesses
    /// need it without an account. Fetching never signs, so that anonymous callers cannot grow the
    /// checkpoint file.
    @Sendable func checkpoint(_ request: Request, context: HospitalRequestContext) async throws -> Response {
        let notary = try requireNotary()
        let signed = try await signing { try await notary.latestCheckpoint() }
        return Self.text(signed.note.serialized)
    }

    /// An entry's inclusion proof as a C2SP tlog proof: an admin's for any entry, a patient's for entries
    /// about their data, a doctor's for their own actions; 404 for the rest.
    @Sendable func proof(_ request: Request, context: HospitalRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        let id = try context.id("id")
        let entry = try await AuditLedger.entry(id, in: storage)
        guard let entry else { throw HospitalError.notFound("audit entry") }
        let allowed =
            switch identity.role {
            case .admin: true
            case .patient: entry.patientId == identity.userId
            case .doctor: entry.actorId == identity.userId
            }
        guard allowed else { throw HospitalError.notFound("audit entry") }
        let notary = try requireNotary()
        guard let proof = try await signing({ try await notary.proof(entry: id) }) else { throw HospitalError.notFound("audit entry") }
        return Self.proofFile(proof, entry: id)
    }

    /// A proof as a file to keep: `audit-entry-ID.tlog-proof` (the API and the portal's history).
    package static func proofFile(_ proof: TlogProof, entry id: Int64) -> Response {
        var response = text(proof.serialized)
        response.headers[.contentDisposition] = "attachment; filename=\"audit-entry-\(id).tlog-proof\""
        return response
    }

    /// `?from=M&to=N`: the proof that the ledger's first M entries are a prefix of its first N. Public.
    @Sendable func consistency(_ request: Request, context: HospitalRequestContext) async throws -> ConsistencyView {
        guard let from = try request.integerQuery("from", in: 1...Int64(Int32.max), "A tree size, 1 or more.") else {
            throw HospitalError.invalid("from", "A tree size, 1 or more.")
        }
        guard let to = try request.integerQuery("to", in: from...Int64(Int32.max), "A tree size, at least from.") else {
            throw HospitalError.invalid("to", "A tree size, at least from.")
        }
        guard let proof = try await requireNotary().consistencyProof(first: Int(from), size: Int(to)) else {
            throw HospitalError.invalid("to", "The ledger has fewer entries.")
        }
        return ConsistencyView(from: Int(from), to: Int(to), proof: proof.map { Data($0).base64EncodedString() })
    }

    static func text(_ body: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
