package import ChunkChain
import Foundation

/// Every error the hospital answers with, by its stable, machine-readable code: the one table of them.
/// The API gives each its HTTP status (``HospitalErrorCode/status``, one switch), the portal its words
/// (one switch in ``PortalPages/words(for:)``), and `docs/hospital.md` and the OpenAPI document list each
/// (a test holds them against `allCases`): a new code does not compile until each has it.
package enum HospitalErrorCode: String, CaseIterable, Sendable {
    // What the client sent.
    case invalidField = "invalid_field"
    case malformedBody = "malformed_body"
    case incompleteBody = "incomplete_body"
    case badRequest = "bad_request"
    case tooLarge = "too_large"
    case unsupportedMediaType = "unsupported_media_type"
    case methodNotAllowed = "method_not_allowed"
    case notFound = "not_found"
    // Signing in and accounts.
    case unauthenticated
    case badCredentials = "bad_credentials"
    case secondFactorRequired = "second_factor_required"
    case badSecondFactor = "bad_second_factor"
    case signInAgain = "sign_in_again"
    case accountPending = "account_pending"
    case accountDisabled = "account_disabled"
    case resetInvalid = "reset_invalid"
    case activationInvalid = "activation_invalid"
    case emailTaken = "email_taken"
    case throttled
    case busy
    // Who may do what.
    case forbidden
    case consentRequired = "consent_required"
    case noCompletedCheckup = "no_completed_checkup"
    // Slots.
    case slotTaken = "slot_taken"
    case slotInPast = "slot_in_past"
    case slotOverlaps = "slot_overlaps"
    case slotBooked = "slot_booked"
    case slotCompleted = "slot_completed"
    case slotNotBooked = "slot_not_booked"
    case checkupNotStarted = "checkup_not_started"
    // Consent and emergencies.
    case alreadyHasAccess = "already_has_access"
    case alreadyReviewed = "already_reviewed"
    case ambiguousPatient = "ambiguous_patient"
    case wrongCode = "wrong_code"
    case codeExpired = "code_expired"
    case requestVoid = "request_void"
    case requestDenied = "request_denied"
    case requestUsed = "request_used"
    case requestClosed = "request_closed"
    case codeNotSent = "code_not_sent"
    // The server's side.
    case ledgerUnsigned = "ledger_unsigned"
    case noSigningKey = "no_signing_key"
    case insufficientStorage = "insufficient_storage"
    case reportUnavailable = "report_unavailable"
    case databaseUnavailable = "database_unavailable"
    case internalError = "internal_error"
}

