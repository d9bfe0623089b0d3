import Foundation
import HTTPTypes
import HospitalAPI
import HospitalCore
import Hummingbird
import Mustache

/// The portal's templates and strings, shipped inside the binary, and how a page becomes a response.
/// Every user-visible string comes from a catalogue (`Strings/<language>.json`); templates name them as
/// `{{t.key}}`. User-supplied text is HTML-escaped by the template engine (`{{name}}`); no template
/// uses the unescaped form.
struct PortalPages: Sendable {
    let library: MustacheLibrary
    let catalogues: Catalogues
    let configuration: PortalConfiguration
    /// Seconds a signed-in page may stay idle before its session ends (for the warning script).
    let idleSeconds: Int64

    init(configuration: PortalConfiguration, idleSeconds: Int64) throws {
        var library = MustacheLibrary()
        for template in PortalTemplate.allCases {
            try library.register(String(decoding: template.text, as: UTF8.self), named: template.rawValue)
        }
        self.library = library
        self.catalogues = Catalogues.shipped
        self.configuration = configuration
        self.idleSeconds = idleSeconds
    }

    /// The page `template` for this request, with `values` beside what every page has: the strings of
    /// the reader's language, the site's name, the signed-in user and the form token.
    /// 405 for a GET of an action that only a form's POST may start (it writes a ledger entry): a link,
    /// followed from another site with the session's cookie, starts nothing.
    @Sendable func postOnly(_ request: Request, context: PortalRequestContext) throws -> Response {
        var response = try render(
            ErrorPage(heading: string("error_title", request: request), message: string("error_post_only", request: request)),
            status: .methodNotAllowed, request: request, context: context)
        response.headers[.allow] = "POST"
        return response
    }

    /// The page for this request, with what every page has (``PortalFrame``).
    /// - Throws: ``MissingTemplate`` when the library lacks the page's template.
    func render<Page: PortalPage>(_ page: Page, status: HTTPResponse.Status = .ok, request: Request, context: PortalRequestContext)
        throws -> Response
    {
        let template = Page.template
        let language = catalogues.language(for: request.headers[.acceptLanguage])
        let strings = catalogues.strings(language)
        let user = context.identity.map { identity in
            PortalFrame.User(
                name: identity.name, roleName: strings["role_\(identity.role.rawValue)"] ?? identity.role.rawValue,
                isPatient: identity.role == .patient, isDoctor: identity.role == .doctor, isAdmin: identity.role == .admin,
                idleSeconds: idleSeconds, formToken: context.portal.formToken)
        }
        let frame = PortalFrame(
            page: page, t: strings, lang: language, site: configuration.siteName, formToken: context.portal.formToken, user: user)
        guard let html = library.render(frame, withTemplate: template.rawValue) else { throw MissingTemplate(name: template.rawValue) }
        return Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8", .contentLanguage: language],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// The library has no template of this name: a page the binary was built without.
    struct MissingTemplate: Error, CustomStringConvertible {
        var name: String
        var description: String { "the portal has no template named \(name)" }
    }

    /// A string of the reader's language, its `{words}` filled in (``Catalogues/fill(_:with:)``).
    func string(_ key: String, request: Request, filling words: [String: String] = [:]) -> String {
        Catalogues.fill(catalogues.strings(catalogues.language(for: request.headers[.acceptLanguage]))[key] ?? key, with: words)
    }

    /// The signed-in person's time zone, for the request being served (set by the session middleware).
    @TaskLocal static var readerZone: TimeZone?

    /// The zone times are shown and read in: the signed-in person's, else the portal's.
    var timeZone: TimeZone { Self.readerZone ?? configuration.timeZone }

    /// A time as the reader reads it: in their zone, with the weekday.
    func format(_ seconds: Int64) -> String { Times.readable(seconds, zone: timeZone) }

    /// The Gregorian calendar in the reader's zone, for dates people type and ages.
    var calendar: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return calendar
    }

    /// The notice a redirect after an action asked for (`?done=booked`): only the words of `keys` (a
    /// word to its catalogue key), from the catalogue; `{count}` is `?count=`, 0 to 100.
    func notice(_ request: Request, keys: [String: String]) -> String? {
        guard let done = request.uri.queryParameters.get("done"), let key = keys[String(done)] else { return nil }
        let count = request.uri.queryParameters.get("count").flatMap { Int($0) }.map { min(max($0, 0), 100) } ?? 1
        return string(key, request: request, filling: ["count": "\(count)"])
    }

    /// "Too many attempts, wait N seconds" in the reader's language.
    func throttled(_ seconds: Int, request: Request) -> String {
        string("throttled", request: request, filling: ["seconds": "\(seconds)"])
    }

    /// The start of a day (`YYYY-MM-DD`) in the portal's zone, in seconds since 1970; nil when not a date.
    func startOfDay(_ text: String) -> Int64? {
        let parts = text.split(separator: "-").compactMap { Int($0) }
        guard text.utf8.count == 10, parts.count == 3 else { return nil }
        guard let date = calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2])),
            calendar.component(.day, from: date) == parts[2]
        else { return nil }
        return Int64(date.timeIntervalSince1970)
    }

    /// A byte count as people read it (`3.1 MB`).
    static func size(_ bytes: Int64) -> String {
        ByteCountFormatter.string(fromByteCount: bytes, countStyle: .file)
    }
}

extension HTTPField.Name {
    static let contentLanguage = HTTPField.Name("Content-Language")!
}
