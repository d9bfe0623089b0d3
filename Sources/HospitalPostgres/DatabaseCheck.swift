import Foundation
package import Logging
import NIOCore
import NIOPosix
package import PostgresNIO

/// The hospital's database cannot be used: at start, the reason in the operator's words (exit 75,
/// `EX_TEMPFAIL`, for what may pass; the message names the server).
package struct DatabaseUnavailable: Error, CustomStringConvertible {
    package var url: DatabaseURL
    package var reason: String
    package var description: String { "the hospital database \(url) cannot be used: \(reason)" }

    package init(url: DatabaseURL, reason: String) {
        self.url = url
        self.reason = reason
    }

    /// `error` in people's words: refused, unreachable, a wrong password, TLS, a missing database.
    package init(url: DatabaseURL, error: any Error) {
        self.url = url
        reason = Self.reason(error, database: url.database, user: url.user)
    }

    static func reason(_ error: any Error, database: String, user: String) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let state = error.serverInfo?[.sqlState] {
            let message = error.serverInfo?[.message] ?? ""
            switch state {
            case "28P01": return "the server refused the password of user \(user) (database-password-file)"
            case "28000": return "the server does not let user \(user) in from here (pg_hba.conf): \(message)"
            case "3D000": return "the server has no database \(database)"
            case "57P03": return "the server is starting or shutting down"
            case "53300": return "the server has no free connection slot"
            default: return "the server answered \(state): \(message)"
            }
        }
        switch error.code {
        case .sslUnsupported: return "the server does not offer TLS, which the URL's sslmode asks for"
        case .failedToAddSSLHandler: return "TLS could not be set up"
        case .authMechanismRequiresPassword: return "the server asks for a password and none is set (database-password-file)"
        case .unsupportedAuthMechanism: return "the server asks for an authentication this client does not speak"
        case .connectionError, .serverClosedConnection, .uncleanShutdown:
            if let underlying = error.underlying { return "cannot connect: \(underlying)" }
            return "cannot connect"
        default:
            if let underlying = error.underlying { return "\(underlying)" }
            return "\(error.code)"
        }
    }
}

/// Checks, once at start, that the database answers, so that a wrong address, password or TLS setting
/// stops start-up with its own message instead of every request failing later.
package enum DatabaseCheck {
    package static func probe(
        _ url: DatabaseURL, configuration: PostgresConnection.Configuration, timeout: Duration, logger: Logger
    ) async throws(DatabaseUnavailable) {
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
                    defer { Task { try? await connection.close() } }
                    _ = try await connection.query("SELECT 1", logger: logger).collect()
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw DatabaseUnavailable(url: url, reason: "no answer within \(timeout.components.seconds) s")
                }
                try await group.next()
                group.cancelAll()
            }
        } catch let error as DatabaseUnavailable {
            throw error
        } catch {
            throw DatabaseUnavailable(url: url, error: error)
        }
    }
}
