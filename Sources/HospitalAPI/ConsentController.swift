import ChunkChain
import Foundation
import HospitalCore
import Hummingbird

/// `/api/access-requests`, `/api/grants`: consent by one-time code.
struct ConsentController {
    let consent: Consent

    struct AccessRequestView: ResponseCodable {
        var id: Int64
        var reportId: Int64
        var reportTitle: String
        var patientId: Int64
        var doctorId: Int64
        var doctorName: String
        var status: AccessRequestStatus
        var attemptsLeft: Int
        var createdAt: Date
        var expiresAt: Date

        init(_ listing: AccessRequestListing, maxAttempts: Int = Consent.Policy().maxAttempts) {
            id = listing.record.id ?? 0
            reportId = listing.record.reportId
            reportTitle = listing.reportTitle
            patientId = listing.patientId
            doctorId = listing.record.doctorId
            doctorName = listing.doctorName
            status = listing.record.status
            attemptsLeft = max(0, maxAttempts - listing.record.attempts)
            createdAt = Date(seconds: listing.record.createdAt)
            expiresAt = Date(seconds: listing.record.expiresAt)
        }
    }

    struct GrantView: ResponseCodable {
        var id: Int64
        var reportId: Int64
        var reportTitle: String
        var patientId: Int64
        var doctorId: Int64
        var doctorName: String
        var createdAt: Date
        var expiresAt: Date
        var revokedAt: Date?

        init(_ listing: GrantListing) {
            id = listing.record.id ?? 0
            reportId = listing.record.reportId
            reportTitle = listing.reportTitle
            patientId = listing.patientId
            doctorId = listing.record.doctorId
            doctorName = listing.doctorName
            createdAt = Date(seconds: listing.record.createdAt)
            expiresAt = Date(seconds: listing.record.expiresAt)
            revokedAt = listing.record.revokedAt.map(Date.init(seconds:))
        }
    }

    struct Redemption: Decodable {
        var code: String
    }

    func addRoutes(to group: RouterGroup<HospitalRequestContext>) {
        group.get("access-requests", use: requests)
        group.post("access-requests/:id/redemption", use: redeem)
        group.post("access-requests/:id/denial", use: deny)
        group.post("access-requests/:id/approval", use: approve)
        group.get("grants", use: grants)
        group.delete("grants/:id", use: revoke)
    }

    @Sendable func requests(_ request: Request, context: HospitalRequestContext) async throws -> [AccessRequestView] {
        let identity = try context.requireIdentity(.patient, .doctor)
        var status: AccessRequestStatus?
        if let text = request.uri.queryParameters.get("status") {
            guard let value = AccessRequestStatus(rawValue: text) else {
                throw HospitalError.invalid("status", "The status is pending, granted, denied or void.")
            }
            status = value
        }
        return try await consent.requests(for: identity, status: status).map {
            AccessRequestView($0, maxAttempts: consent.policy.maxAttempts)
        }
    }

    @Sendable func redeem(_ request: Request, context: HospitalRequestContext) async throws -> EditedResponse<GrantView> {
        let doctor = try context.requireIdentity(.doctor)
        let input = try await request.decodeJSON(as: Redemption.self)
        let grant = try await consent.redeem(requestId: try context.id("id"), code: input.code, by: doctor)
        return EditedResponse(status: .created, response: GrantView(grant))
    }

    @Sendable func deny(_ request: Request, context: HospitalRequestContext) async throws -> AccessRequestView {
        let patient = try context.requireIdentity(.patient)
        return AccessRequestView(
            try await consent.deny(requestId: try context.id("id"), by: patient), maxAttempts: consent.policy.maxAttempts)
    }

    @Sendable func approve(_ request: Request, context: HospitalRequestContext) async throws -> EditedResponse<GrantView> {
        let patient = try context.requireIdentity(.patient)
        let grant = try await consent.approve(requestId: try context.id("id"), by: patient)
        return EditedResponse(status: .created, response: GrantView(grant))
    }

    @Sendable func grants(_ request: Request, context: HospitalRequestContext) async throws -> [GrantView] {
        try await consent.grants(for: try context.requireIdentity(.patient, .doctor)).map(GrantView.init)
    }

    @Sendable func revoke(_ request: Request, context: HospitalRequestContext) async throws -> HTTPResponse.Status {
        let patient = try context.requireIdentity(.patient)
        _ = try await consent.revoke(grantId: try context.id("id"), by: patient)
        return .noContent
    }
}
