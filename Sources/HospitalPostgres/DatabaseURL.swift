import Foundation
import NIOSSL
package import PostgresNIO

/// `--database-url`: libpq's URI form, `postgres://USER@HOST:PORT/DATABASE?sslmode=…`, or a Unix socket
/// with `?host=/run/postgresql`. The password is never in the URL (``init(_:)`` refuses one): it comes
/// from a file, so that it shows neither in `ps` nor in a configuration file people paste.
package struct DatabaseURL: Sendable, Equatable, CustomStringConvertible {
    package enum TLSMode: String, Sendable {
        /// No TLS (loopback or a Unix socket).
        case disable
        /// TLS, the server's certificate not checked (libpq's `require`).
        case require
        /// TLS with the server's certificate checked against the CA file (or the system's) and its name.
        case verifyFull = "verify-full"
    }

    package var user: String
    package var host: String
    package var port: Int
    package var database: String
    /// The folder of the server's Unix socket (`?host=/run/postgresql`); nil for TCP.
    package var socketDirectory: String?
    package var tls: TLSMode

    /// Why a URL is refused: said to the operator at start.
    package struct Invalid: Error, CustomStringConvertible {
        package var description: String
    }

    package init(_ text: String) throws(Invalid) {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            scheme == "postgres" || scheme == "postgresql"
        else { throw Invalid(description: "the database URL must start with postgres:// (libpq's URI form)") }
        guard components.password == nil else {
            throw Invalid(
                description: "the database URL must not carry the password: put it in a file named by --database-password-file")
        }
        var socket: String?
        var tls = TLSMode.disable
        var sawTLS = false
        for item in components.queryItems ?? [] {
            switch item.name {
            case "host":
                guard let value = item.value, value.hasPrefix("/") else {
                    throw Invalid(description: "the database URL's host= names a socket folder, an absolute path")
                }
                socket = value
            case "sslmode":
                guard let value = item.value, let mode = TLSMode(rawValue: value) else {
                    throw Invalid(description: "the database URL's sslmode is one of disable, require, verify-full")
                }
                tls = mode
                sawTLS = true
            default:
                throw Invalid(description: "the database URL has an unknown parameter \(item.name) (known: host, sslmode)")
            }
        }
        let host = components.host.flatMap { $0.isEmpty ? nil : $0 }
        guard host != nil || socket != nil else { throw Invalid(description: "the database URL names no host (or ?host=/socket/folder)") }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else {
            throw Invalid(description: "the database URL names no database (…/DATABASE)")
        }
        guard let user = components.user, !user.isEmpty else { throw Invalid(description: "the database URL names no user (USER@HOST)") }
        let port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw Invalid(description: "the database URL's port is out of range") }
        self.user = user
        self.host = host ?? "localhost"
        self.port = port
        self.database = database
        socketDirectory = socket
        // Over a socket, TLS means nothing; elsewhere it is what the URL says (disable by default, as for loopback).
        self.tls = socket != nil && !sawTLS ? .disable : tls
    }

    /// The URL without anything secret (there is nothing secret in it): for logs and errors.
    package var description: String {
        let place = socketDirectory.map { "\($0)/.s.PGSQL.\(port)" } ?? "\(host):\(port)"
        return "postgres://\(user)@\(place)/\(database)"
    }

    /// The TLS the URL asks for: none, unchecked (`require`) or checked against `caFile` or the system's.
    func tlsConfiguration(caFile: String?) throws -> TLSConfiguration? {
        switch tls {
        case .disable: return nil
        case .require:
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .none
            return configuration
        case .verifyFull:
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .fullVerification
            if let caFile { configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile)) }
            return configuration
        }
    }

    /// The pooled client's configuration.
    /// - Parameters:
    ///   - password: From the password file, if any.
    ///   - caFile: PEM certificates to trust for `verify-full` instead of the system's.
    package func configuration(password: String?, caFile: String? = nil) throws -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        if let socketDirectory {
            configuration = .init(unixSocketPath: socketPath(socketDirectory), username: user, password: password, database: database)
        } else {
            let tls: PostgresClient.Configuration.TLS = try tlsConfiguration(caFile: caFile).map { .require($0) } ?? .disable
            configuration = .init(host: host, port: port, username: user, password: password, database: database, tls: tls)
        }
        configuration.options.additionalStartupParameters = [("application_name", "chainvault")]
        return configuration
    }

    /// One connection's configuration (the check at start, the dedicated connections of locks and notifications).
    package func connectionConfiguration(password: String?, caFile: String? = nil) throws -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        if let socketDirectory {
            configuration = .init(unixSocketPath: socketPath(socketDirectory), username: user, password: password, database: database)
        } else {
            let tls: PostgresConnection.Configuration.TLS =
                try tlsConfiguration(caFile: caFile).map { .require(try NIOSSLContext(configuration: $0)) } ?? .disable
            configuration = .init(host: host, port: port, username: user, password: password, database: database, tls: tls)
        }
        configuration.options.additionalStartupParameters = [("application_name", "chainvault")]
        return configuration
    }

    func socketPath(_ directory: String) -> String { "\(directory)/.s.PGSQL.\(port)" }
}
