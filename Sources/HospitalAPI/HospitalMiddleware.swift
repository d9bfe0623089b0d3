import Foundation
import HospitalCore
import Hummingbird
import Logging

/// The outermost middleware: every error leaves as a ``HospitalError`` JSON body. Hummingbird's own
/// errors (no such route, wrong method) get their code; anything else is logged and answered 500
/// without its cause.
struct HospitalErrorMiddleware: RouterMiddleware {
    typealias Context = HospitalRequestContext
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            switch error {
            case let error as HospitalError: throw error
            case let error as HTTPError:
                throw HospitalError(
                    HospitalErrorCode(routerStatus: error.status),
                    error.body ?? "\(error.status.reasonPhrase) (\(request.method) \(request.uri.path)).")
            default:
                logger.error("hospital request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
                throw HospitalError.internalError
            }
        }
    }
}

/// Resolves `Authorization: Bearer <token>` into the context's identity. A request without the header
/// goes on unauthenticated (routes that need a caller say so); a bad or expired token is 401 at once.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = HospitalRequestContext
    let accounts: Accounts

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else { return try await next(request, context) }
        guard header.count > 7, header.prefix(7).lowercased() == "bearer " else { throw HospitalError.unauthenticated }
        let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        var context = context
        context.identity = try await accounts.authenticate(token: token)
        context.token = token
        return try await next(request, context)
    }
}

extension Request {
    /// The JSON body decoded as `type`, read up to `limit` bytes; decoding failures name the field, and so
    /// does a name that one object holds twice (``DuplicateJSONKeys``).
    /// - Throws: ``HospitalError`` `malformed_body`, `invalid_field`, or 413 `too_large`.
    func decodeJSON<T: Decodable>(as type: T.Type, limit: Int = 64 << 10) async throws -> T {
        let buffer: ByteBuffer
        do {
            buffer = try await body.collect(upTo: limit)
        } catch {
            throw HospitalError(.tooLarge, "The JSON body is larger than \(limit) bytes.")
        }
        // A name given twice would be read one way here and maybe another by a proxy: refused.
        if let name = DuplicateJSONKeys.first(in: buffer.readableBytesView) {
            throw HospitalError.invalid(String(name.prefix(100)), "This field is given more than once.")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch let DecodingError.keyNotFound(key, context) {
            throw HospitalError.invalid(Self.path(context.codingPath + [key]), "This field is required.")
        } catch let DecodingError.typeMismatch(_, context) {
            throw HospitalError.invalid(Self.path(context.codingPath), "This field has the wrong type.")
        } catch let DecodingError.valueNotFound(_, context) {
            throw HospitalError.invalid(Self.path(context.codingPath), "This field must not be null.")
        } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
            throw HospitalError.invalid(Self.path(context.codingPath), "This field has a value that is not accepted.")
        } catch {
            throw HospitalError.malformedBody("The body is not valid JSON for this request.")
        }
    }

    /// An integer query parameter within `range`, nil when absent.
    /// - Throws: ``HospitalError`` `invalid_field` naming the parameter, with `message`.
    func integerQuery(_ name: String, in range: ClosedRange<Int64>, _ message: String) throws(HospitalError) -> Int64? {
        guard let text = uri.queryParameters.get(name) else { return nil }
        guard let value = Int64(text), range.contains(value) else { throw .invalid(name, message) }
        return value
    }

    static func path(_ keys: [any CodingKey]) -> String { keys.map(\.stringValue).joined(separator: ".") }
}
