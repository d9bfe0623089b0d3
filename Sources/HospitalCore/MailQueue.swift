import Foundation
package import Logging
import ServiceLifecycle
import Synchronization

/// Mail that may wait — booking confirmations and cancellations, new reports, approvals — on its way
/// out. Each message is a row of the hospital database, written in the transaction of what it tells of
/// (``Notices``), so that it goes if and only if that happened and survives a restart; this service
/// hands it to the sender (the outbox folder or SMTP) as soon as the transaction commits, and retries
/// with a growing delay while the mail server is down. A booking or an upload therefore never waits for
/// or fails with the mail server. (One-time codes and reset links do not wait here: a code that cannot
/// be sent voids its request at once.)
///
/// Each round also removes the outbox files of codes and reset links that can no longer be used
/// (redeemed, voided, denied, expired), so that a live secret does not outstay its use on disk.
package struct MailQueue: Service {
    /// Rung when a transaction that queued mail commits: the queue delivers at once instead of at its
    /// next round.
    package final class Doorbell: Sendable {
        let rings: AsyncStream<Void>
        let continuation: AsyncStream<Void>.Continuation
        /// Messages carrying a secret (a password-reset link) handed on after the request that made them was
        /// answered, so that the answer takes the same time whether there was a message to send: kept in
        /// memory only, never in the database (a crash loses one; the person asks again).
        private let secrets = Mutex<[Mail]>([])
        /// The most such messages waiting at once; beyond it a new one is dropped (and the person asks again).
        static let maxSecrets = 256
        /// When each address was last told that someone tried to sign up with it.
        private let told = Mutex<[String: Int64]>([:])
        /// The most addresses remembered; beyond it nobody new is told until old ones age out.
        static let maxTold = 10_000

        /// Whether `address` may be told of another sign-up attempt now: at most once an hour, so that
        /// sign-ups with someone's address cannot fill their mailbox.
        func mayTell(_ address: String, now: Int64) -> Bool {
            told.withLock { told in
                if let last = told[address], now - last < 3600 { return false }
                if told.count >= Self.maxTold { told = told.filter { now - $0.value < 3600 } }
                guard told.count < Self.maxTold else { return false }
                told[address] = now
                return true
            }
        }

        package init() { (rings, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1)) }

        func ring() { continuation.yield() }

        /// Hands `mail` to the queue's next round.
        func send(_ mail: Mail) {
            secrets.withLock { if $0.count < Self.maxSecrets { $0.append(mail) } }
            ring()
        }

        func takeSecrets() -> [Mail] {
            secrets.withLock { secrets in
                defer { secrets = [] }
                return secrets
            }
        }
    }

    /// How long a message is retried before it is dropped (and the drop logged), in seconds.
    static let giveUpAfter: Duration = .seconds(3 * 86400)
    /// The longest wait between two attempts, in seconds.
    static let longestDelay: Duration = .seconds(3600)
    /// Messages claimed and handed on at once (a round takes batch after batch until none is due): one,
    /// so that a claim covers one delivery and an instance that dies holds back one message, briefly.
    static let batch = 1
    /// How long a claim keeps a message from the other instances: longer than one delivery at the SMTP
    /// timeout (30 s) with its proof signed, so that only a claim whose instance died runs out; then
    /// another instance sends the message (at least once: the same Message-ID if it went twice).
    static let claimLength: Duration = .seconds(120)

    let storage: any HospitalStorage
    let sender: any CodeSender
    let doorbell: Doorbell
    /// Adds the proof of the entry a message tells of; nil: messages go without.
    let notary: AuditNotary?
    let interval: Duration
    let clock: @Sendable () -> Int64
    let logger: Logger

    /// - Parameter interval: Time between two rounds when nothing rings (retries, expired codes).
    package init(
        storage: any HospitalStorage, sender: any CodeSender, doorbell: Doorbell, notary: AuditNotary? = nil,
        interval: Duration = .seconds(30),
        clock: @escaping @Sendable () -> Int64, logger: Logger = Logger(label: "chainvault.mail")
    ) {
        self.storage = storage
        self.sender = sender
        self.doorbell = doorbell
        self.notary = notary
        self.interval = interval
        self.clock = clock
        self.logger = logger
    }

    package func run() async throws {
        let interval = self.interval
        await withTaskGroup(of: Void.self) { group in
            // The timer rings the same bell, so one loop serves both.
            group.addTask { [doorbell] in
                while (try? await Task.sleep(for: interval)) != nil { doorbell.ring() }
            }
            await cancelWhenGracefulShutdown {
                // A bell rung by a commit delivers; the outbox is swept at most once an interval, not
                // on every booking.
                var swept: Int64?
                doorbell.ring()  // a first round at start-up
                for await _ in doorbell.rings {
                    let now = clock()
                    let sweep = swept.map { now - $0 >= interval.components.seconds } ?? true
                    if sweep { swept = now }
                    await round(sweeping: sweep)
                }
            }
            group.cancelAll()
        }
    }

    /// Delivers what is due, then sweeps the outbox (unless `sweeping` is false); failures are logged and
    /// retried later.
    func round(sweeping: Bool = true) async {
        await deliverSecrets()
        do {
            try await deliverDue()
        } catch {
            logger.error("reading the mail queue failed", metadata: ["error": "\(error)"])
        }
        guard sweeping else { return }
        do {
            try await sweepOutbox()
        } catch {
            logger.error("sweeping the outbox failed", metadata: ["error": "\(error)"])
        }
    }

    /// Hands on the messages carrying a secret (``Doorbell/send(_:)``), once each: a reset link that cannot be
    /// sent is logged (without its address or link) and the person asks again.
    func deliverSecrets() async {
        for mail in doorbell.takeSecrets() {
            do {
                try await sender.deliver(mail)
            } catch {
                logger.error("a message with a link could not be sent", metadata: ["message": "\(mail.id)", "error": "\(error)"])
            }
        }
    }

    /// Hands every message that is due to the sender, one claim at a time: delivered ones leave the
    /// queue, failed ones wait 30 s, 1 min, 2 min … up to an hour, and are dropped after three days.
    /// - Returns: How many messages were tried.
    @discardableResult
    func deliverDue() async throws -> Int {
        var tried = 0
        while true {
            let claimed = try await deliverClaimed()
            guard claimed > 0 else { return tried }
            tried += claimed
        }
    }

    /// Claims the next ``batch`` messages that are due and hands them on; how many were claimed.
    private func deliverClaimed() async throws -> Int {
        let now = clock()
        // Claimed in a write, so that two instances (PostgreSQL) never hand on the same message; one that
        // dies holding a claim leaves its message to be sent when the claim runs out (at least once).
        let due = try await storage.write {
            try await $0.mail.claimDue(at: now, limit: Self.batch, until: now + Self.claimLength.wholeSeconds)
        }
        for message in due {
            do {
                var mail = message.mail
                if let entry = message.auditEntryId, let notary, let footer = await notary.footer(entry: entry) { mail.body += footer }
                try await sender.deliver(mail)
                try await storage.write { try await $0.mail.delete(message: message.id) }
            } catch {
                let attempts = message.attempts + 1
                if now - message.createdAt >= Self.giveUpAfter.wholeSeconds {
                    // Who it was for stays out of the log (an address is personal data): the kind and row say enough.
                    logger.error(
                        "dropped a message the mail server would not take for three days",
                        metadata: ["kind": "\(message.kind)", "message": "\(message.id)", "attempts": "\(attempts)", "error": "\(error)"])
                    try await storage.write { try await $0.mail.delete(message: message.id) }
                } else {
                    let delay = min(Self.longestDelay.wholeSeconds, 30 << min(attempts - 1, 10))
                    logger.warning(
                        "a message waits for the mail server",
                        metadata: ["kind": "\(message.kind)", "message": "\(message.id)", "attempts": "\(attempts)", "error": "\(error)"])
                    try await storage.write {
                        try await $0.mail.reschedule(message: message.id, attempts: attempts, nextAttemptAt: now + delay)
                    }
                }
            }
        }
        return due.count
    }

    /// Removes the sender's copies of codes, reset links and sign-up links that no longer work.
    func sweepOutbox() async throws {
        let now = clock()
        let live = try await storage.read { transaction in
            Set(try await transaction.consent.pendingRequestIds(at: now).map(CodeMessage.mailId(request:)))
                .union(
                    try await transaction.accounts.liveResetLinks(at: now).map {
                        Accounts.resetMailId(user: $0.userId, createdAt: $0.createdAt)
                    }
                )
                .union(try await transaction.accounts.waitingRegistrationIds(at: now).map(Accounts.activationMailId(registration:)))
        }
        try sender.discardSecrets { !live.contains($0) }
    }
}

/// A message in the queue.
package struct QueuedMail: Codable, Sendable {
    var id: Int64
    /// What it tells of (``Notices/Kind``), for its file name and the log.
    var kind: String
    var userId: Int64?
    var toName: String
    var toAddress: String
    var subject: String
    var body: String
    var createdAt: Int64
    var attempts: Int
    var nextAttemptAt: Int64
    /// The ledger entry the message tells of, whose proof it carries.
    var auditEntryId: Int64?

    /// The message, its id unique by row: `booked-12` is the outbox file `booked-12.eml`.
    var mail: Mail {
        Mail(id: "\(kind)-\(id)", toName: toName, toAddress: toAddress, subject: subject, body: body, date: createdAt)
    }
}