/// A refusal of the hospital's services: its code, an English message for the API's callers (the portal
/// shows its own words for the code, never this), the request field at fault and, for a throttle, when
/// to retry. Messages never contain passwords, tokens or codes.
package struct HospitalError: Error, Sendable, Equatable, CustomStringConvertible {
    package var code: HospitalErrorCode
    package var message: String
    /// The request field at fault, when one is.
    package var field: String?
    /// Seconds a client should wait before retrying (429).
    package var retryAfter: Int?
    /// Words for the `{placeholders}` of the portal's text for the code (`left`: a code's attempts left).
    package var values: [String: String]

    package init(
        _ code: HospitalErrorCode, _ message: String, field: String? = nil, retryAfter: Int? = nil, values: [String: String] = [:]
    ) {
        self.code = code
        self.message = message
        self.field = field
        self.retryAfter = retryAfter
        self.values = values
    }

    package var description: String { "\(code.rawValue): \(message)\(field.map { " (field \($0))" } ?? "")" }

    /// A field is missing or holds a value that is not accepted.
    package static func invalid(_ field: String, _ message: String) -> HospitalError {
        HospitalError(.invalidField, message, field: field)
    }

    /// The body is not the JSON this route expects.
    package static func malformedBody(_ message: String) -> HospitalError {
        HospitalError(.malformedBody, message)
    }

    /// No valid bearer token (missing, unknown, expired or revoked).
    package static let unauthenticated = HospitalError(
        .unauthenticated, "Log in first: send Authorization: Bearer <token> from POST /api/sessions.")

    /// Wrong e-mail or password; which of the two is never said.
    package static let badCredentials = HospitalError(.badCredentials, "The e-mail or the password is wrong.")

    /// The password was right; the account signs in with a second step and no code came with it.
    package static let secondFactorRequired = HospitalError(
        .secondFactorRequired, "This account signs in with a code from an authenticator app: send it as `code`.", field: "code")

    /// The password was right, the second step's code is not (wrong, used or from another time).
    package static let badSecondFactor = HospitalError(.badSecondFactor, "The code is wrong or was used already.", field: "code")

    /// A sign-in waiting for its code is unknown, used, expired or had too many wrong codes.
    package static let signInAgain = HospitalError(.signInAgain, "Sign in again: the code was asked for too long ago or too often.")

    /// The password was right, but a doctor's registration still waits for an admin.
    package static let accountPending = HospitalError(.accountPending, "An admin has not approved this account yet.")

    /// The password was right, but an admin disabled the account.
    package static let accountDisabled = HospitalError(.accountDisabled, "This account is disabled; ask the hospital's admins.")

    /// A password-reset link that is unknown, used or expired (which of them is not told).
    package static let resetInvalid = HospitalError(.resetInvalid, "This link does not work any more. Ask for a new one.")

    /// An admin creating a staff account chose an address that has an account (sign-ups never say so).
    package static let emailTaken = HospitalError(.emailTaken, "An account with this e-mail exists already.", field: "email")

    /// A sign-up's e-mailed link that is unknown, used or expired (which of them is not told).
    package static let activationInvalid = HospitalError(
        .activationInvalid, "This link does not work any more. Register again for a new one.")

    /// The caller's role may not do this.
    package static func forbidden(_ message: String) -> HospitalError {
        HospitalError(.forbidden, message)
    }

    /// The storage (the data root's file system or a chain bucket) is full; retrying will not help until
    /// an operator made room.
    package static let insufficientStorage = HospitalError(.insufficientStorage, "The storage is full; the report was not stored.")

    /// No such resource, or one the caller may not see (the two are not told apart).
    package static func notFound(_ what: String) -> HospitalError {
        HospitalError(.notFound, "No such \(what).")
    }

    /// Too many attempts; retry after the given seconds.
    package static func throttled(retryAfter: Int) -> HospitalError {
        HospitalError(.throttled, "Too many attempts. Try again in \(retryAfter) seconds.", retryAfter: retryAfter)
    }

    /// Too many password checks are queued already.
    package static let busy = HospitalError(.busy, "Too many logins at once. Try again in a few seconds.", retryAfter: 2)

    /// The request body ended before its declared length, or the client stopped sending it.
    package static let incompleteBody = HospitalError(
        .incompleteBody, "The request body ended before its Content-Length; nothing was stored.")

    /// The report's chain cannot be read (its head chunk is missing or damaged): an operator restores it
    /// from the backup; `chainvault chain verify --all` names it.
    package static let reportUnavailable = HospitalError(
        .reportUnavailable, "The report's stored data cannot be read; the incident is logged and an operator must restore it.")

    /// Anything the server did wrong; the cause is logged, never shown.
    package static let internalError = HospitalError(.internalError, "The server failed; the incident is logged. Try again later.")
}

extension HospitalError {
    /// What a chain failure means to the API's caller: a full store is 507 (nothing was kept), a damaged
    /// or undecryptable chain is `report_unavailable` (an operator must restore it), and a keyring or
    /// store the server cannot use is the server's own failure.
    package init(_ error: ChainError) {
        switch error {
        case .storeFull: self = .insufficientStorage
        case .missingChunk, .hashMismatch, .authenticationFailed, .foreignChunk, .wrongIndex, .truncated, .truncatedChunk, .extraData,
            .unsupportedVersion, .malformedChunk, .manifestMismatch, .wrongMasterKey, .unknownKeyId:
            self = .reportUnavailable
        case .keyring, .keyringMissing, .store: self = .internalError
        }
    }
}
