package import Foundation

/// What the portal shows and the address people reach it at.
package struct PortalConfiguration: Sendable {
    /// The hospital's name, on every page and in every e-mail.
    package var siteName: String
    /// The portal's address as people type it (`https://portal.hospital.example`), when configured. It
    /// decides the cookies (`Secure` and the `__Host-` prefix for https: TLS may end at a proxy, so the
    /// socket cannot tell), HSTS, and the one `Origin` unsafe requests may come from. Without it the
    /// portal takes the request's `Host` as its own address, over plain http.
    package var baseURL: URL?
    /// The zone times are shown in for people who have not chosen one.
    package var timeZone: TimeZone
    /// Whether the hospital listener itself serves TLS (`--hospital-tls-cert`): without a base URL,
    /// the portal's own address is then https.
    package var listenerIsTLS = false

    package init(siteName: String = "ChainVault Hospital", baseURL: URL? = nil, timeZone: TimeZone = .current) {
        self.siteName = siteName
        self.baseURL = baseURL
        self.timeZone = timeZone
    }

    /// Whether people reach the portal over https.
    package var isSecure: Bool { baseURL.map { $0.scheme?.lowercased() == "https" } ?? listenerIsTLS }

    /// The configured origin, `scheme://host[:port]`, lower-cased.
    package var origin: String? {
        guard let baseURL, let scheme = baseURL.scheme?.lowercased(), let host = baseURL.host?.lowercased() else { return nil }
        return "\(scheme)://\(host)" + (baseURL.port.map { ":\($0)" } ?? "")
    }

    /// A link to a portal page (`/appointments`) for an e-mail: on the configured address, else the bare
    /// path (the request's `Host` is the attacker's to choose, so it never makes a link).
    package func link(_ path: String) -> String {
        guard var base = baseURL?.absoluteString else { return path }
        while base.hasSuffix("/") { base.removeLast() }
        return base + path
    }

    /// The name of the session cookie: `__Host-` binds it to this host, path `/` and https.
    package var sessionCookie: String { isSecure ? "__Host-chainvault-session" : "chainvault-session" }
    /// The name of the cookie carrying the form token before anyone signs in.
    package var formTokenCookie: String { isSecure ? "__Host-chainvault-form" : "chainvault-form" }
}
