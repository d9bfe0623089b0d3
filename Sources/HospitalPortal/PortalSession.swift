import Crypto
import Foundation
import HTTPTypes
import HospitalAPI
import HospitalCore
import Hummingbird

/// The portal's part of a request: its session and the token its forms must carry.
package struct PortalRequestState: Sendable {
    /// The session cookie's token, once it named a live portal session.
    var sessionToken: String?
    /// When that session began (for its absolute lifetime).
    var sessionCreatedAt: Int64?
    /// The request carried a session cookie that no longer names a live session: it expired or was revoked.
    var sessionEnded = false
    /// The token every form of this page carries and every unsafe request must return.
    var formToken = ""
    /// A new anonymous form token, to be set as a cookie on the response.
    var issuedFormToken: String?
}

/// Cookie sessions for the portal's pages, over the same table as the API's bearer tokens but of their
/// own kind: a session cookie never authenticates `/api`, a bearer token never opens a page. Also
/// issues the form token: for a signed-in user an HMAC of the session token (so it dies with the
/// session), before sign-in a random value in a cookie of its own that forms send back (double submit).
struct PortalSessionMiddleware: RouterMiddleware {
    typealias Context = PortalRequestContext
    let accounts: Accounts
    let configuration: PortalConfiguration
    let random: @Sendable (Int) -> [UInt8]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        // Only the cookie speaks for a page's user, never an Authorization header (the portal's context
        // starts without an identity).
        if let token = request.cookies[configuration.sessionCookie]?.value, !token.isEmpty {
            if let session = try? await accounts.authenticateSession(token: token, kind: .portal) {
                context.identity = session.identity
                context.portal.sessionToken = token
                context.portal.sessionCreatedAt = session.createdAt
                context.portal.formToken = Self.formToken(session: token)
            } else {
                context.portal.sessionEnded = true
            }
        }
        if context.portal.sessionToken == nil {
            if let cookie = request.cookies[configuration.formTokenCookie]?.value, cookie.utf8.count == 43 {
                context.portal.formToken = cookie
            } else {
                let token = Accounts.base64URL(random(32))
                context.portal.formToken = token
                context.portal.issuedFormToken = token
            }
        }
        let zone = context.identity?.timeZone.flatMap(TimeZone.init(identifier:))
        var response = try await PortalPages.$readerZone.withValue(zone) { try await next(request, context) }
        if let issued = context.portal.issuedFormToken {
            response.setCookie(cookie(named: configuration.formTokenCookie, value: issued, sameSite: .strict))
        }
        if context.portal.sessionEnded, context.portal.sessionToken == nil {
            response.setCookie(cookie(named: configuration.sessionCookie, value: "", maxAge: 0))
        }
        return response
    }

    /// A cookie for the whole portal, never readable by script; `Secure` when people reach the portal over https.
    func cookie(named name: String, value: String, maxAge: Int? = nil, sameSite: Cookie.SameSite = .lax) -> Cookie {
        PortalCookies(configuration: configuration).cookie(named: name, value: value, maxAge: maxAge, sameSite: sameSite)
    }

    /// The form token of a signed-in session: bound to it, and useless once it ends.
    static func formToken(session token: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("chainvault portal form".utf8), using: SymmetricKey(data: Array(token.utf8)))
        return Accounts.base64URL(Array(mac))
    }
}

/// The portal's cookies: one place decides their names and attributes.
struct PortalCookies {
    let configuration: PortalConfiguration

    func cookie(named name: String, value: String, maxAge: Int? = nil, sameSite: Cookie.SameSite = .lax) -> Cookie {
        Cookie(name: name, value: value, maxAge: maxAge, path: "/", secure: configuration.isSecure, httpOnly: true, sameSite: sameSite)
    }

    /// The session cookie after sign-in. A session cookie (no Max-Age): the browser forgets it when it
    /// closes; the server ends it after the idle timeout or the absolute lifetime anyway.
    func session(_ token: String) -> Cookie { cookie(named: configuration.sessionCookie, value: token) }

    /// Removes the session cookie.
    var endedSession: Cookie { cookie(named: configuration.sessionCookie, value: "", maxAge: 0) }
}

/// Refuses unsafe requests (anything but GET and HEAD) that another site made a browser send: a
/// `Sec-Fetch-Site: cross-site`, or an `Origin` other than the portal's own (the configured base URL,
/// else `http://` and the request's `Host`). The form token (``PortalForm``) is the second check.
struct CrossSiteRequestMiddleware: RouterMiddleware {
    typealias Context = PortalRequestContext
    let configuration: PortalConfiguration

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method != .get, request.method != .head else { return try await next(request, context) }
        if request.headers[.secFetchSite]?.lowercased() == "cross-site" { throw PortalError.crossSite }
        if let origin = request.headers[.origin] {
            guard origin.lowercased() == ownOrigin(request) else { throw PortalError.crossSite }
        }
        return try await next(request, context)
    }

    func ownOrigin(_ request: Request) -> String? {
        if let origin = configuration.origin { return origin }
        return request.head.authority.map { (configuration.isSecure ? "https://" : "http://") + $0.lowercased() }
    }
}

extension HTTPField.Name {
    static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!
}

/// Headers on every portal response: a strict Content-Security-Policy (only the portal's own script
/// and style files, no inline code, no framing), no MIME sniffing, no referrer beyond the portal, and no
/// caching of pages (they show patient data); HSTS when people reach the portal over https.
struct PortalHeadersMiddleware: RouterMiddleware {
    typealias Context = PortalRequestContext
    let configuration: PortalConfiguration

    /// Only the portal's own script and style files, no inline code, no plug-ins, no framing.
    static let contentSecurityPolicy: ContentSecurityPolicy = [
        .defaultSrc(.none), .scriptSrc(.self), .styleSrc(.self), .imgSrc(.self), .connectSrc(.self), .formAction(.self),
        .frameAncestors(.none), .baseURI(.none),
    ]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // Inside this middleware errors became pages already (PortalErrorMiddleware).
        var response = try await next(request, context)
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy.description
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.referrerPolicy] = "same-origin"
        response.headers[.xFrameOptions] = "DENY"
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        if configuration.isSecure { response.headers[.strictTransportSecurity] = "max-age=31536000" }
        return response
    }
}

extension HTTPField.Name {
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
    static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
}
