import Foundation
package import HTTPTypes
import HospitalCore
package import Hummingbird

extension HospitalErrorCode {
    /// The HTTP status the API answers the code with: 4xx for what the client sent, 5xx for the server's
    /// own failures (never for client input).
    package var status: HTTPResponse.Status {
        switch self {
        case .invalidField, .malformedBody, .incompleteBody, .badRequest, .resetInvalid, .activationInvalid: .badRequest
        case .unauthenticated, .badCredentials, .secondFactorRequired, .badSecondFactor, .signInAgain: .unauthorized
        case .forbidden, .consentRequired, .noCompletedCheckup, .wrongCode, .accountPending, .accountDisabled: .forbidden
        case .notFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .emailTaken, .slotTaken, .slotInPast, .slotOverlaps, .slotBooked, .slotCompleted, .slotNotBooked, .checkupNotStarted,
            .alreadyHasAccess, .alreadyReviewed, .ambiguousPatient, .requestVoid, .requestDenied, .requestUsed, .requestClosed:
            .conflict
        case .codeExpired: .gone
        case .tooLarge: .contentTooLarge
        case .unsupportedMediaType: .unsupportedMediaType
        case .throttled, .busy: .tooManyRequests
        case .codeNotSent, .ledgerUnsigned, .noSigningKey, .databaseUnavailable: .serviceUnavailable
        case .insufficientStorage: HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage")
        case .reportUnavailable, .internalError: .internalServerError
        }
    }

    /// The code of a status Hummingbird's router answered by itself (no route, a wrong method, a body over
    /// its limit).
    init(routerStatus status: HTTPResponse.Status) {
        switch status {
        case .notFound: self = .notFound
        case .methodNotAllowed: self = .methodNotAllowed
        case .contentTooLarge: self = .tooLarge
        case .unsupportedMediaType: self = .unsupportedMediaType
        default: self = status.code < 500 ? .badRequest : .internalError
        }
    }
}

extension HospitalError: HTTPResponseError {
    /// The code's HTTP status.
    package var status: HTTPResponse.Status { code.status }

    struct Body: Encodable {
        struct Detail: Encodable {
            var code: String
            var message: String
            var field: String?
        }
        var error: Detail
    }

    package func response(from request: Request, context: some RequestContext) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = try encoder.encode(Body(error: .init(code: code.rawValue, message: message, field: field)))
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: json)))
    }
}
