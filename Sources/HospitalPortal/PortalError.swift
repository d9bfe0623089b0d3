import Foundation
import HospitalAPI
import HospitalCore
import Hummingbird
import Logging

/// What only the portal refuses; each becomes an HTML page (``PortalErrorMiddleware``).
enum PortalError: Error, Equatable {
    /// An unsafe request another site made a browser send (`Origin`, `Sec-Fetch-Site`).
    case crossSite
    /// A form without the page's form token, or with an old one (a page kept open across sign-out).
    case formExpired
    /// A form body that is not the form the page sends.
    case malformedForm
    /// A body over the form limit.
    case tooLarge
}

/// Turns every failure below it into a page: a page that needs a signed-in user sends the browser to
/// sign in (saying so when a session just ended) and back; everything else is an error page in the
/// reader's language, with the status an API client would get. Causes of server failures are logged,
/// never shown.
struct PortalErrorMiddleware: RouterMiddleware {
    typealias Context = PortalRequestContext
    let pages: PortalPages

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            switch error {
            case let error as PortalError: return page(for: error, request: request, context: context)
            case let error as HospitalError where error.code == .unauthenticated:
                return Self.redirectToLogin(from: request, ended: context.portal.sessionEnded)
            case let error as HospitalError:
                return errorPage(status: error.status, message: nil, text: pages.words(for: error, request: request), request, context)
            case let error as HTTPError:
                return errorPage(
                    status: error.status, message: error.status == .notFound ? "error_not_found" : "error_server", text: nil, request,
                    context)
            default:
                context.logger.error("portal request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
                return errorPage(status: .internalServerError, message: "error_server", text: nil, request, context)
            }
        }
    }

    func page(for error: PortalError, request: Request, context: Context) -> Response {
        switch error {
        case .crossSite: errorPage(status: .forbidden, message: "error_cross_site", text: nil, request, context)
        case .formExpired: errorPage(status: .forbidden, message: "error_form_expired", text: nil, request, context)
        case .malformedForm: errorPage(status: .badRequest, message: "error_form_expired", text: nil, request, context)
        case .tooLarge: errorPage(status: .contentTooLarge, message: "error_too_large", text: nil, request, context)
        }
    }

    func errorPage(status: HTTPResponse.Status, message key: String?, text: String?, _ request: Request, _ context: Context) -> Response {
        let message = key.map { pages.string($0, request: request) } ?? text ?? ""
        let page = ErrorPage(heading: pages.string("error_title", request: request), message: message)
        // The error template is inside the binary; were it missing, a plain status still answers.
        return (try? pages.render(page, status: status, request: request, context: context)) ?? Response(status: status)
    }

    /// 303 to the login page, which returns to this page (GET only) after sign-in.
    static func redirectToLogin(from request: Request, ended: Bool) -> Response {
        let next = request.method == .get ? PortalPaths.safeReturn(request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")) : nil
        return Response.redirect(to: PortalPaths.login(returningTo: next, ended ? ["expired=1"] : []), type: .normal)
    }
}

/// A path no route matches, outside `/api` and `/-/`: the portal's "not found" page in the reader's
/// language rather than the API's JSON error (which `/api` paths keep).
struct PortalNotFoundMiddleware: RouterMiddleware {
    typealias Context = HospitalRequestContext
    let pages: PortalPages

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError
            where error.status == .notFound && !request.uri.path.hasPrefix("/api/") && !request.uri.path.hasPrefix("/-/")
        {
            // With the headers of every page.
            return try await PortalHeadersMiddleware(configuration: pages.configuration).handle(
                request, context: PortalRequestContext(context: context)
            ) {
                request, context in
                PortalErrorMiddleware(pages: pages).errorPage(status: .notFound, message: "error_not_found", text: nil, request, context)
            }
        }
    }
}

/// Where the portal may send a browser after sign-in: a path of this site, never another origin.
enum PortalPaths {
    /// `path` when it is a same-origin relative path (`/…`, not `//host` or `/\host`, no control
    /// characters, at most 512 bytes), else nil.
    static func safeReturn(_ path: String) -> String? {
        guard path.utf8.count <= 512, path.hasPrefix("/"), !path.hasPrefix("//"), !path.hasPrefix("/\\"),
            !path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F || $0 == "\\" })
        else { return nil }
        return path
    }

    /// The sign-in page's address, returning to `next` after sign-in, with `flags` (`expired=1`).
    static func login(returningTo next: String?, _ flags: [String] = []) -> String {
        var query = flags
        if let escaped = next?.addingPercentEncoding(withAllowedCharacters: .urlQueryValue) { query.insert("next=" + escaped, at: 0) }
        return "/login" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
    }
}

extension CharacterSet {
    /// What may stand unescaped in a query value.
    static let urlQueryValue = CharacterSet.urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&=+?#"))
}
