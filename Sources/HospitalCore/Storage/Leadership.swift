/// Work that one instance of a hospital at a time does: the periodic checkpoint copies and the report
/// verifier's rounds. Instances sharing a database elect one per role (on PostgreSQL, a session
/// advisory lock on a connection of its own); an instance that dies loses its roles with its
/// connection, and another takes them at its next look. Correctness never depends on it: two
/// instances doing the same round for a while only do the work twice.
package protocol Leadership: Sendable {
    /// Whether this instance holds `role` now, taking it when it is free.
    func holds(_ role: SoleRole) async -> Bool
}

/// The roles one instance at a time holds.
package enum SoleRole: Int64, Sendable, CaseIterable {
    case checkpointPublisher = 1
    case reportVerifier = 2
}

/// One instance alone (the embedded SQLite database): it holds every role.
package struct SoleInstance: Leadership {
    package init() {}
    package func holds(_ role: SoleRole) async -> Bool { true }
}
