import ChunkChain
import Foundation
import HTTPTypes
import Hummingbird

/// Every error the hospital API answers with: an HTTP status and a JSON body
/// `{"error": {"code": "...", "message": "...", "field": "..."}}` whose `code` a client can switch on.
/// Messages never contain passwords, tokens or codes.
public struct HospitalError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    /// A stable, machine-readable code such as `invalid_field` or `not_found`.
    public var code: String
    public var message: String
    /// The request field at fault, when one is.
    public var field: String?
    /// Seconds a client should wait before retrying (429).
    public var retryAfter: Int?

    public init(_ status: HTTPResponse.Status, code: String, message: String, field: String? = nil, retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.retryAfter = retryAfter
    }

    public var description: String { "\(status.code) \(code): \(message)\(field.map { " (field \($0))" } ?? "")" }

    /// A field is missing or holds a value that is not accepted.
    public static func invalid(_ field: String, _ message: String) -> HospitalError {
        HospitalError(.badRequest, code: "invalid_field", message: message, field: field)
    }

    /// The body is not the JSON this route expects.
    public static func malformedBody(_ message: String) -> HospitalError {
        HospitalError(.badRequest, code: "malformed_body", message: message)
    }

    /// No valid bearer token (missing, unknown, expired or revoked).
    public static let unauthenticated = HospitalError(
        .unauthorized, code: "unauthenticated",
        message: "Log in first: send Authorization: Bearer <token> from POST /api/sessions.")

    /// Wrong e-mail or password; which of the two is never said.
    public static let badCredentials = HospitalError(
        .unauthorized, code: "bad_credentials", message: "The e-mail or the password is wrong.")

    /// The password was right; the account signs in with a second step and no code came with it.
    public static let secondFactorRequired = HospitalError(
        .unauthorized, code: "second_factor_required",
        message: "This account signs in with a code from an authenticator app: send it as `code`.", field: "code")

    /// The password was right, the second step's code is not (wrong, used or from another time).
    public static let badSecondFactor = HospitalError(
        .unauthorized, code: "bad_second_factor", message: "The code is wrong or was used already.", field: "code")

    /// A sign-in waiting for its code is unknown, used, expired or had too many wrong codes.
    public static let signInAgain = HospitalError(
        .unauthorized, code: "sign_in_again", message: "Sign in again: the code was asked for too long ago or too often.")

    /// The password was right, but a doctor's registration still waits for an admin.
    public static let accountPending = HospitalError(
        .forbidden, code: "account_pending", message: "An admin has not approved this account yet.")

    /// The password was right, but an admin disabled the account.
    public static let accountDisabled = HospitalError(
        .forbidden, code: "account_disabled", message: "This account is disabled; ask the hospital's admins.")

    /// A password-reset link that is unknown, used or expired (which of them is not told).
    public static let resetInvalid = HospitalError(
        .badRequest, code: "reset_invalid", message: "This link does not work any more. Ask for a new one.")

    /// An admin creating a staff account chose an address that has an account (sign-ups never say so).
    public static let emailTaken = HospitalError(
        .conflict, code: "email_taken", message: "An account with this e-mail exists already.", field: "email")

    /// A sign-up's e-mailed link that is unknown, used or expired (which of them is not told).
    public static let activationInvalid = HospitalError(
        .badRequest, code: "activation_invalid", message: "This link does not work any more. Register again for a new one.")

    /// The caller's role may not do this.
    public static func forbidden(_ message: String) -> HospitalError { HospitalError(.forbidden, code: "forbidden", message: message) }

    /// The storage (the data root's file system or a chain bucket) is full; retrying will not help until
    /// an operator made room.
    public static let insufficientStorage = HospitalError(
        HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage"), code: "insufficient_storage",
        message: "The storage is full; the report was not stored.")

    /// No such resource, or one the caller may not see (the two are not told apart).
    public static func notFound(_ what: String) -> HospitalError {
        HospitalError(.notFound, code: "not_found", message: "No such \(what).")
    }

    /// The request conflicts with the current state (an e-mail taken, a slot booked).
    public static func conflict(_ code: String, _ message: String, field: String? = nil) -> HospitalError {
        HospitalError(.conflict, code: code, message: message, field: field)
    }

    /// Too many attempts; retry after the given seconds.
    public static func throttled(retryAfter: Int) -> HospitalError {
        HospitalError(
            .tooManyRequests, code: "throttled", message: "Too many attempts. Try again in \(retryAfter) seconds.", retryAfter: retryAfter)
    }

    /// Too many password checks are queued already.
    public static let busy = HospitalError(
        .tooManyRequests, code: "busy", message: "Too many logins at once. Try again in a few seconds.", retryAfter: 2)

    /// The request body ended before its declared length, or the client stopped sending it.
    public static let incompleteBody = HospitalError(
        .badRequest, code: "incomplete_body", message: "The request body ended before its Content-Length; nothing was stored.")

    /// The report's chain cannot be read (its head chunk is missing or damaged): an operator restores it
    /// from the backup; `chainvault chain verify --all` names it.
    public static let reportUnavailable = HospitalError(
        .internalServerError, code: "report_unavailable",
        message: "The report's stored data cannot be read; the incident is logged and an operator must restore it.")

    /// Anything the server did wrong; the cause is logged, never shown.
    public static let internalError = HospitalError(
        .internalServerError, code: "internal_error", message: "The server failed; the incident is logged. Try again later.")
}

extension HospitalError: HTTPResponseError {
    struct Body: Encodable {
        struct Detail: Encodable {
            var code: String
            var message: String
            var field: String?
        }
        var error: Detail
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = try encoder.encode(Body(error: .init(code: code, message: message, field: field)))
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: json)))
    }
}

extension HospitalError {
    /// What a chain failure means to the API's caller: a full store is 507 (nothing was kept), a damaged
    /// or undecryptable chain is `report_unavailable` (an operator must restore it), and a keyring or
    /// store the server cannot use is the server's own failure.
    public init(_ error: ChainError) {
        switch error {
        case .storeFull: self = .insufficientStorage
        case .missingChunk, .hashMismatch, .authenticationFailed, .foreignChunk, .wrongIndex, .truncated, .truncatedChunk, .extraData,
            .unsupportedVersion, .malformedChunk, .manifestMismatch, .wrongMasterKey, .unknownKeyId:
            self = .reportUnavailable
        case .keyring, .keyringMissing, .store: self = .internalError
        }
    }
}
