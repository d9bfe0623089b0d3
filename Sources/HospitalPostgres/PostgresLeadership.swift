package import HospitalCore
package import Logging
package import PostgresNIO

/// ``Leadership`` among the instances of one PostgreSQL database: a role is a session advisory lock
/// (`pg_try_advisory_lock`) held on a connection of its own, outside the pool, so that no transaction
/// ever releases it and the pool never hands the session to someone else. When this instance dies or its
/// connection breaks, the server drops the locks and another instance takes them at its next look (the
/// callers look every half minute); this one reconnects at its next look and tries again.
package actor PostgresLeadership: Leadership {
    let configuration: PostgresConnection.Configuration
    let logger: Logger
    private var connection: PostgresConnection?
    private var held: Set<SoleRole> = []
    private var closed = false
    /// Longest wait for an answer on the roles' connection (both statements answer at once).
    static let answerTimeout: Duration = .seconds(30)
    /// The keys of the roles' advisory locks: this program's own constants.
    static func lockKey(_ role: SoleRole) -> Int64 { 0x4368_6169_6E56_0100 + role.rawValue }

    package init(configuration: PostgresConnection.Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    package func holds(_ role: SoleRole) async -> Bool {
        guard !closed else { return false }
        do {
            let connection = try await connected()
            if held.contains(role) {
                // The lock lives as long as the session: a query that answers shows the session lives.
                _ = try await connection.answer("SELECT 1", logger: logger, within: Self.answerTimeout).get()
                return true
            }
            let key = Self.lockKey(role)
            let rows = try await connection.answer("SELECT pg_try_advisory_lock(\(key))", logger: logger, within: Self.answerTimeout).get()
                .rows
            guard try rows.first?.decode(Bool.self) == true else { return false }
            held.insert(role)
            logger.notice("this instance took a role of the hospital's instances", metadata: ["role": "\(role)"])
            return true
        } catch {
            if !held.isEmpty {
                logger.warning(
                    "the database session holding this instance's roles broke: they are free for another instance",
                    metadata: [
                        "roles": "\(held.map { "\($0)" }.sorted())",
                        "error": "\(DatabaseUnavailable.reason(error, database: "", user: ""))",
                    ])
            }
            await drop()
            return false
        }
    }

    /// Gives the roles up (the program stops): another instance takes them at its next look.
    package func close() async {
        closed = true
        await drop()
    }

    private func connected() async throws -> PostgresConnection {
        if let connection, !connection.isClosed { return connection }
        held = []
        let made = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        // Another role's look connected meanwhile (the actor ran it during the await): one session holds every role.
        if let connection, !connection.isClosed {
            try? await made.close()
            return connection
        }
        // Set before any await, so that no other look replaces it unclosed.
        let stale = connection
        connection = made
        try? await stale?.close()
        return made
    }

    private func drop() async {
        held = []
        let dropped = connection
        connection = nil
        try? await dropped?.close()
    }
}
