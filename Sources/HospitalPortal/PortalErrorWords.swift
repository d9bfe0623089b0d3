import HospitalAPI
import HospitalCore
import Hummingbird

extension PortalPages {
    /// What a page says for a refusal, in the reader's language, never the API's English: a throttle its
    /// wait, a field's problem its field's rule (`problem_<field>`), every other code its words.
    func words(for error: HospitalError, request: Request) -> String {
        if error.code == .throttled, let seconds = error.retryAfter { return throttled(seconds, request: request) }
        if error.code == .invalidField, let field = error.field, catalogues.has("problem_\(field)") {
            return string("problem_\(field)", request: request)
        }
        if error.code == .wrongCode, error.values["left"] == "0" { return string("error_wrong_code_last", request: request) }
        return string(Self.wordsKey(error.code), request: request, filling: error.values)
    }

    /// The catalogue key of each code's words: one case each, so that a new code does not compile until
    /// the portal has words for it (a test checks that the catalogue holds every key).
    static func wordsKey(_ code: HospitalErrorCode) -> String {
        switch code {
        case .invalidField: "error_invalid_field"
        case .malformedBody: "error_malformed_body"
        case .incompleteBody: "error_incomplete_body"
        case .badRequest: "error_bad_request"
        case .tooLarge: "error_too_large"
        case .unsupportedMediaType: "error_unsupported_media_type"
        case .methodNotAllowed: "error_method_not_allowed"
        case .notFound: "error_not_found"
        case .unauthenticated: "error_unauthenticated"
        case .badCredentials: "error_bad_credentials"
        case .secondFactorRequired: "error_second_factor_required"
        case .badSecondFactor: "error_bad_second_factor"
        case .signInAgain: "error_sign_in_again"
        case .accountPending: "error_account_pending"
        case .accountDisabled: "error_account_disabled"
        case .resetInvalid: "error_reset_invalid"
        case .activationInvalid: "error_activation_invalid"
        case .emailTaken: "error_email_taken"
        case .throttled: "error_throttled"
        case .busy: "error_busy"
        case .forbidden: "error_forbidden"
        case .consentRequired: "error_consent_required"
        case .noCompletedCheckup: "error_no_completed_checkup"
        case .slotTaken: "error_slot_taken"
        case .slotInPast: "error_slot_in_past"
        case .slotOverlaps: "error_slot_overlaps"
        case .slotBooked: "error_slot_booked"
        case .slotCompleted: "error_slot_completed"
        case .slotNotBooked: "error_slot_not_booked"
        case .checkupNotStarted: "error_checkup_not_started"
        case .alreadyHasAccess: "error_already_has_access"
        case .alreadyReviewed: "error_already_reviewed"
        case .ambiguousPatient: "error_ambiguous_patient"
        case .wrongCode: "error_wrong_code"
        case .codeExpired: "error_code_expired"
        case .requestVoid: "error_request_void"
        case .requestDenied: "error_request_denied"
        case .requestUsed: "error_request_used"
        case .requestClosed: "error_request_closed"
        case .codeNotSent: "error_code_not_sent"
        case .ledgerUnsigned: "error_ledger_unsigned"
        case .noSigningKey: "error_no_signing_key"
        case .insufficientStorage: "error_insufficient_storage"
        case .reportUnavailable: "error_report_unavailable"
        case .databaseUnavailable: "error_database_unavailable"
        case .internalError: "error_internal_error"
        }
    }
}
