import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Mustache
import NIOCore
import TestSupport
import Testing

@testable import Hospital
@testable import HospitalAPI
@testable import HospitalCore
@testable import HospitalPortal
@testable import HospitalSQLite

/// A browser's cookie jar over the router test client: keeps what `Set-Cookie` sets, sends it back.
final class Browser: @unchecked Sendable {
    // Only touched from the test's own task.
    var cookies: [String: String] = [:]
    let origin: String

    init(origin: String = "http://localhost") { self.origin = origin }

    func get(_ client: some TestClientProtocol, _ uri: String, headers: HTTPFields = [:]) async throws -> TestResponse {
        try await send(client, uri, method: .get, headers: headers, body: nil)
    }

    /// Posts a form with `fields`, adding the page's form token unless `token` is given.
    func post(
        _ client: some TestClientProtocol, _ uri: String, _ fields: [String: String], token: String? = nil, headers: HTTPFields = [:]
    ) async throws -> TestResponse {
        var fields = fields
        if fields["form_token"] == nil {
            if let token { fields["form_token"] = token } else { fields["form_token"] = try await formToken(client) }
        }
        var headers = headers
        headers[.contentType] = "application/x-www-form-urlencoded"
        if headers[.origin] == nil { headers[.origin] = origin }
        let body = fields.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }
            .joined(separator: "&")
        return try await send(client, uri, method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    /// The form token of the home page, as a page's forms carry it.
    func formToken(_ client: some TestClientProtocol) async throws -> String {
        let page = String(buffer: try await get(client, "/").body)
        if let token = Self.attribute("data-form-token", in: page) { return token }
        let login = String(buffer: try await get(client, "/login").body)
        return try #require(Self.field("form_token", in: login))
    }

    func send(_ client: some TestClientProtocol, _ uri: String, method: HTTPRequest.Method, headers: HTTPFields, body: ByteBuffer?)
        async throws -> TestResponse
    {
        var headers = headers
        if !cookies.isEmpty { headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
        let response = try await client.execute(uri: uri, method: method, headers: headers, body: body)
        for header in response.headers[values: .setCookie] {
            let pair = header.split(separator: ";")[0].split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(pair[0])
            let value = pair.count > 1 ? String(pair[1]) : ""
            if value.isEmpty || header.contains("Max-Age=0") { cookies[name] = nil } else { cookies[name] = value }
        }
        return response
    }

    /// Registers through the portal's form at `path` and opens the account with the e-mailed link, as its
    /// owner would: the answer of the link's form (a patient is signed in and sent to the dashboard).
    func register(
        _ client: some TestClientProtocol, _ fixture: HospitalFixture, _ fields: [String: String], path: String = "/register"
    ) async throws -> TestResponse {
        let signedUp = try await post(client, path, fields)
        guard signedUp.status == .ok else { return signedUp }
        await fixture.services.mailQueue().deliverSecrets()
        let email = try #require(fields["email"]).lowercased()
        let token = try #require(fixture.activationToken(to: email), "no link was mailed to \(email)")
        let page = try await get(client, "/register/activate?token=\(token)")
        #expect(page.status == .ok)
        return try await post(client, "/register/activate", ["token": token, "password": try #require(fields["password"])])
    }

    static func field(_ name: String, in page: String) -> String? {
        guard let range = page.range(of: "name=\"\(name)\" value=\"") else { return nil }
        return String(page[range.upperBound...].prefix { $0 != "\"" })
    }

    static func attribute(_ name: String, in page: String) -> String? {
        guard let range = page.range(of: "\(name)=\"") else { return nil }
        return String(page[range.upperBound...].prefix { $0 != "\"" })
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }
}

/// A patient registration through the portal's form.
func portalPatient(_ email: String = "ada@example.org", name: String = "Ada Patient") -> [String: String] {
    ["name": name, "email": email, "password": "correct horse battery", "date_of_birth": "1985-04-12", "phone": "+44 20 7946 0000"]
}

@Suite struct PortalTests {
    func app(_ fixture: HospitalFixture, portal: PortalConfiguration = .init(timeZone: TimeZone(identifier: "UTC")!)) throws
        -> some ApplicationProtocol
    {
        try buildHospitalApplication(configuration: .init(port: 0, portal: portal), services: fixture.services)
    }

    @Test func everyPageCarriesTheSecurityHeaders() async throws {
        let fixture = try HospitalFixture()
        try await app(fixture).test(.router) { client in
            for uri in ["/", "/login", "/register", "/doctors", "/doctors/999"] {
                let response = try await client.execute(uri: uri, method: .get)
                let policy = try #require(response.headers[.contentSecurityPolicy])
                #expect(
                    policy == "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
                        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
                #expect(
                    policy.contains("frame-ancestors 'none'") && policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"))
                #expect(response.headers[.xContentTypeOptions] == "nosniff")
                #expect(response.headers[HTTPField.Name("Referrer-Policy")!] == "same-origin")
                #expect(response.headers[.cacheControl] == "no-store")
                #expect(response.headers[.strictTransportSecurity] == nil, "no HSTS over plain http")
                #expect(response.headers[.contentType] == "text/html; charset=utf-8", "\(uri)")
            }
            let style = try await client.execute(uri: "/static/portal.css", method: .get)
            #expect(style.status == .ok && style.headers[.contentType] == "text/css; charset=utf-8")
            let script = try await client.execute(uri: "/static/portal.js", method: .get)
            #expect(script.status == .ok && script.headers[.xContentTypeOptions] == "nosniff")
        }
    }

    @Test func registeringSignsInWithASessionCookieAndShowsTheNameAsText() async throws {
        let fixture = try HospitalFixture()
        try await app(fixture).test(.router) { client in
            let browser = Browser()
            let registered = try await browser.register(client, fixture, portalPatient(name: "<script>alert(1)</script> Ada"))
            #expect(registered.status == .seeOther && registered.headers[.location] == "/dashboard")
            let cookie = try #require(registered.headers[values: .setCookie].first { $0.hasPrefix("chainvault-session=") })
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"))
            #expect(!cookie.contains("Secure") && !cookie.contains("Max-Age") && !cookie.contains("Expires"))
            let dashboard = try await browser.get(client, "/dashboard")
            #expect(dashboard.status == .ok)
            #expect(dashboard.text.contains("&lt;script&gt;alert(1)&lt;/script&gt; Ada"))
            #expect(!dashboard.text.contains("<script>alert"))
        }
    }

    @Test func overHTTPSTheCookiesAreSecureHostCookiesAndHSTSIsSent() async throws {
        let fixture = try HospitalFixture()
        let portal = PortalConfiguration(baseURL: URL(string: "https://portal.example.org")!, timeZone: TimeZone(identifier: "UTC")!)
        try await app(fixture, portal: portal).test(.router) { client in
            let browser = Browser(origin: "https://portal.example.org")
            let home = try await browser.get(client, "/")
            #expect(home.headers[.strictTransportSecurity] == "max-age=31536000")
            #expect(home.headers[values: .setCookie].contains { $0.hasPrefix("__Host-chainvault-form=") && $0.contains("Secure") })
            let registered = try await browser.register(client, fixture, portalPatient())
            let cookie = try #require(registered.headers[values: .setCookie].first { $0.hasPrefix("__Host-chainvault-session=") })
            #expect(cookie.contains("Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"))
            // The configured origin is the only one accepted, whatever the Host.
            let refused = try await browser.post(client, "/logout", [:], headers: [.origin: "http://portal.example.org"])
            #expect(refused.status == .forbidden)
        }
    }

    @Test func unsafeRequestsNeedTheFormTokenAndTheirOwnOrigin() async throws {
        let fixture = try HospitalFixture()
        try await app(fixture).test(.router) { client in
            let browser = Browser()
            _ = try await browser.register(client, fixture, portalPatient())
            let missing = try await browser.post(client, "/logout", ["form_token": ""])
            #expect(missing.status == .forbidden && missing.text.contains("This form has expired"))
            let wrong = try await browser.post(client, "/logout", ["form_token": String(repeating: "A", count: 43)])
            #expect(wrong.status == .forbidden)
            let foreign = try await browser.post(client, "/logout", [:], headers: [.origin: "http://evil.example"])
            #expect(foreign.status == .forbidden && foreign.text.contains("another site"))
            let crossSite = try await browser.post(client, "/logout", [:], headers: [HTTPField.Name("Sec-Fetch-Site")!: "cross-site"])
            #expect(crossSite.status == .forbidden)
            // Still signed in after all of them.
            #expect(try await browser.get(client, "/dashboard").status == .ok)
            // The anonymous token of a login form is refused once signed in: it is the session's now.
            let anonymous = try await Browser().formToken(client)
            #expect(try await browser.post(client, "/logout", [:], token: anonymous).status == .forbidden)
            let out = try await browser.post(client, "/logout", [:])
            #expect(out.status == .seeOther && out.headers[.location] == "/login?signed_out=1")
        }
    }

    @Test func aCookieNeverAuthenticatesTheAPIAndATokenNeverOpensAPage() async throws {
        let fixture = try HospitalFixture()
        try await app(fixture).test(.router) { client in
            let browser = Browser()
            _ = try await browser.register(client, fixture, portalPatient())
            let session = try #require(browser.cookies["chainvault-session"])
            #expect(try await client.execute(uri: "/api/me", method: .get, headers: .bearer(session)).status == .unauthorized)
            #expect(try await browser.get(client, "/api/me").status == .unauthorized)
            let token = try await fixture.login(client, "ada@example.org", "correct horse battery")
            let page = try await client.execute(uri: "/dashboard", method: .get, headers: .bearer(token))
            #expect(page.status == .seeOther && page.headers[.location] == "/login?next=/dashboard")
        }
    }

    @Test func anIdleSessionEndsAndSignInReturnsToThePage() async throws {
        let fixture = try HospitalFixture()
        try await app(fixture).test(.router) { client in
            let browser = Browser()
            _ = try await browser.register(client, fixture, portalPatient())
            fixture.clock.advance(by: 14 * 60)
            #expect(try await browser.get(client, "/dashboard").status == .ok, "used within the idle timeout")
            fixture.clock.advance(by: 15 * 60)
            let expired = try await browser.get(client, "/dashboard?tab=reports")
            #expect(expired.status == .seeOther)
            #expect(expired.headers[.location] == "/login?next=/dashboard%3Ftab%3Dreports&expired=1")
            let login = try await browser.get(client, "/login?next=%2Fdashboard%3Ftab%3Dreports&expired=1")
            #expect(login.text.contains("Your session ended"))
            let next = try #require(Browser.field("next", in: login.text))
            let signedIn = try await browser.post(
                client, "/login", ["email": "ada@example.org", "password": "correct horse battery", "next": next])
            #expect(signedIn.status == .seeOther && signedIn.headers[.location] == "/dashboard?tab=reports")
        }
    }

    @Test(arguments: ["//evil.example/x", "/\\evil.example", "https://evil.example/", "javascript:alert(1)", "dashboard"])
    func signInNeverSendsTheBrowserElsewhere(next: String) async throws {
        let fixture = try HospitalFixture()
        try await app(fixture).test(.router) { client in
            let browser = Browser()
            _ = try await browser.register(client, fixture, portalPatient())
            _ = try await browser.post(client, "/logout", [:])
            let signedIn = try await browser.post(
                client, "/login", ["email": "ada@example.org", "password": "correct horse battery", "next": next])
            #expect(signedIn.headers[.location] == "/dashboard")
        }
    }

    @Test func signInRotatesTheSessionAndSignOutRevokesIt() async throws {
        let fixture = try HospitalFixture()
        try await app(fixture).test(.router) { client in
            let browser = Browser()
            _ = try await browser.register(client, fixture, portalPatient())
            let first = try #require(browser.cookies["chainvault-session"])
            _ = try await browser.post(client, "/login", ["email": "ada@example.org", "password": "correct horse battery"])
            let second = try #require(browser.cookies["chainvault-session"])
            #expect(first != second)
            let stale = Browser()
            stale.cookies["chainvault-session"] = first
            #expect(try await stale.get(client, "/dashboard").status == .seeOther, "the session before sign-in ended")
            _ = try await browser.post(client, "/logout", [:])
            let revoked = Browser()
            revoked.cookies["chainvault-session"] = second
            #expect(try await revoked.get(client, "/dashboard").status == .seeOther)
        }
    }

    @Test func aFailedSignInKeepsTheAddressButNeverThePassword() async throws {
        let fixture = try HospitalFixture()
        try await app(fixture).test(.router) { client in
            let browser = Browser()
            let response = try await browser.post(client, "/login", ["email": "nobody@example.org", "password": "secret words here"])
            #expect(response.status == .unauthorized)
            #expect(response.text.contains("value=\"nobody@example.org\"") && !response.text.contains("secret words here"))
            #expect(response.text.contains("The e-mail address or the password is wrong."))
        }
    }

    @Test func registrationErrorsStandBesideTheirFieldWithTheValuesKept() async throws {
        let fixture = try HospitalFixture()
        try await app(fixture).test(.router) { client in
            var fields = portalPatient()
            fields["date_of_birth"] = "yesterday"
            let response = try await Browser().post(client, "/register", fields)
            #expect(response.status == .badRequest)
            #expect(response.text.contains("id=\"date_of_birth-problem\""))
            #expect(response.text.contains("aria-invalid=\"true\" aria-describedby=\"date_of_birth-problem\""))
            #expect(response.text.contains("value=\"Ada Patient\"") && !response.text.contains("correct horse battery"))
        }
    }

    @Test func theDoctorDirectoryShowsDoctorsOnly() async throws {
        let fixture = try HospitalFixture()
        let doctor = try await fixture.accounts.createStaff(
            .init(
                role: .doctor, name: "Dr <b>Grey</b>", email: "grey@example.org", password: "a long doctor password",
                specialization: "Cardiology"))
        let patient = try await fixture.accounts.registerPatient(
            .init(
                name: "Ada Patient", email: "ada@example.org", password: "correct horse battery", dateOfBirth: "1985-04-12",
                phone: "+44 20 7946 0000"))
        _ = try await fixture.services.scheduling.publish(doctorId: doctor.id!, startsAt: fixture.clock.now + 3600, durationMinutes: 30)
        try await app(fixture).test(.router) { client in
            let list = try await client.execute(uri: "/doctors?specialization=cardio", method: .get)
            #expect(list.text.contains("Dr &lt;b&gt;Grey&lt;/b&gt;") && list.text.contains("/doctors/\(doctor.id!)"))
            #expect(try await client.execute(uri: "/doctors?specialization=derma", method: .get).text.contains("No doctor matches"))
            let details = try await client.execute(uri: "/doctors/\(doctor.id!)", method: .get)
            #expect(details.status == .ok && details.text.contains("30 minutes"))
            #expect(details.text.contains("2027"), "the slot's date, not seconds")
            let notADoctor = try await client.execute(uri: "/doctors/\(patient.id!)", method: .get)
            #expect(notADoctor.status == .notFound && !notADoctor.text.contains("Ada"))
        }
    }

    @Test func everyStringATemplateNamesIsInTheCatalogue() throws {
        let strings = try Catalogues().strings("en")
        for template in PortalTemplate.allCases {
            let text = String(decoding: template.text, as: UTF8.self)
            for tag in PortalTemplateTags.tags(in: text) where tag.name.hasPrefix("t.") {
                #expect(strings[String(tag.name.dropFirst(2))] != nil, "\(template.rawValue) names \(tag.name)")
            }
            #expect(!text.contains("{{{") && !text.contains("{{&"), "\(template.rawValue) writes unescaped text")
        }
    }

    /// Each typed page against its template: every value the template names is a property of the page
    /// (or of a row it holds), or something every page has; a misspelt key fails here instead of
    /// rendering empty. Each example renders through the portal's library.
    @Test func everyTemplateNamesOnlyWhatItsPageHas() throws {
        let pages = try PortalPages(configuration: .init(), idleSeconds: 900)
        let frameNames = PortalFrame.names.union(PortalTemplateTags.names(of: PortalTemplateTags.exampleUser))
        let layoutText = String(decoding: PortalTemplate.layout.text, as: UTF8.self)
        for tag in PortalTemplateTags.tags(in: layoutText) where !tag.name.hasPrefix("t.") {
            #expect(frameNames.contains(tag.root) || tag.root == "notice", "layout names \(tag.name)")
        }
        for example in PortalTemplateTags.examples {
            let template = type(of: example).template
            let known = frameNames.union(PortalTemplateTags.names(of: example))
            for tag in PortalTemplateTags.tags(in: String(decoding: template.text, as: UTF8.self)) where !tag.name.hasPrefix("t.") {
                #expect(known.contains(tag.root), "\(template.rawValue) names \(tag.name), which \(type(of: example)) does not have")
            }
            let frame = PortalFrame(
                page: example, t: try Catalogues().strings("en"), lang: "en", site: "Hospital", formToken: "token",
                user: PortalTemplateTags.exampleUser)
            let html = try #require(pages.library.render(frame, withTemplate: template.rawValue))
            #expect(html.contains("<h1>"), "\(template.rawValue) renders")
        }
        // Every template but the layout is some page's, and has its example here.
        let typed = Set(PortalTemplateTags.examples.map { type(of: $0).template })
        #expect(Set(PortalTemplate.allCases).subtracting(typed) == [.layout])
    }

    @Test func acceptLanguageIsRankedByQuality() throws {
        #expect(AcceptLanguage.ranked("de-CH, fr;q=0.9, en;q=0.8, *;q=0.1") == ["de-ch", "fr", "en", "*"])
        #expect(AcceptLanguage.ranked("en;q=0, fa") == ["fa"])
        #expect(AcceptLanguage.ranked(";;;,,q=2,\u{0}") == [])
        #expect(try Catalogues().language(for: "fa-IR, en-GB;q=0.5") == "en")
        #expect(AcceptLanguage.ranked(String(repeating: "en,", count: 100_000)).count == 32)
    }
}

@Suite struct PortalNotFoundTests {
    @Test func anUnknownPageIsAPageAndAnUnknownAPIPathStaysJSON() async throws {
        let fixture = try HospitalFixture()
        try await fixture.app().test(.router) { client in
            let page = try await client.execute(uri: "/no/such/page", method: .get)
            #expect(page.status == .notFound && page.headers[.contentType] == "text/html; charset=utf-8")
            #expect(
                page.text.contains("<html")
                    && page.headers[.contentSecurityPolicy] == PortalHeadersMiddleware.contentSecurityPolicy.description)
            let api = try await client.execute(uri: "/api/no-such-thing", method: .get)
            #expect(api.status == .notFound && api.headers[.contentType]?.hasPrefix("application/json") == true)
        }
    }
}

@Suite struct PortalSearchTests {
    @Test func aSearchFormsPlusIsASpaceAndAnEncodedPlusAPlus() async throws {
        let fixture = try HospitalFixture()
        _ = try await fixture.accounts.createStaff(
            .init(
                role: .doctor, name: "Dr Keys", email: "k@example.org", password: "a long doctor password",
                specialization: "Sports Medicine"))
        try await fixture.app().test(.router) { client in
            let found = try await client.execute(uri: "/doctors?specialization=sports+medicine&name=", method: .get)
            #expect(found.text.contains("Dr Keys"))
            let none = try await client.execute(uri: "/doctors?specialization=sports%2Bmedicine", method: .get)
            #expect(!none.text.contains("Dr Keys"))
        }
    }
}
