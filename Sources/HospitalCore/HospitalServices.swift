package import Crypto
import Foundation

/// Every service of the hospital over one storage (``HospitalStorage``), clock and random source.
package struct HospitalServices: Sendable {
    /// The database behind every service.
    package let storage: any HospitalStorage
    package let accounts: Accounts
    package let scheduling: Scheduling
    package let reports: Reports
    package let consent: Consent
    package let emergency: EmergencyAccess
    /// Signs the audit ledger's checkpoints and proves its entries; nil only in tests that do not need it
    /// (the audit API then answers 503).
    package let notary: AuditNotary?
    /// Seconds since 1970.
    package let clock: @Sendable () -> Int64
    /// A CSPRNG outside tests.
    package let random: @Sendable (Int) -> [UInt8]
    package let sessionPolicy: Accounts.SessionPolicy
    let sender: any CodeSender
    /// Rung when mail is queued: the ``MailQueue`` delivers at once.
    let doorbell = MailQueue.Doorbell()

    /// - Parameters:
    ///   - codeKey: The key one-time codes are MACed under; kept outside the database.
    ///   - clock: Seconds since 1970.
    ///   - schedulingClock: What the scheduling reads as now (has a slot started, is it over); the clock
    ///     itself outside tests. Codes, sessions, the ledger and retention keep `clock`.
    ///   - random: A CSPRNG outside tests: tokens, codes.
    package init(
        storage: any HospitalStorage, hasher: PasswordHasher, vault: ReportVault, sender: any CodeSender, codeKey: SymmetricKey,
        sessionPolicy: Accounts.SessionPolicy = .init(), consentPolicy: Consent.Policy = .init(),
        emergencyPolicy: EmergencyAccess.Policy = .init(),
        maxReportSize: Int64 = Reports.defaultMaxSize, portal: PortalConfiguration = .init(), notary: AuditNotary? = nil,
        clock: @escaping @Sendable () -> Int64, schedulingClock: (@Sendable () -> Int64)? = nil,
        random: @escaping @Sendable (Int) -> [UInt8]
    ) {
        self.storage = storage
        self.notary = notary
        self.sender = sender
        let notices = Notices(portal: portal, doorbell: doorbell)
        self.clock = clock
        self.random = random
        self.sessionPolicy = sessionPolicy
        accounts = Accounts(
            storage: storage, hasher: hasher, policy: sessionPolicy, clock: clock, random: random, sender: sender, notices: notices,
            codeKey: codeKey)
        scheduling = Scheduling(storage: storage, clock: clock, slotClock: schedulingClock, notices: notices)
        reports = Reports(storage: storage, vault: vault, maxSize: maxReportSize, clock: clock, notices: notices)
        emergency = EmergencyAccess(storage: storage, notices: notices, policy: emergencyPolicy, clock: clock)
        consent = Consent(
            storage: storage, sender: sender, macKey: codeKey, policy: consentPolicy, notary: notary, portal: portal, clock: clock,
            random: random)
    }

    /// The service that verifies every report's chain again once its last verification is `interval` old.
    /// - Parameter leadership: Which instance of those sharing the database verifies.
    package func reportVerifier(interval: Duration, leadership: any Leadership = SoleInstance()) -> ReportVerifier {
        ReportVerifier(storage: storage, vault: reports.vault, interval: interval, clock: clock, leadership: leadership)
    }

    /// The service that hands queued mail to the sender and sweeps spent codes from the outbox; the
    /// program runs it beside the listeners.
    /// - Parameter interval: Time between two rounds when nothing rings (retries, expired codes).
    package func mailQueue(interval: Duration = .seconds(30)) -> MailQueue {
        MailQueue(storage: storage, sender: sender, doorbell: doorbell, notary: notary, interval: interval, clock: clock)
    }
}
