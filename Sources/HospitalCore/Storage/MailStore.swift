/// The mail queue (``MailQueue``), as a ``HospitalTransaction`` reads and writes it.
package protocol MailStore: Sendable {
    /// Queues a message, due at once.
    func enqueue(_ message: QueuedMessage) async throws
    /// Claims the messages due at `time`, the longest-waiting first: they come back as they were, and are
    /// due again only at `until` (another instance, or this one after a crash, sends them then), unless
    /// delivered (``delete(message:)``) or rescheduled first. In a write transaction.
    func claimDue(at time: Int64, limit: Int, until: Int64) async throws -> [QueuedMail]
    /// Removes a message (delivered, or given up on).
    func delete(message id: Int64) async throws
    /// Counts a failed attempt and sets when the next one is due.
    func reschedule(message id: Int64, attempts: Int, nextAttemptAt: Int64) async throws
}

/// A message waiting in the mail queue, in its recipient's words.
package struct QueuedMessage: Sendable, Equatable {
    /// The notice it tells (``Notices/Kind``'s raw value).
    package var kind: String
    package var userId: Int64?
    package var toName: String
    package var toAddress: String
    package var subject: String
    package var body: String
    /// Seconds since 1970.
    package var createdAt: Int64
    /// The ledger entry it tells of: the message carries its proof.
    package var auditEntryId: Int64?
}
