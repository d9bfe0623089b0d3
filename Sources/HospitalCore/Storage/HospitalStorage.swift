import Synchronization

/// Where the hospital keeps its state: the seam between the domain services and a database engine.
///
/// The services decide (who may do what, which error, which ledger entry and notice); a storage only
/// reads and writes records. Each area has its own protocol (``SchedulingStore``, …), reached through
/// a ``HospitalTransaction``, so that everything one action changes — a booking, its notice, its
/// ledger entry — commits together or not at all, whatever the engine. The embedded engine is SQLite
/// (``HospitalDatabase``, on GRDB); another engine implements the same protocols.
///
/// A transaction's body must not open another transaction of the same storage: the engine may have
/// one writer at a time, and the inner one would wait for the outer forever.
package protocol HospitalStorage: Sendable {
    /// Runs `body` against one consistent snapshot, changing nothing.
    func read<T: Sendable>(_ body: @escaping @Sendable (HospitalTransaction) async throws -> T) async throws -> T
    /// Runs `body` in a write transaction: its changes commit when it returns and are rolled back when it throws.
    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable (HospitalTransaction) async throws -> T) async throws -> T
}

/// One transaction's view of every area of the hospital's state.
package struct HospitalTransaction: Sendable {
    package let accounts: any AccountStore
    package let sessions: any SessionStore
    package let scheduling: any SchedulingStore
    package let mail: any MailStore
    package let ledger: any LedgerStore
    package let reports: any ReportStore
    package let consent: any ConsentStore
    package let emergency: any EmergencyStore
    private let commitActions = CommitActions()

    package init(
        accounts: any AccountStore, sessions: any SessionStore, scheduling: any SchedulingStore, mail: any MailStore,
        ledger: any LedgerStore,
        reports: any ReportStore, consent: any ConsentStore, emergency: any EmergencyStore
    ) {
        self.accounts = accounts
        self.sessions = sessions
        self.scheduling = scheduling
        self.mail = mail
        self.ledger = ledger
        self.reports = reports
        self.consent = consent
        self.emergency = emergency
    }

    /// Runs `action` once the transaction committed (never if it rolls back): ring a bell for what it wrote.
    package func afterCommit(_ action: @escaping @Sendable () -> Void) {
        commitActions.list.withLock { $0.append(action) }
    }

    /// The storage committed the transaction: runs the actions waiting for it.
    package func committed() {
        for action in commitActions.list.withLock({ $0 }) { action() }
    }
}

private final class CommitActions: Sendable {
    let list = Mutex<[@Sendable () -> Void]>([])
}
